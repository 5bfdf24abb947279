"""`vllora-llm spec render` and `spec transforms`: what a spec author reads, kept as syrupy snapshots.

Render prints the wire request (method, URL, headers with credentials redacted, JSON body) on stdout and
the mapping's warnings on stderr; a request the policy rejects exits 1, an unreadable request file exits 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from vllora_llm.engine.registry import clear_cache
from vllora_llm.tools.cli import main

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = "tests/tools/requests"
SECRET = "sk-test-0123456789abcdef-never-printed"

# request file, --stream, the warnings expected on stderr (in order)
CASES = [
    (
        "seed_table_all_fields.json",
        False,
        [
            "warning: n is not supported (one choice per request; n = 1 is accepted); it was not sent",
            "warning: provider_specific.top_k is not supported by openai; it was not sent",
            "warning: provider_specific.thinking is not supported by openai; it was not sent",
            "warning: provider_specific.additional_parameters is not supported by openai; it was not sent",
        ],
    ),
    ("tools.json", False, []),
    ("tools.json", True, []),
    ("image.json", False, []),
    (
        "reasoning_o3_mini.json",
        False,
        [
            "warning: temperature is not supported by OpenAI reasoning models; it was not sent",
        ],
    ),
    (
        "reasoning_o3_mini.json",
        True,
        [
            "warning: temperature is not supported by OpenAI reasoning models; it was not sent",
        ],
    ),
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(ROOT)
    for name in ("VLLORA_SPEC_PATH", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    clear_cache()
    yield
    clear_cache()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["spec", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("request_file", "stream", "warnings"),
    CASES,
    ids=[f"{c[0].removesuffix('.json')}{'-stream' if c[1] else ''}" for c in CASES],
)
def test_render(
    request_file: str, stream: bool, warnings: list[str], capsys: pytest.CaptureFixture[str], snapshot: object
) -> None:
    argv = ["render", "openai", f"{REQUESTS}/{request_file}", *(["--stream"] if stream else [])]
    code, out, err = run(capsys, *argv)
    assert code == 0
    assert err.splitlines() == warnings
    assert out == snapshot
    wire = json.loads(out)
    assert wire["headers"]["authorization"] == "<redacted>"
    assert SECRET not in out + err
    assert wire["body"].get("stream") is (True if stream else None)


def test_render_base_url_and_model_flags(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "render", "openai", f"{REQUESTS}/image.json", "--model", "gpt-4o", "--base-url", "http://127.0.0.1:9/v1"
    )
    wire = json.loads(out)
    assert code == 0
    assert wire["url"] == "http://127.0.0.1:9/v1/chat/completions"
    assert wire["body"]["model"] == "gpt-4o"


def test_render_never_prints_a_url_password(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "render", "ollama", f"{REQUESTS}/image.json", "--base-url",
                       "http://proxy-user:pw@127.0.0.1:9/v1")
    assert code == 0
    assert json.loads(out)["url"] == "http://proxy-user:[REDACTED]@127.0.0.1:9/v1/chat/completions"
    assert ":pw@" not in out


def test_policy_error_rejects_the_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "strict-proxy.yaml").write_text(
        "apiVersion: vllora.dev/v1\nkind: ProviderSpec\nmetadata: {name: strict-proxy, revision: 1}\n"
        "extends: openai\npolicy: {unsupported: error}\n"
    )
    monkeypatch.setenv("VLLORA_SPEC_PATH", str(tmp_path))
    clear_cache()
    code, out, err = run(capsys, "render", "strict-proxy", f"{REQUESTS}/seed_table_all_fields.json")
    assert code == 1
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "strict-proxy" in err
    assert "n: not supported (one choice per request; n = 1 is accepted)" in err
    # the same spec renders a request that only uses supported parameters
    code, out, err = run(capsys, "render", "strict-proxy", f"{REQUESTS}/tools.json")
    assert (code, err) == (0, "")
    assert json.loads(out)["url"] == "https://api.openai.com/v1/chat/completions"


def test_unknown_provider_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "render", "no-such-provider", f"{REQUESTS}/tools.json")
    assert (code, out) == (1, "")
    assert "no provider spec named 'no-such-provider'" in err


def test_request_outside_the_unified_shape_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    request = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hi"}], "temprature": 1}
    bad.write_text(json.dumps(request))
    code, out, err = run(capsys, "render", "openai", str(bad))
    assert (code, out) == (1, "")
    assert "temprature" in err


@pytest.mark.parametrize("content", ["{not json", None])
def test_unreadable_request_file_exits_2(
    content: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "request.json"
    if content is not None:
        path.write_text(content)
    code, out, err = run(capsys, "render", "openai", str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"error: cannot read {path}")


def test_transforms_listing(capsys: pytest.CaptureFixture[str], snapshot: object) -> None:
    from vllora_llm.engine.transforms import REGISTRY

    code, out, err = run(capsys, "transforms")
    assert (code, err) == (0, "")
    assert out == snapshot
    names = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert names == sorted(REGISTRY)


def test_a_request_that_says_stream_renders_the_streamed_call(
    capsys: pytest.CaptureFixture[str], snapshot: object
) -> None:
    code, out, err = run(capsys, "render", "openai", f"{REQUESTS}/stream_true.json")
    assert (code, err) == (0, "")
    assert out == snapshot
    wire = json.loads(out)
    assert wire["body"]["stream"] is True and wire["body"]["stream_options"] == {"include_usage": True}
    assert run(capsys, "render", "openai", f"{REQUESTS}/stream_true.json", "--stream")[1] == out


@pytest.fixture
def no_region(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"):
        monkeypatch.delenv(name, raising=False)


def test_bedrock_takes_the_region_on_the_command_line(
    no_region: None, capsys: pytest.CaptureFixture[str], snapshot: object
) -> None:
    request = f"{REQUESTS}/stream_true.json"
    argv = ["render", "bedrock", request, "--model", "anthropic.claude-3-5-sonnet-20240620-v1:0"]
    code, out, err = run(capsys, *argv)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "error: bedrock: the base URL https://bedrock-runtime.{region}.amazonaws.com needs {region} "
        "(pass region= to the client or set AWS_REGION or AWS_DEFAULT_REGION)",  # the provider named once
        "hint: fill the endpoint's placeholders with --region R",
    ]
    code, out, err = run(capsys, *argv, "--region", "eu-west-1")
    assert (code, err) == (0, "")
    assert out == snapshot
    assert json.loads(out)["url"] == (
        "https://bedrock-runtime.eu-west-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/"
        "converse-stream"
    )
    assert run(capsys, *argv, "--option", "region=eu-west-1")[1] == out


def test_any_declared_placeholder_is_an_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tiered.yaml").write_text(
        "apiVersion: vllora.dev/v1\nkind: ProviderSpec\nmetadata: {name: tiered, revision: 1}\nextends: openai\n"
        "endpoint:\n  base_url: 'https://{tier}.{zone}.llm.example/v1'\n  base_url_env: TIERED_BASE_URL\n"
        "  placeholders: {tier: {default: api}, zone: {env: TIERED_ZONE}}\n"
        "auth: {scheme: bearer, env: TIERED_API_KEY}\n"
    )
    monkeypatch.setenv("VLLORA_SPEC_PATH", str(tmp_path))
    monkeypatch.delenv("TIERED_ZONE", raising=False)
    clear_cache()
    request = f"{REQUESTS}/tools.json"
    code, out, err = run(capsys, "render", "tiered", request, "--option", "zone=eu", "--option", "tier=batch")
    assert (code, err) == (0, "")
    assert json.loads(out)["url"] == "https://batch.eu.llm.example/v1/chat/completions"
    code, out, err = run(capsys, "render", "tiered", request)
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == "hint: fill the endpoint's placeholders with --option zone=..."
    code, out, err = run(capsys, "render", "tiered", request, "--option", "colour=red")
    assert (code, out) == (1, "")
    assert "unknown endpoint option(s) colour (known: tier, zone)" in err
    code, out, err = run(capsys, "render", "tiered", request, "--option", "zone")
    assert (code, out) == (2, "")
    assert err.startswith("error: --option takes KEY=VALUE")


# provider, operation, request file, --model
OPERATION_CASES = [
    ("openai", "embeddings", "embeddings.json", None),
    ("gemini", "embeddings", "embeddings.json", "gemini-embedding-001"),
    ("bedrock", "embeddings", "embeddings.json", "amazon.titan-embed-text-v2:0"),
    ("bedrock", "embeddings", "embeddings.json", "cohere.embed-multilingual-v3"),
    ("openai", "images", "images.json", None),
    ("gemini", "images", "images.json", "imagen-4.0-generate-001"),
    ("bedrock", "images", "images.json", "amazon.nova-canvas-v1:0"),
    ("bedrock", "images", "images.json", "stability.sd3-5-large-v1:0"),
]


@pytest.mark.parametrize(
    ("provider", "operation", "request_file", "model"),
    OPERATION_CASES,
    ids=[f"{c[0]}-{c[1]}-{c[3] or 'default'}" for c in OPERATION_CASES],
)
def test_render_operation(
    provider: str, operation: str, request_file: str, model: str | None, capsys: pytest.CaptureFixture[str],
    snapshot: object, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    argv = ["render", provider, f"{REQUESTS}/{request_file}", "--operation", operation,
            *(["--model", model] if model else [])]
    code, out, err = run(capsys, *argv)
    assert code == 0
    assert (out, err) == snapshot
    calls = json.loads(out)
    calls = calls if isinstance(calls, list) else [calls]
    assert len(calls) == (2 if model == "amazon.titan-embed-text-v2:0" else 1)  # Titan: one call per input
    assert all(call["method"] == "POST" and "chat" not in call["url"] for call in calls)


def test_render_an_operation_the_provider_lacks(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "render", "anthropic", f"{REQUESTS}/embeddings.json", "--operation", "embeddings")
    assert (code, out) == (1, "")
    assert "anthropic has no embeddings operation" in err and "vllora-llm spec docs anthropic" in err


def test_render_a_native_responses_call_plain_and_streamed(capsys: pytest.CaptureFixture[str]) -> None:
    request = json.loads((Path(REQUESTS) / "responses.json").read_text())
    for extra, streamed in (((), False), (("--stream",), True)):
        code, out, err = run(capsys, "render", "openai", f"{REQUESTS}/responses.json", "--operation", "responses",
                             *extra)
        assert code == 0
        call = json.loads(out)
        assert (call["method"], call["url"]) == ("POST", "https://api.openai.com/v1/responses")
        expected = {k: v for k, v in request.items() if k != "provider_specific"}
        assert call["body"] == ({**expected, "stream": True} if streamed else expected)  # as given
        assert err == "warning: provider_specific.top_k is not supported by openai; it was not sent\n"
    code, out, err = run(capsys, "render", "anthropic", f"{REQUESTS}/responses.json", "--operation", "responses")
    assert (code, out) == (1, "") and "anthropic has no responses operation" in err


@pytest.mark.parametrize(("provider", "version", "model"), [("anthropic", "2026-10-21", "claude-sonnet-4-5"),
                                                            ("gemini", "v1", "gemini-2.5-flash")])
def test_render_another_api_version(
    capsys: pytest.CaptureFixture[str], snapshot: object, provider: str, version: str, model: str
) -> None:
    argv = ["render", provider, f"{REQUESTS}/stream_true.json", "--model", model]
    default = json.loads(run(capsys, *argv)[1])
    code, out, err = run(capsys, *argv, "--api-version", version)
    assert (code, "error" in err) == (0, False)
    assert out == snapshot
    chosen = json.loads(out)
    assert chosen["body"] == default["body"]  # these versions change how the call is addressed, not the body
    assert (chosen["url"], chosen["headers"]) != (default["url"], default["headers"])


def test_render_an_undeclared_api_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "render", "gemini", f"{REQUESTS}/stream_true.json", "--api-version", "v2")
    assert (code, out) == (1, "")
    assert "declares no API version 'v2' (declared: v1beta, v1)" in err
