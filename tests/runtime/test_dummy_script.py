"""`DummyModelInstance(script=[...])`: scripted assistant turns (text, tool calls) for an app's unit tests,
used in order by `create()` and `create_stream()`, through the public client API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vllora_llm.client import DummyModelInstance, VlloraLLMClient
from vllora_llm.error import InvalidRequestError, LLMError
from vllora_llm.types.gateway import ChatCompletionMessage, ToolCall

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def weather(city: str) -> str:
    return f"sunny in {city}"


async def run_tool_loop(client: VlloraLLMClient, question: str, *, stream: bool) -> tuple[str, int]:
    """A small app: ask, run every tool the model calls, ask again, until it answers in text."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
    rounds = 0
    while True:
        rounds += 1
        request = {"model": "m", "messages": messages, "tools": [WEATHER]}
        if stream:
            async with client.completions().create_stream(request) as chunks:
                async for _ in chunks:
                    pass
            message = chunks.aggregate().message()
        else:
            message = (await client.completions().create(request)).message()
        if not message.tool_calls:
            return message.text(), rounds
        messages.append(message.to_dict())
        for call in message.tool_calls:
            result = weather(**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})


@pytest.mark.parametrize("stream", [False, True])
async def test_a_scripted_tool_loop(stream: bool) -> None:
    dummy = DummyModelInstance(script=[
        DummyModelInstance.tool_call("get_weather", {"city": "Paris"}),
        "It is sunny in Paris.",
    ])
    client = VlloraLLMClient.new_with_instance(dummy)
    answer, rounds = await run_tool_loop(client, "Weather in Paris?", stream=stream)
    assert (answer, rounds, dummy.remaining) == ("It is sunny in Paris.", 2, 0)
    second = dummy.requests[1].messages
    assert [m.role for m in second] == ["user", "assistant", "tool"]
    assert second[1].tool_calls and second[1].tool_calls[0].id == second[2].tool_call_id == "call_dummy_0_0"
    assert second[2].text() == "sunny in Paris"


async def test_create_and_create_stream_share_one_order() -> None:
    dummy = DummyModelInstance(script=["one", {"content": "two"}, ChatCompletionMessage(role="assistant",
                                                                                       content="three")])
    client = VlloraLLMClient.new_with_instance(dummy)
    request = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    first = await client.completions().create(request)
    async with client.completions().create_stream(request) as stream:
        pieces = [c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content]
    third = await client.completions().create(request)
    assert (first.text(), "".join(pieces), third.text()) == ("one", "two", "three")
    assert first.finish_reason() == "stop" and dummy.remaining == 0
    with pytest.raises(LLMError, match="3 replies are used up"):
        await client.completions().create(request)


async def test_streamed_tool_calls_arrive_in_pieces_by_index() -> None:
    calls = [DummyModelInstance.tool_call("a", {"x": "a long enough value"}, id="c1"),
             DummyModelInstance.tool_call("b", '{"y":2}')]
    dummy = DummyModelInstance(script=[{"content": "Let me check.", "tool_calls": [
        {"id": "d1", "function": {"name": "lookup", "arguments": {"q": "cats"}}}]}, calls])
    client = VlloraLLMClient.new_with_instance(dummy)
    request = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    first = (await client.completions().create(request)).message()
    assert first.text() == "Let me check." and first.tool_calls
    assert (first.tool_calls[0].id, first.tool_calls[0].function.arguments) == ("d1", '{"q":"cats"}')

    async with client.completions().create_stream(request) as stream:
        chunks = [chunk async for chunk in stream]
    deltas = [d for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or ()]
    assert len(deltas) > 4  # id and name first, then the arguments in pieces
    assert [(d.index, d.id, d.function and d.function.name) for d in deltas if d.id] == [(0, "c1", "a"),
                                                                                        (1, "call_dummy_1_1", "b")]
    aggregated = stream.aggregate()
    assert aggregated.finish_reason() == "tool_calls"
    assert [(c.function.name, json.loads(c.function.arguments)) for c in aggregated.message().tool_calls or ()] == [
        ("a", {"x": "a long enough value"}), ("b", {"y": 2})]
    assert calls[1].id == ""  # the caller's ToolCall was not changed


@pytest.mark.parametrize(("step", "where"), [
    (42, "script[1]: expected text"),
    ({"tool_calls": [{"function": {"arguments": "{}"}}]}, "script[1].tool_calls[0].function"),
    ({"role": "user", "content": "x"}, "script[1].role"),
])
def test_a_bad_step_is_named_when_the_script_is_given(step: Any, where: str) -> None:
    with pytest.raises(InvalidRequestError) as error:
        DummyModelInstance(script=["fine", step])
    assert str(error.value).startswith(where)


def test_tool_call_helper() -> None:
    call = DummyModelInstance.tool_call("f", {"a": [1]}, id="x")
    assert isinstance(call, ToolCall) and (call.id, call.function.name, call.function.arguments) == ("x", "f",
                                                                                                   '{"a":[1]}')
