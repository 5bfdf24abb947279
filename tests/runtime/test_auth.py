"""Auth schemes, key resolution, and the rule that a key never shows in an error, a repr or a log line."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.errors import AuthenticationError, ConnectionError, LLMError, ProviderError
from vllora_llm.engine.wire import AuthSpec, WireRequest
from vllora_llm.runtime.auth import (
    AUTH_SCHEMES,
    Credentials,
    redact,
    redact_error,
    register_auth_scheme,
    resolve_credentials,
    scheme_for,
)
from vllora_llm.testing import Fault, LocalProviderServer

KEY = "sk-test-SECRET/key+1"  # '/' and '+' change under URL encoding: both forms must be redacted


def wire() -> WireRequest:
    return WireRequest("POST", "https://api.example/v1/chat?x=1", {"content-type": "application/json"}, b"{}")


@pytest.mark.parametrize(
    ("spec", "header", "url"),
    [
        (AuthSpec("bearer"), ("authorization", f"Bearer {KEY}"), None),
        (AuthSpec("header", name="x-api-key"), ("x-api-key", KEY), None),
        (AuthSpec("header", name="api-key", prefix="Token "), ("api-key", f"Token {KEY}"), None),
        (AuthSpec("query", name="key"), None, "https://api.example/v1/chat?x=1&key=sk-test-SECRET%2Fkey%2B1"),
        (AuthSpec("none"), None, None),
    ],
    ids=["bearer", "header", "header-prefix", "query", "none"],
)
def test_schemes_apply(spec: AuthSpec, header: tuple[str, str] | None, url: str | None) -> None:
    original = wire()
    out = scheme_for(spec).apply(original, spec, Credentials(KEY))
    assert original == wire()  # the plan's request is not mutated
    expected_headers = dict(original.headers)
    if header:
        expected_headers[header[0]] = header[1]
    assert out.headers == expected_headers
    assert out.url == (url or original.url)


def test_key_resolution_order() -> None:
    spec = AuthSpec("bearer", env=("FIRST_KEY", "SECOND_KEY"))
    env = {"FIRST_KEY": "", "SECOND_KEY": "from-second"}
    assert resolve_credentials(spec, "explicit", env).key == "explicit"
    assert resolve_credentials(spec, None, env).key == "from-second"  # empty counts as unset
    assert resolve_credentials(spec, None, {**env, "FIRST_KEY": "from-first"}).key == "from-first"
    assert resolve_credentials(AuthSpec("none"), None, {}).key is None


def test_missing_key_names_the_env_vars() -> None:
    with pytest.raises(AuthenticationError) as info:
        resolve_credentials(AuthSpec("bearer", env=("ACME_API_KEY",)), None, {}, provider="acme")
    assert str(info.value) == "acme: no API key: pass api_key= or set ACME_API_KEY"
    with pytest.raises(AuthenticationError, match="set A_KEY or B_KEY"):
        resolve_credentials(AuthSpec("header", name="k", env=("A_KEY", "B_KEY")), None, {})


def test_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(AuthenticationError, match=r"unknown auth scheme .magic.*bearer, header, none, query"):
        scheme_for(AuthSpec("magic"))


def test_register_scheme() -> None:
    class Signed:
        def credentials(self, spec: AuthSpec, api_key: str | None, environ: object) -> Credentials:
            return Credentials("id", {"secret": "s3cr3t"})

        def apply(self, wire: WireRequest, spec: AuthSpec, credentials: Credentials) -> WireRequest:
            return WireRequest(wire.method, wire.url, {**wire.headers, "x-signed": "yes"}, wire.body)

    register_auth_scheme("signed_test", Signed())
    try:
        spec = AuthSpec("signed_test")
        creds = resolve_credentials(spec, None, {})
        assert creds.secrets() == ("id", "s3cr3t")
        assert scheme_for(spec).apply(wire(), spec, creds).headers["x-signed"] == "yes"
    finally:
        del AUTH_SCHEMES["signed_test"]


def test_redact_and_repr() -> None:
    text = f"bad key {KEY} in https://x/?key=sk-test-SECRET%2Fkey%2B1 and sk-test-SECRET/key%2B1"
    assert KEY not in redact(text, [KEY])
    assert "SECRET" not in redact(text, [KEY])
    assert redact("nothing", ["", KEY]) == "nothing"
    creds = Credentials(KEY, {"token": "tok-SECRET"})
    assert "SECRET" not in repr(creds)
    assert "SECRET" not in str(creds)
    err = redact_error(ProviderError(f"key {KEY} rejected", body=f'{{"k": "{KEY}"}}'.encode()), [KEY])
    assert KEY not in str(err) and KEY not in repr(err) and KEY not in str(err.body)
    assert err.args == ("key [REDACTED] rejected",)
    structured = redact_error(ProviderError("x", body={"echo": KEY}), [KEY])
    assert KEY not in repr(structured.body)


# ---- through the real client ---------------------------------------------------------------------------


def spec_dir(folder: Path, auth: str) -> Path:
    """A folder holding `acme.yaml`: the OpenAI spec with another auth scheme (specs are data)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "acme.yaml").write_text(
        "apiVersion: vllora.dev/v1\nkind: ProviderSpec\nextends: openai\n"
        f"metadata: {{name: acme, revision: 1}}\nauth: {auth}\n"
    )
    return folder


