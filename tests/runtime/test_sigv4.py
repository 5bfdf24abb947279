"""The `aws_sigv4` auth scheme: the AWS SigV4 test suite, botocore's own bedrock-runtime client, auth selection,
and the errors for a missing extra, missing credentials and a missing region.

Vectors are read in place from tests/recordings/sigv4/ (aws-c-auth's copy of the AWS suite; the openai-python
Bedrock auth-selection table). The clock is frozen by patching botocore's `get_current_datetime`, the one clock
its signer reads, so the scheme's output can be compared byte for byte.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote

import pytest

from vllora_llm.engine.errors import AuthenticationError
from vllora_llm.engine.gateway import ChatCompletionRequest
from vllora_llm.engine.registry import load_plan
from vllora_llm.engine.wire import AuthSpec, WireRequest
from vllora_llm.runtime.auth import scheme_for, select_auth
from vllora_llm.runtime.sigv4 import SigningCredentials

botocore_auth = pytest.importorskip("botocore.auth")

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
SIGV4 = ROOT / "tests" / "recordings" / "sigv4"
SUITE = SIGV4 / "aws-c-auth" / "v4"
CASES = sorted(p for p in SUITE.iterdir() if p.is_dir()) if SUITE.is_dir() else []

# What the suite asks that SigV4 for a non-S3 service (botocore's `SigV4Auth`, which Bedrock uses) does not do.
# Each is read from the case's own context.json, so no case is skipped by name.
NOT_THIS_SIGNER = {
    "normalize": (False, "asks for the path unnormalized (S3 style); non-S3 services normalize it"),
    "sign_body": (True, "asks for an x-amz-content-sha256 header (S3-style body signing)"),
    "omit_session_token": (True, "adds the session token after signing (a presigning style)"),
}


def frozen(timestamp: str) -> Any:
    when = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ")
    return mock.patch.object(botocore_auth, "get_current_datetime", return_value=when)


def env_for(credentials: dict[str, str]) -> dict[str, str]:
    env = {"AWS_ACCESS_KEY_ID": credentials["access_key_id"], "AWS_SECRET_ACCESS_KEY": credentials["secret_access_key"]}
    if credentials.get("token"):
        env["AWS_SESSION_TOKEN"] = credentials["token"]
    return env


def sign(wire: WireRequest, spec: AuthSpec, environ: dict[str, str], timestamp: str) -> WireRequest:
    scheme = scheme_for(spec)
    with frozen(timestamp):
        return scheme.apply(wire, spec, scheme.credentials(spec, None, environ))


def parse_request(text: str) -> tuple[str, str, dict[str, str], bytes]:
    """request.txt → (method, target, headers, body): repeated headers joined with ',' (one HTTP header then),
    continuation lines kept in the value; the body follows the blank line."""
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    first = lines[0]
    method = first.split(" ", 1)[0]
    target = first[len(method) + 1 : first.rindex(" HTTP/")]
    headers: dict[str, str] = {}
    last = ""
    for line in lines[1:]:
        if not line:
            continue
        if line[:1] in (" ", "\t"):
            headers[last] += "\n" + line
            continue
        name, value = line.split(":", 1)
        headers[name] = f"{headers[name]},{value}" if name in headers else value
        last = name
    return method, target, headers, body.encode()


def on_the_wire(target: str) -> str:
    """The target as an HTTP client sends it: the path as given (a signer encodes it), the query percent-encoded
    (a signer takes it as sent)."""
    path, _, query = target.partition("?")
    if not query:
        return path
    pairs = (pair.partition("=") for pair in query.split("&"))
    return path + "?" + "&".join(f"{quote(k, safe='-_.~%')}{s}{quote(v, safe='-_.~%')}" for k, s, v in pairs)


def signed_headers(path: Path) -> dict[str, str]:
    head = path.read_text().partition("\n\n")[0].split("\n")[1:]
    return {line.split(":", 1)[0].lower(): line.split(":", 1)[1] for line in head if ":" in line and line[0] != " "}


def applicable(case: Path) -> tuple[bool, str]:
    context = json.loads((case / "context.json").read_text())
    for flag, (value, reason) in NOT_THIS_SIGNER.items():
        if context.get(flag, not value) == value:
            return False, f"{flag}={value}: {reason}"
    return True, ""


SUITE_CASES = [pytest.param(c, id=c.name) for c in CASES if applicable(c)[0]]


def test_the_suite_is_there_and_mostly_applies() -> None:
    """The 10 cases left out ask for what botocore's non-S3 signer never does; each is named with its reason."""
    assert len(CASES) == 38, f"expected the 38 aws-c-auth v4 cases in {SUITE}"
    left_out = {c.name: applicable(c)[1] for c in CASES if not applicable(c)[0]}
    assert len(left_out) == 10, left_out
    assert all(reason.split(":")[0] in {f"{flag}={value}" for flag, (value, _) in NOT_THIS_SIGNER.items()}
               for reason in left_out.values())


