"""The public client against the local provider server speaking the Anthropic Messages API, end to end.

The thinking round trip is the point: a response's reasoning_details (text + signature) go back in the next
request and the server, which checks signatures and block order the way the API does, must receive the
thinking block before the tool_use block with the exact signature. Then every recorded Anthropic stream in
tests/recordings/anthropic/ (in the repository) is replayed through the client in 1-byte, 7-byte and whole
writes and compared with an independent, naive reading of the recording; and errors keep their class, type
and request id.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.errors import InvalidRequestError, NotFoundError, ProviderError, StreamError
from vllora_llm.testing import Fault, LocalProviderServer, replay
from vllora_llm.tools.testing.wire_anthropic import signature_for
from vllora_llm.types.gateway import ChatCompletionMessage, ChatCompletionMessageWithFinishReason

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings" / "anthropic"
STREAMS = sorted(RECORDINGS.glob("stream_*.sse"))
SSE = "text/event-stream; charset=utf-8"
KEY = "sk-ant-test-key"
MODEL = "claude-sonnet-4-5"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
THINKING = {"thinking": {"type": "enabled", "budget_tokens": 1024}}


@pytest.fixture
async def client(server: LocalProviderServer) -> AsyncIterator[VlloraLLMClient]:
    async with VlloraLLMClient.from_provider(
        "anthropic", api_key=KEY, base_url=server.base_url_for("anthropic"), timeout=10
    ) as c:
        yield c


def ask(*messages: dict[str, Any] | ChatCompletionMessage, tools: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 4096,
        "messages": [m.to_dict() if isinstance(m, ChatCompletionMessage) else m for m in messages],
        "provider_specific": THINKING,
    }
    if tools:
        body["tools"] = [WEATHER]
    return body


USER = {"role": "user", "content": "What is the weather in Paris? Use get_weather."}


# ---- the thinking round trip ---------------------------------------------------------------------------------------


async def test_thinking_round_trip(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    first = await client.completions().create(ask(USER))
    sent = server.last_request
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.json["thinking"] == {"type": "enabled", "budget_tokens": 1024}

    message = first.message()
    assert first.finish_reason() == "tool_calls"
    assert message.tool_calls and message.tool_calls[0].function.name == "get_weather"
    assert json.loads(message.tool_calls[0].function.arguments) == {"city": "example"}
    [detail] = message.reasoning_details or []
    assert detail.type == "thinking" and detail.text and message.reasoning == detail.text
    assert detail.signature == signature_for(detail.text)

    call_id = message.tool_calls[0].id
    second = await client.completions().create(
        ask(USER, message, {"role": "tool", "tool_call_id": call_id, "content": "sunny, 21 C"})
    )
    assistant = server.last_request.json["messages"][1]
    assert assistant["role"] == "assistant"
    assert [block["type"] for block in assistant["content"]] == ["thinking", "tool_use"]
    assert assistant["content"][0] == {"type": "thinking", "thinking": detail.text, "signature": detail.signature}
    assert assistant["content"][1] == {"type": "tool_use", "id": call_id, "name": "get_weather",
                                       "input": {"city": "example"}}
    assert server.last_request.json["messages"][2] == {
        "role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": "sunny, 21 C"}]
    }
    assert second.finish_reason() == "stop"
    assert "sunny, 21 C" in second.text()
    assert second.message().reasoning_details and second.message().reasoning_details[0].signature


async def test_streamed_thinking_round_trip(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    """The message aggregated from a stream goes back as well as a whole response does."""
    async with client.completions().create_stream(ask(USER)) as stream:
        chunks = [chunk async for chunk in stream]
    assert server.last_request.json["stream"] is True
    assert any(c.choices and c.choices[0].delta.reasoning for c in chunks)
    first = stream.response
    message = first.message()
    [detail] = message.reasoning_details or []
    assert detail.signature == signature_for(detail.text or "")
    assert message.tool_calls and first.finish_reason() == "tool_calls"

    async with client.completions().create_stream(
        ask(USER, message, {"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": "rain"})
    ) as stream:
        async for _ in stream:
            pass
    assistant = server.last_request.json["messages"][1]
    assert assistant["content"][0] == {"type": "thinking", "thinking": detail.text, "signature": detail.signature}
    assert assistant["content"][1]["type"] == "tool_use"
    reply = stream.response
    assert reply.finish_reason() == "stop"
    assert reply.text() == "Hello from the local anthropic server! The tool returned: rain"
    assert reply.message().reasoning == "The tool answered: rain. I can reply now."
    assert reply.usage is not None and reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0


async def test_stream_gives_text_and_reasoning(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    async with client.completions().create_stream(ask({"role": "user", "content": "Say hi"}, tools=False)) as s:
        texts = [c.choices[0].delta.content async for c in s if c.choices and c.choices[0].delta.content]
    assert "".join(texts) == "Hello from the local anthropic server! You said: Say hi"
    response = s.response
    assert response.text() == "Hello from the local anthropic server! You said: Say hi"
    assert response.message().reasoning == "The user said: Say hi. I will answer briefly."
    assert response.finish_reason() == "stop"


async def test_the_server_checks_what_the_round_trip_relies_on(
    client: VlloraLLMClient, server: LocalProviderServer
) -> None:
    """A changed signature, or a thinking block left out before tool_use, is a 400 here as at the API; so the
    round trip above passing means the client really sent them back intact and in order."""
    first = (await client.completions().create(ask(USER))).message()
    assert first.tool_calls and first.reasoning_details
    result = {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": "sunny"}

    tampered = first.to_dict()
    tampered["reasoning_details"][0]["signature"] = "AAAA" + tampered["reasoning_details"][0]["signature"][4:]
    with pytest.raises(InvalidRequestError) as bad_signature:
        await client.completions().create(ask(USER, tampered, result))
    assert bad_signature.value.status == 400
    assert "signature" in str(bad_signature.value)

    stripped = {k: v for k, v in first.to_dict().items() if k not in ("reasoning_details", "reasoning")}
    with pytest.raises(InvalidRequestError) as no_thinking:
        await client.completions().create(ask(USER, stripped, result))
    assert "must start with a thinking block" in str(no_thinking.value)
    assert no_thinking.value.error_type == "invalid_request_error"


# ---- warnings, errors, retries ---------------------------------------------------------------------------------------


async def test_default_max_tokens_warning(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    response = await client.completions().create({"model": "claude-3-haiku-20240307",
                                                   "messages": [{"role": "user", "content": "hi"}]})
    assert server.last_request.json["max_tokens"] == 4096
    assert [(w.param, w.code) for w in response.warnings] == [("max_tokens", "default_applied")]


async def test_errors_keep_class_type_and_request_id(server: LocalProviderServer) -> None:
    async with VlloraLLMClient.from_provider(
        "anthropic", api_key=KEY, base_url=server.base_url_for("anthropic"), timeout=10, max_retries=0
    ) as client:
        server.faults.push(replay(RECORDINGS / "error_404_not_found.json", content_type="application/json",
                                  status=404))
        with pytest.raises(NotFoundError) as not_found:
            await client.completions().create(ask(USER))
        assert not_found.value.error_type == "not_found_error"
        assert not_found.value.request_id and not_found.value.request_id.startswith("req_local_")  # the header

        server.faults.push(Fault(status=529))
        with pytest.raises(ProviderError) as overloaded:
            await client.completions().create(ask(USER))
        assert overloaded.value.status == 529
        assert overloaded.value.error_type == "overloaded_error"
        assert overloaded.value.retryable is True


async def test_overloaded_is_retried(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(Fault(status=529))
    response = await client.completions().create(ask({"role": "user", "content": "hi"}, tools=False))
    assert response.finish_reason() == "stop"
    assert len(server.requests) == 2


async def test_stream_cut_before_message_stop_is_an_error(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(Fault(truncate_without_done=True))
    with pytest.raises(StreamError, match="truncated"):
        async with client.completions().create_stream(ask({"role": "user", "content": "hi"}, tools=False)) as s:
            async for _ in s:
                pass


# ---- recorded streams through the client ---------------------------------------------------------------------------


def expected_from_recording(path: Path) -> dict[str, Any]:
    """A deliberately naive reading of a recorded stream: the oracle the client is checked against."""
    text, reasoning, signatures, calls, finish, error = "", "", [], {}, None, None
    blocks: dict[int, str] = {}
    for line in path.read_text().splitlines():
        if not line.startswith("data:"):
            continue
        event = json.loads(line[5:])
        kind = event["type"]
        if kind == "content_block_start":
            block = event["content_block"]
            blocks[event["index"]] = block["type"]
            if block["type"] == "tool_use":
                calls[event["index"]] = {"id": block["id"], "name": block["name"], "arguments": ""}
        elif kind == "content_block_delta":
            delta = event["delta"]
            if delta["type"] == "text_delta":
                text += delta["text"]
            elif delta["type"] == "thinking_delta":
                reasoning += delta["thinking"]
            elif delta["type"] == "signature_delta":
                signatures.append(delta["signature"])
            elif delta["type"] == "input_json_delta" and blocks[event["index"]] == "tool_use":
                calls[event["index"]]["arguments"] += delta["partial_json"]
        elif kind == "message_delta":
            finish = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
                      "refusal": "content_filter"}[event["delta"]["stop_reason"]]
        elif kind == "error":
            error = event["error"]["type"]
    for call in calls.values():
        call["arguments"] = call["arguments"] or "{}"
    return {"text": text, "reasoning": reasoning, "signatures": signatures, "calls": list(calls.values()),
            "finish": finish, "error": error}


def summary(response: ChatCompletionMessageWithFinishReason) -> dict[str, Any]:
    message = response.message()
    return {
        "text": message.text(),
        "reasoning": message.reasoning or "",
        "signatures": [d.signature for d in message.reasoning_details or [] if d.signature],
        "calls": [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                  for c in message.tool_calls or []],
        "finish": response.finish_reason(),
        "error": None,
    }


def chunk_sizes(path: Path) -> list[int | None]:
    return [1, 7, None] if path.stat().st_size < 10_000 else [7, None]


CASES = [(p, size) for p in STREAMS for size in chunk_sizes(p)]


@pytest.mark.skipif(not STREAMS, reason=f"no recordings in {RECORDINGS}")
@pytest.mark.parametrize(("recording", "chunk_size"), CASES, ids=[f"{p.stem}-{size or 'whole'}" for p, size in CASES])
async def test_replayed_stream(
    client: VlloraLLMClient, server: LocalProviderServer, recording: Path, chunk_size: int | None
) -> None:
    expected = expected_from_recording(recording)
    server.faults.push(replay(recording, content_type=SSE, chunk_size=chunk_size))
    stream = client.completions().create_stream(ask({"role": "user", "content": "hi"}, tools=False))
    async with asyncio.timeout(20):
        if expected["error"]:
            with pytest.raises(StreamError) as caught:
                async for _ in stream:
                    pass
            assert caught.value.error_type == expected["error"]
            return
        async for _ in stream:
            pass
    assert summary(stream.response) == expected
