"""Mistral reasoning answers through the public client, over real HTTP to the local server (issue #22).

Magistral (and `reasoning_effort: high`) answers give `content` as typed chunks, thinking then text, in the
response and in stream deltas (the recorded payloads, replayed): they come out as `reasoning` and text, and the
reasoning goes back on the next turn as a thinking chunk before the text. Parallel tool calls streamed in one
chunk without `index` get distinct indexes on the chunks themselves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.error import ProviderError
from vllora_llm.testing import LocalProviderServer, replay

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings" / "mistral"
QUESTION = {"role": "user", "content": "How do I cross the river?"}


def client_for(server: LocalProviderServer) -> VlloraLLMClient:
    return VlloraLLMClient.from_provider("mistral", api_key="k", base_url=server.openai_base_url, timeout=10)


async def test_thinking_chunks_are_reasoning_and_go_back_as_a_thinking_chunk(server: LocalProviderServer) -> None:
    server.faults.push(replay(RECORDINGS / "response_magistral_thinking.json", content_type="application/json"))
    request = {"model": "magistral-medium-latest", "messages": [QUESTION]}
    async with client_for(server) as client:
        first = await client.completions().create(request)
        message = first.message()
        assert message.text().startswith("Crossing a river is quite different")
        assert message.reasoning is not None and message.reasoning.startswith("**Analogizing crossing a river**")
        history = [QUESTION, message.to_dict(), {"role": "user", "content": "And a lake?"}]
        await client.completions().create({**request, "messages": history})
    assistant = server.last_request.json["messages"][1]
    assert assistant == {"role": "assistant", "content": [
        {"type": "thinking", "thinking": [{"type": "text", "text": message.reasoning}], "closed": True},
        {"type": "text", "text": message.text()}]}


async def test_streamed_thinking_chunks_are_reasoning_deltas(server: LocalProviderServer) -> None:
    recording = RECORDINGS / "stream_magistral_thinking_excerpt.sse"
    server.faults.push(replay(recording, content_type="text/event-stream; charset=utf-8"))
    async with client_for(server) as client:
        stream = client.completions().create_stream({"model": "magistral-medium-latest", "messages": [QUESTION]})
        deltas = [choice.delta async for chunk in stream for choice in chunk.choices]
    assert "".join(d.reasoning or "" for d in deltas) == "Okay, the user is asking how to cross the street."
    assert all(isinstance(d.content, str) or d.content is None for d in deltas)
    assert stream.response.text().endswith("feel free to share!")
    assert stream.response.message().reasoning == "Okay, the user is asking how to cross the street."


def _call(ident: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": ident, "function": {"name": name, "arguments": arguments}}   # no index, as Mistral sends them


def _event(delta: dict[str, Any], finish: str | None = None) -> bytes:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "mistral-large-latest",
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


PARALLEL = (  # hand-written in Mistral's shape: two calls in one delta, then a third, none with an index
    _event({"role": "assistant", "content": "", "tool_calls": [
        _call("Aa1Bb2Cc3", "get_weather", '{"city": "Paris"}'), _call("Dd4Ee5Ff6", "get_time", '{"zone": "CET"}')]})
    + _event({"tool_calls": [_call("Gg7Hh8Ii9", "get_weather", '{"city": "Rome"}')]}, "tool_calls")
    + b"data: [DONE]\n\n"
)


async def test_parallel_tool_calls_without_index_get_distinct_indexes(server: LocalProviderServer) -> None:
    server.faults.push(replay(PARALLEL, content_type="text/event-stream"))
    async with client_for(server) as client:
        stream = client.completions().create_stream({"model": "mistral-large-latest", "messages": [QUESTION]})
        pieces = [(call.index, call.id) async for chunk in stream for choice in chunk.choices
                  for call in choice.delta.tool_calls or ()]
    assert pieces == [(0, "Aa1Bb2Cc3"), (1, "Dd4Ee5Ff6"), (2, "Gg7Hh8Ii9")]
    calls = stream.response.message().tool_calls or []
    assert [(c.function.name, c.function.arguments) for c in calls] == [
        ("get_weather", '{"city": "Paris"}'), ("get_time", '{"zone": "CET"}'), ("get_weather", '{"city": "Rome"}')]


TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
THINK_THEN_CALL = {  # hand-written in Mistral's reasoning shape: a thinking chunk, then a tool call
    "id": "r1", "object": "chat.completion", "created": 1, "model": "mistral-medium-3-5",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "tool_calls": [{"id": "Aa1Bb2Cc3", "type": "function", "function": {
            "name": "get_weather", "arguments": '{"city": "Paris"}'}}],
        "content": [{"type": "thinking", "thinking": [{"type": "text", "text": "I need the weather first."}]}]}}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21},
}


async def test_a_tool_loop_with_thinking_needs_no_caller_work(server: LocalProviderServer) -> None:
    server.faults.push(replay(json.dumps(THINK_THEN_CALL).encode(), content_type="application/json"))
    question = {"role": "user", "content": "Weather in Paris?"}
    request = {"model": "mistral-medium-3-5", "tools": [TOOL], "messages": [question],
               "provider_specific": {"thinking": {"type": "enabled"}}}
    async with client_for(server) as client:
        first = await client.completions().create(request)
        assert server.last_request.json["reasoning_effort"] == "high"
        message = first.message()
        assert message.reasoning == "I need the weather first." and message.content is None
        assert first.finish_reason() == "tool_calls"
        history = [question, message.to_dict(), {"role": "tool", "tool_call_id": "Aa1Bb2Cc3", "content": "sunny"}]
        final = await client.completions().create({**request, "messages": history})
    assert "sunny" in final.text()   # the local server answers a conversation that ends with tool results
    assistant = server.last_request.json["messages"][1]
    assert assistant["content"] == [
        {"type": "thinking", "thinking": [{"type": "text", "text": "I need the weather first."}], "closed": True}]
    assert assistant["tool_calls"][0]["id"] == "Aa1Bb2Cc3"
    assert "reasoning" not in assistant and "reasoning_details" not in assistant



async def test_a_thinking_chunk_of_another_shape_is_skipped_and_the_answer_kept(server: LocalProviderServer) -> None:
    body = {"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": [{
        "index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "not a list"}, {"type": "text", "text": "Answer"}]}}]}
    server.faults.push(replay(json.dumps(body).encode(), content_type="application/json"))
    async with client_for(server) as client:
        response = await client.completions().create({"model": "m", "messages": [QUESTION]})
    assert response.text() == "Answer" and response.message().reasoning is None


async def test_a_body_of_another_shape_is_a_typed_error(server: LocalProviderServer) -> None:
    body = {"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": [{
        "index": "first", "finish_reason": "stop", "message": {"role": "assistant", "content": [
            {"type": "text", "text": "Answer"}]}}]}   # the index is no int
    server.faults.push(replay(json.dumps(body).encode(), content_type="application/json"))
    async with client_for(server) as client:
        with pytest.raises(ProviderError, match="chat-completion shape"):
            await client.completions().create({"model": "m", "messages": [QUESTION]})