@pytest.mark.parametrize("case", SUITE_CASES)
def test_aws_sigv4_suite(case: Path) -> None:
    """The signed request carries exactly the headers the suite prescribes (Authorization, X-Amz-Date, and the
    session token when there is one), with the suite's signature."""
    context = json.loads((case / "context.json").read_text())
    method, target, headers, body = parse_request((case / "request.txt").read_text())
    wire = WireRequest(method, f"https://{headers['Host']}{on_the_wire(target)}", headers, body)
    spec = AuthSpec("aws_sigv4", signing_name=context["service"], signing_region=context["region"])
    signed = sign(wire, spec, env_for(context["credentials"]), context["timestamp"])

    expected = signed_headers(case / "header-signed-request.txt")
    got = {k.lower(): v for k, v in signed.headers.items()}
    added = set(got) - {k.lower() for k in headers}
    assert added == set(expected) - {k.lower() for k in headers}
    for name in added:
        assert got[name] == expected[name], name
    assert got["authorization"].endswith((case / "header-signature.txt").read_text().strip())
    assert signed.url == wire.url and signed.body == wire.body  # signing only adds headers
    assert wire.headers == headers  # ...to a copy


# ---- botocore's own client, same inputs, same clock -----------------------------------------------------------

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
CREDS = {"access_key_id": "AKIDEXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
         "token": "FwoGZXIvYXdzEXAMPLEsessiontoken"}
NOW = "2024-05-01T10:20:30Z"


class Captured(Exception):
    """Raised from botocore's before-send hook: the request is captured, nothing is sent."""


def botocore_converse(operation: str, stream: bool) -> Any:
    """The request botocore's bedrock-runtime client signs for `operation` (captured before it is sent)."""
    import botocore.session

    session = botocore.session.get_session()
    client = session.create_client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id=CREDS["access_key_id"],
        aws_secret_access_key=CREDS["secret_access_key"], aws_session_token=CREDS["token"],
    )
    seen: list[Any] = []

    def capture(request: Any, **_: Any) -> None:
        seen.append(request)
        raise Captured

    client.meta.events.register("before-send.bedrock-runtime.*", capture)
    call = client.converse_stream if stream else client.converse
    with frozen(NOW), pytest.raises(Captured):
        call(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "Hello"}]}],
             inferenceConfig={"maxTokens": 64})
    return seen[0]


@pytest.mark.parametrize("stream", [False, True], ids=["converse", "converse-stream"])
def test_same_signature_as_botocore_for_the_same_request(stream: bool) -> None:
    """Same URL (model id percent-encoded by our plan as by botocore), same signed headers and body, same
    frozen clock → the same Authorization header, byte for byte."""
    theirs = botocore_converse("ConverseStream" if stream else "Converse", stream)
    plan = load_plan("bedrock").bind({"region": "us-east-1"}, {})
    ours, _ = plan.encode(ChatCompletionRequest.coerce(
        {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 64}), stream=stream)
    assert ours.url == theirs.url
    assert ours.url.endswith("/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/" + (
        "converse-stream" if stream else "converse"))
    assert json.loads(ours.body) == json.loads(theirs.body)

    authorization = theirs.headers["Authorization"].decode() if isinstance(
        theirs.headers["Authorization"], bytes) else theirs.headers["Authorization"]
    names = authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
    unsigned = {"authorization", "x-amz-date", "x-amz-security-token", "host"}
    same_inputs = WireRequest(ours.method, ours.url, {k: _text(v) for k, v in theirs.headers.items()
                                                      if k.lower() in names and k.lower() not in unsigned},
                              theirs.body)
    signed = sign(same_inputs, plan.auth, env_for(CREDS), NOW)
    assert signed.headers["Authorization"] == authorization
    assert signed.headers["X-Amz-Date"] == _text(theirs.headers["X-Amz-Date"])
    assert signed.headers["X-Amz-Security-Token"] == CREDS["token"]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def test_signing_a_rendered_request_covers_the_double_encoded_model_id() -> None:
    """The canonical URI of a Converse call encodes the model id's `%3A` again (`%253A`): botocore does it for
    every non-S3 service; the signature proves we sign the path we send."""
    plan = load_plan("bedrock").bind({"region": "us-west-2"}, {})
    request = ChatCompletionRequest.coerce({"model": MODEL, "messages": [{"role": "user", "content": "x"}]})
    wire, _ = plan.encode(request)
    signed = sign(wire, plan.auth, env_for(CREDS), NOW)
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="POST", url=wire.url, headers=dict(wire.headers), data=wire.body)
    request.context["timestamp"] = "20240501T102030Z"
    request.headers["X-Amz-Date"] = "20240501T102030Z"
    request.headers["X-Amz-Security-Token"] = CREDS["token"]
    signer = SigV4Auth(Credentials(CREDS["access_key_id"], CREDS["secret_access_key"], CREDS["token"]), "bedrock",
                       "us-west-2")
    assert "/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse\n" in signer.canonical_request(request)
    assert signed.headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-west-2/bedrock/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=")


