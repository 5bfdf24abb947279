"""Malformed requests fail before any network call, as `InvalidRequestError` or `MappingError` naming the
field path. One table, run through the public API (whole and streamed) against the local provider server,
which must see no request at all; typed requests are checked like dicts (a Struct's constructor checks
nothing, so NaN or a bad URL set on one must still be caught)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from vllora_llm.engine.errors import InvalidRequestError, MappingError
from vllora_llm.engine.gateway import (
    ChatCompletionMessage,
    ChatCompletionRequest,
    ImageUrl,
    ImageUrlPart,
)
from vllora_llm.engine.registry import discover, load_plan
from vllora_llm.testing import LocalProviderServer

from ._support import client_for

USER = {"role": "user", "content": "hi"}


def req(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [USER], **fields}


def image(url: Any) -> dict[str, Any]:
    return req(messages=[{"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                                      {"type": "image_url", "image_url": {"url": url}}]}])


CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


@dataclass(frozen=True)
class Row:
    id: str
    request: Any
    """A dict, JSON text, or a callable building a typed request."""
    cls: type[InvalidRequestError]
    path: str | None
    message: str


ROWS = [
    Row("nan-temperature", req(temperature=math.nan), InvalidRequestError, "temperature", "expected 'float' >= 0.0"),
    Row("nan-temperature-typed", lambda: ChatCompletionRequest(
        model="m", messages=[ChatCompletionMessage.new_text("user", "hi")], temperature=math.nan),
        InvalidRequestError, "temperature", "expected 'float'"),
    Row("infinite-top-p", req(top_p=math.inf), InvalidRequestError, "top_p", "expected 'float' <= 1.0"),
    Row("temperature-out-of-range", req(temperature=2.5), InvalidRequestError, "temperature", "<= 2.0"),
    Row("max-tokens-zero", req(max_tokens=0), InvalidRequestError, "max_tokens", "expected 'int' >= 1"),
    Row("temperature-as-text", req(temperature="hot"), InvalidRequestError, "temperature",
        "expected 'float | null', got 'str'"),
    Row("content-wrong-type", req(messages=[{"role": "user", "content": 5}]), InvalidRequestError,
        "messages[0].content", "expected 'str | array | null', got 'int'"),
    Row("messages-not-a-list", req(messages="hi"), InvalidRequestError, "messages", "expected 'array'"),
    Row("model-missing", {"messages": [USER]}, InvalidRequestError, "model", "missing required field 'model'"),
    Row("unknown-field", req(temprature=1), InvalidRequestError, "temprature", "unknown field"),
    Row("unknown-role", req(messages=[{"role": "wizard", "content": "hi"}]), InvalidRequestError,
        "messages[0].role", "invalid enum value 'wizard'"),
    Row("unknown-role-typed", lambda: ChatCompletionRequest(
        model="m", messages=[ChatCompletionMessage(role="wizard", content="hi")]),  # type: ignore[arg-type]
        InvalidRequestError, "messages[0].role", "invalid enum value 'wizard'"),
    Row("unknown-content-part", req(messages=[{"role": "user", "content": [{"type": "video_url"}]}]),
        InvalidRequestError, "messages[0].content[0].type", "invalid value 'video_url'"),
    Row("image-url-not-a-url", image("a picture of a cat"), InvalidRequestError,
        "messages[0].content[1].image_url.url", "expected a URL"),
    Row("image-url-a-file-path", image("/tmp/cat.png"), InvalidRequestError,
        "messages[0].content[1].image_url.url", "expected a URL"),
    Row("image-url-not-a-string", image(5), InvalidRequestError, "messages[0].content[1].image_url.url",
        "expected 'str', got 'int'"),
    Row("image-url-typed", lambda: ChatCompletionRequest(model="m", messages=[ChatCompletionMessage(
        role="user", content=[ImageUrlPart(image_url=ImageUrl(url="cat.png"))])]), InvalidRequestError,
        "messages[0].content[0].image_url.url", "expected a URL"),
    Row("tool-choice-unknown", req(tool_choice="sometimes"), InvalidRequestError, "tool_choice",
        "invalid enum value 'sometimes'"),
    Row("stop-not-strings", req(stop=[1]), InvalidRequestError, "stop[0]", "expected 'str', got 'int'"),
    Row("json-text-truncated", '{"model": "m", "messages": [', InvalidRequestError, None, "truncated"),
    Row("not-a-request", [USER], InvalidRequestError, None, "expected a ChatCompletionRequest or a dict"),
    Row("dangling-tool-message", req(messages=[USER, {"role": "tool", "tool_call_id": "call_9", "content": "42"}]),
        MappingError, "messages[1].tool_call_id", "'call_9' answers no earlier assistant tool call"),
    Row("tool-message-answers-another-call", req(messages=[
        USER, {"role": "assistant", "tool_calls": [CALL]}, {"role": "tool", "tool_call_id": "call_2", "content": "x"},
    ]), MappingError, "messages[2].tool_call_id", "'call_2' answers no earlier assistant tool call"),
    Row("tool-message-before-its-call", req(messages=[
        USER, {"role": "tool", "tool_call_id": "call_1", "content": "x"}, {"role": "assistant", "tool_calls": [CALL]},
    ]), MappingError, "messages[1].tool_call_id", "answers no earlier assistant tool call"),
]


def build(request: Any) -> Any:
    return request() if isinstance(request, Callable) else request  # type: ignore[arg-type]


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
async def test_rejected_before_any_request(row: Row, stream: bool, server: LocalProviderServer) -> None:
    async with client_for(server) as client:
        with pytest.raises(InvalidRequestError) as info:
            if stream:
                await client.completions().create_stream(build(row.request))
            else:
                await client.completions().create(build(row.request))
    err = info.value
    assert type(err) is row.cls
    assert err.path == row.path
    assert row.message in str(err), str(err)
    assert f"{row.path or '<request>'}: " in str(err), str(err)
    assert server.requests == []


def test_a_valid_history_with_tool_results_maps() -> None:
    plan = load_plan("openai")
    ok = ChatCompletionRequest.coerce(req(messages=[
        USER, {"role": "assistant", "tool_calls": [CALL]}, {"role": "tool", "tool_call_id": "call_1", "content": "x"},
    ]))
    wire, _ = plan.encode(ok, base_url="http://127.0.0.1:9/v1")
    assert b'"tool_call_id":"call_1"' in wire.body


REQUIRING = sorted(
    name for name in discover()
    if ((load_plan(name).spec.get("messages") or {}).get("tool_results") or {}).get("require_call")
)


def test_openai_requires_a_matching_call() -> None:
    assert "openai" in REQUIRING


@pytest.mark.parametrize("provider", REQUIRING)
def test_every_spec_that_requires_a_call_rejects_a_dangling_tool_message(provider: str) -> None:
    plan = load_plan(provider)
    request = ChatCompletionRequest.coerce(req(messages=[USER, {"role": "tool", "tool_call_id": "x", "content": "1"}]))
    with pytest.raises(MappingError) as info:
        plan.encode(request, base_url="http://127.0.0.1:9/v1")
    assert info.value.path == "messages[1].tool_call_id"
    assert info.value.provider == provider