REQUEST = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def assert_no_secret(err: LLMError, caplog: pytest.LogCaptureFixture) -> None:
    for text in (str(err), repr(err), err.message, repr(err.body), *map(str, err.args)):
        assert "SECRET" not in text, text
    for record in caplog.records:
        assert "SECRET" not in record.getMessage(), record.getMessage()


async def test_header_and_query_schemes_reach_the_server(server: LocalProviderServer, tmp_path: Path) -> None:
    for name, auth, check in [
        ("header", "{scheme: header, name: x-api-key}", lambda r: r.headers["x-api-key"] == KEY),
        ("query", "{scheme: query, name: key}", lambda r: r.query["key"] == KEY),
    ]:
        folder = spec_dir(tmp_path / name, auth)
        async with VlloraLLMClient.from_provider(
            "acme", api_key=KEY, base_url=server.openai_base_url, spec_path=[folder], max_retries=0
        ) as client:
            with pytest.raises(AuthenticationError):  # the local server wants a Bearer key
                await client.completions().create(REQUEST)
        recorded = server.last_request
        assert check(recorded)
        assert "authorization" not in recorded.headers


async def test_key_from_env_and_user_agent(server: LocalProviderServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    async with VlloraLLMClient.from_provider(
        "openai", base_url=server.openai_base_url, headers={"X-Team": "a", "User-Agent": "mine/1"}
    ) as client:
        await client.completions().create(REQUEST)
    headers = server.last_request.headers
    assert headers["authorization"] == "Bearer sk-from-env"
    assert headers["x-team"] == "a"
    assert headers["user-agent"] == "mine/1"  # the caller's headers win over ours


async def test_missing_key_fails_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(AuthenticationError, match="pass api_key= or set OPENAI_API_KEY"):
        VlloraLLMClient.from_provider("openai", base_url="http://127.0.0.1:9/v1")


async def test_key_never_in_errors_or_logs(server: LocalProviderServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echo = {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}}
    server.faults.push(Fault(status=500, body={"error": {"message": f"boom {KEY}"}}), Fault(status=401, body=echo))
    async with VlloraLLMClient.from_provider(
        "openai", api_key=KEY, base_url=server.openai_base_url, backoff_base=0.001
    ) as client:
        assert KEY not in repr(client) and KEY not in repr(client.instance)
        with pytest.raises(AuthenticationError) as info:
            await client.completions().create(REQUEST)
        assert "[REDACTED]" in str(info.value)
        assert_no_secret(info.value, caplog)
        server.faults.push(Fault(status=401, body=echo))
        with pytest.raises(AuthenticationError) as info:
            await client.completions().create_stream(REQUEST)
        assert_no_secret(info.value, caplog)
    assert any("retrying" in r.getMessage() for r in caplog.records)  # the 500 was retried, and logged


async def test_key_in_query_not_in_connection_errors(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
        async with VlloraLLMClient.from_provider(
            "acme",
            api_key=KEY,
            base_url=base,
            spec_path=[spec_dir(tmp_path, "{scheme: query, name: key}")],
            max_retries=1,
            backoff_base=0.001,
        ) as client:
            with pytest.raises(ConnectionError) as info:
                await client.completions().create(REQUEST)
    assert info.value.attempts == 2
    assert_no_secret(info.value, caplog)
