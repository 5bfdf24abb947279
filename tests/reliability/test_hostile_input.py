"""Hostile caller input and crafted specs: each row is an attack from issue 16 that used to end in a raw
exception (UnicodeEncodeError, RecursionError, ValueError, MemoryError), a request sent somewhere it should
not go, or seconds of CPU. Now each is a typed `LLMError` naming the field (or the spec's file:line),
raised quickly and before any connection opens: the local server must see no request at all."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.errors import InvalidRequestError, LLMError, MappingError, SpecError
from vllora_llm.engine.registry import clear_cache, load_plan
from vllora_llm.engine.routing import load_routing
from vllora_llm.testing import LocalProviderServer

from ._support import KEY

USER = {"role": "user", "content": "hi"}


def deep(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(levels):
        value = {"a": value}
    return value


def chained_defs(count: int) -> dict[str, Any]:
    """`count` definitions, each referencing the one before twice: 2 KB that inlines to 2**count nodes."""
    defs: dict[str, Any] = {"D0": {"type": "string"}}
    for i in range(1, count + 1):
        defs[f"D{i}"] = {"type": "object", "properties": {"a": {"$ref": f"#/$defs/D{i - 1}"},
                                                          "b": {"$ref": f"#/$defs/D{i - 1}"}}}
    return {"type": "object", "properties": {"x": {"$ref": f"#/$defs/D{count}"}}, "$defs": defs}


def req(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [USER], **fields}


@dataclass(frozen=True)
class Row:
    id: str
    request: dict[str, Any]
    cls: type[LLMError]
    path: str
    provider: str = "openai"
    client: dict[str, Any] = field(default_factory=dict)


CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "[" * 100_000 + "]" * 100_000}}

ROWS = [
    # finding 2: $ref inlining bounded by node count (was 62 MB in 41 s)
    Row("schema-refs-explode-response-format", req(model="gemini-2.0-flash", response_format={
        "type": "json_schema", "json_schema": {"name": "s", "schema": chained_defs(20)}}), MappingError,
        "response_format", "gemini"),
    Row("schema-refs-explode-tool", req(model="gemini-2.0-flash", tools=[{"type": "function", "function": {
        "name": "f", "parameters": chained_defs(30)}}]), MappingError, "tools", "gemini"),
    # finding 7: what cannot be encoded, caught before I/O with the field path
    Row("surrogate-in-content", req(messages=[{"role": "user", "content": "hi \ud800"}]), InvalidRequestError,
        "messages[0].content"),
    Row("surrogate-in-model", req(model="gpt-\udfff"), InvalidRequestError, "model"),
    Row("surrogate-in-logit-bias-key", req(logit_bias={"\ud83d": 1.0}), InvalidRequestError, "logit_bias"),
    Row("deep-extra-body", req(extra_body=deep(5000)), InvalidRequestError, "extra_body"),
    Row("no-json-form-in-extra-body", req(extra_body={"x": object()}), InvalidRequestError, "extra_body.x"),
    Row("deep-schema", req(response_format={"type": "json_schema", "json_schema": {
        "name": "s", "schema": deep(5000, {"type": "string"})}}), InvalidRequestError,
        "response_format.json_schema.schema"),
    Row("deep-tool-parameters", req(tools=[{"type": "function", "function": {"name": "f", "parameters": deep(5000)}}]),
        InvalidRequestError, "tools[0].function.parameters"),
    Row("deep-additional-parameters", req(model="anthropic.claude-3-5-sonnet-20240620-v1:0",
                                          provider_specific={"additional_parameters": deep(5000)}),
        InvalidRequestError, "provider_specific.additional_parameters", "bedrock", {"region": "us-east-1"}),
    Row("deep-tool-call-arguments", req(messages=[USER, {"role": "assistant", "tool_calls": [CALL]},
                                                  {"role": "tool", "tool_call_id": "c1", "content": "ok"}],
                                        model="claude-sonnet-4-5"),
        InvalidRequestError, "messages[1].tool_calls[0].function.arguments", "anthropic"),
    Row("crlf-in-header", req(), InvalidRequestError, "headers['x-trace']",
        client={"headers": {"x-trace": "a\r\nx-injected: 1"}}),
    Row("crlf-in-api-key", req(), InvalidRequestError, "api_key", client={"api_key": "sk-abcdefgh\r\nx: y"}),
    # HTTP field values hold no control character but tab (RFC 9110 5.5; aiohttp raises a bare ValueError)
    Row("control-char-in-header", req(), InvalidRequestError, "headers['x-trace']",
        client={"headers": {"x-trace": "\x1f"}}),
    Row("control-char-in-api-key", req(), InvalidRequestError, "api_key", client={"api_key": "sk-abcdefgh\x7fkey"}),
    Row("userinfo-on-bearer-provider", req(), InvalidRequestError, "base_url",
        client={"base_url": "http://user:hunter2secret@127.0.0.1:9/v1"}),
    # finding 11: model ids that would change the URL path
    Row("model-dot-dot", req(model=".."), MappingError, "model", "bedrock", {"region": "us-east-1"}),
    Row("model-dot", req(model="."), MappingError, "model", "bedrock", {"region": "us-east-1"}),
    Row("model-empty", req(model=""), MappingError, "model", "gemini"),
    # finding 12: base_url validated
    Row("base-url-with-space", req(), InvalidRequestError, "base_url", client={"base_url": "http://127.0.0.1:9/v 1"}),
    Row("base-url-not-http", req(), InvalidRequestError, "base_url", client={"base_url": "file:///etc/passwd"}),
    Row("base-url-no-host", req(), InvalidRequestError, "base_url", client={"base_url": "http:///v1"}),
    Row("base-url-control-char", req(), InvalidRequestError, "base_url",
        client={"base_url": "http://127.0.0.1:9/\x00v1"}),
]


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
async def test_hostile_request_is_a_typed_error_before_any_io(
    row: Row, stream: bool, server: LocalProviderServer
) -> None:
    options = {"api_key": KEY, "base_url": server.base_url_for(row.provider), **row.client}
    started = time.perf_counter()
    with pytest.raises(LLMError) as info:
        async with VlloraLLMClient.from_provider(row.provider, **options) as client:
            if stream:
                async for _ in client.completions().create_stream(row.request):
                    pass
            else:
                await client.completions().create(row.request)
    err = info.value
    assert type(err) is row.cls, repr(err)
    assert str(err).split(": ", 1)[-1].startswith(row.path) or row.path in str(err), str(err)
    assert time.perf_counter() - started < 2.0
    assert server.requests == []  # nothing reached the network
    assert KEY not in str(err) and "hunter2secret" not in str(err) and "abcdefgh" not in str(err)


def test_a_schema_with_shared_definitions_still_inlines() -> None:
    """The limit is on what inlining produces: a schema with a few shared definitions still maps."""
    plan = load_plan("gemini")
    from vllora_llm.engine.gateway import ChatCompletionRequest

    request = ChatCompletionRequest.coerce(req(model="gemini-2.0-flash", response_format={
        "type": "json_schema", "json_schema": {"name": "s", "schema": chained_defs(8)}}))
    wire, _ = plan.encode(request, base_url="http://x")
    assert b"$ref" not in wire.body and len(wire.body) > 2**8


# ---- crafted specs and models.yaml (findings 9, 10, 13) ------------------------------------------------------

HEAD = "apiVersion: vllora.dev/v1\nkind: ProviderSpec\nextends: openai\nmetadata: {name: evil, revision: 1}\n"


def laughs(levels: int = 9) -> str:
    text = "x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i in range(1, levels + 1):
        text += f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n"
    return text


SPECS: list[tuple[str, str, str]] = [
    ("alias-bomb", HEAD + laughs(), "expands to more than"),
    ("template-900-deep", HEAD + "response:\n  message:\n    content: " + "{a: " * 900 + "x" + "}" * 900 + "\n",
     "nests deeper than"),
    ("exponential-regex", HEAD + "params:\n  user: {transform: {name: drop_matching, args: "
     "{pattern: '^(a+)+$', reason: is all a}}}\n", "nests a quantifier"),
]


@pytest.mark.parametrize(("name", "text", "says"), SPECS, ids=[s[0] for s in SPECS])
def test_a_crafted_spec_is_a_spec_error_with_file_and_line(
    name: str, text: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLLORA_SPEC_CACHE", "off")
    (tmp_path / "evil.yaml").write_text(text)
    clear_cache()
    started = time.perf_counter()
    try:
        with pytest.raises(SpecError) as info:
            load_plan("evil", [tmp_path])
    finally:
        clear_cache()
    assert time.perf_counter() - started < 3.0
    assert "evil.yaml:" in str(info.value) and says in str(info.value), str(info.value)


def test_an_alias_bomb_in_models_yaml_is_a_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(laughs() + "models: []\n")
    started = time.perf_counter()
    with pytest.raises(SpecError) as info:
        load_routing(str(path))
    assert time.perf_counter() - started < 3.0
    assert "models.yaml:" in str(info.value) and "expands to more than" in str(info.value)


def test_a_spec_regex_only_sees_a_bounded_prefix_of_caller_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`a*b` is quadratic when searched (not refused: 1.2 s on 30,000 characters); on 1 MB of input it costs
    milliseconds, because a pattern sees at most MAX_REGEX_INPUT characters."""
    monkeypatch.setenv("VLLORA_SPEC_CACHE", "off")
    (tmp_path / "evil.yaml").write_text(
        HEAD + "params:\n  user: {transform: {name: drop_matching, args: {pattern: 'a*b', reason: r}}}\n")
    clear_cache()
    try:
        plan = load_plan("evil", [tmp_path])
    finally:
        clear_cache()
    from vllora_llm.engine.gateway import ChatCompletionRequest

    request = ChatCompletionRequest.coerce(req(user="a" * 1_000_000 + "b"))
    started = time.perf_counter()
    _, warnings = plan.encode(request, base_url="http://x")
    assert time.perf_counter() - started < 3.0
    assert not warnings  # the `b` lies beyond the prefix a pattern sees: the value is sent