# ---- which auth: the Bedrock auth-selection table ----------------------------------------------------------------


def selection_cases() -> Iterator[Any]:
    path = SIGV4 / "openai-python" / "bedrock_auth_selection_cases.json"
    for case in json.loads(path.read_text())["cases"]:
        if case["kind"] != "auth_selection":
            continue
        if set(case["given"]["explicit"]) - {"bearer"}:
            continue  # explicit AWS keys or a profile are not client arguments here (botocore's chain reads them)
        yield pytest.param(case, id=case["id"])


def test_the_selection_cases_left_out_are_only_explicit_aws_credentials() -> None:
    path = SIGV4 / "openai-python" / "bedrock_auth_selection_cases.json"
    cases = [c for c in json.loads(path.read_text())["cases"] if c["kind"] == "auth_selection"]
    left_out = [c["id"] for c in cases if set(c["given"]["explicit"]) - {"bearer"}]
    assert len(left_out) == 3 and len(cases) - len(left_out) == len(list(selection_cases()))


@pytest.mark.parametrize("case", list(selection_cases()))
def test_auth_selection(case: dict[str, Any]) -> None:
    """api_key= (explicit bearer) → bearer; AWS_BEARER_TOKEN_BEDROCK set and non-empty → bearer; else SigV4."""
    auth = load_plan("bedrock").auth
    chosen = select_auth(auth, case["given"]["explicit"].get("bearer"), case["given"]["environment"])
    assert {"bearer": "bearer", "sigv4": "aws_sigv4"}[case["expected"]["auth_mode"]] == chosen.scheme


# ---- errors ------------------------------------------------------------------------------------------------------


def test_without_botocore_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("botocore.auth", "botocore.awsrequest"):
        monkeypatch.setitem(sys.modules, name, None)  # `import botocore.auth` now raises ImportError
    auth = load_plan("bedrock").bind({"region": "us-east-1"}, {}).auth
    scheme = scheme_for(auth)
    with pytest.raises(AuthenticationError) as caught:
        scheme.apply(WireRequest("POST", "https://x/model/m/converse", {}, b"{}"), auth,
                     scheme.credentials(auth, None, env_for(CREDS)))
    text = str(caught.value)
    assert "\n" not in text
    assert "pip install 'vllora-llm[bedrock]'" in text
    assert "AWS_BEARER_TOKEN_BEDROCK" in text  # ...or the way that needs no extra


def test_botocore_is_not_imported_until_a_request_is_signed() -> None:
    code = (
        "import sys\n"
        "from vllora_llm.client import VlloraLLMClient\n"
        "VlloraLLMClient.from_provider('bedrock', region='us-east-1', environ={})\n"
        "VlloraLLMClient.from_provider('openai', api_key='k')\n"
        "assert 'botocore' not in sys.modules, 'botocore was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing for botocore's chain to find: no variables, empty config files, no instance metadata."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.usefixtures("no_aws_credentials")
def test_missing_credentials_name_what_was_looked_for() -> None:
    auth = load_plan("bedrock").bind({"region": "us-east-1"}, {}).auth
    scheme = scheme_for(auth)
    credentials = scheme.credentials(auth, None, {})
    assert isinstance(credentials, SigningCredentials)
    with pytest.raises(AuthenticationError) as caught:
        scheme.apply(WireRequest("POST", "https://x/model/m/converse", {}, b"{}"), auth, credentials)
    text = str(caught.value)
    for looked_for in ("AWS_ACCESS_KEY_ID", "env", "shared-credentials-file", "sso", "iam-role", "bedrock"):
        assert looked_for in text, looked_for
    assert "api_key=" in text and "AWS_BEARER_TOKEN_BEDROCK" in text


def test_missing_region_is_named() -> None:
    auth = load_plan("bedrock").bind({}, {}).auth  # no region= and no AWS_REGION / AWS_DEFAULT_REGION
    assert auth.signing_region == "{region}"
    scheme = scheme_for(auth)
    with pytest.raises(AuthenticationError, match=r"pass region= to the client"):
        scheme.apply(WireRequest("POST", "https://x/y", {}, b""), auth, scheme.credentials(auth, None, env_for(CREDS)))


def test_api_key_without_a_key_form_is_refused() -> None:
    spec = AuthSpec("aws_sigv4", signing_name="bedrock", signing_region="us-east-1")
    with pytest.raises(AuthenticationError, match="declares no API-key form"):
        scheme_for(spec).credentials(spec, "some-key", {})


def test_credentials_hide_their_secrets() -> None:
    spec = AuthSpec("aws_sigv4", signing_name="bedrock", signing_region="us-east-1")
    credentials = scheme_for(spec).credentials(spec, None, env_for(CREDS))
    assert CREDS["secret_access_key"] not in repr(credentials)
    assert CREDS["token"] not in repr(credentials)
    assert set(credentials.secrets()) == {CREDS["secret_access_key"], CREDS["token"]}
