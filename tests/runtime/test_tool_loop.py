"""The tool loop through the public API, with Python tools and a scripted model (every turn's answer given
in advance, every request it received kept): parallel calls, limits, errors, client tools, usage, streams."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from vllora_llm.client import ModelInstance, VlloraLLMClient
from vllora_llm.tool import MaxToolStepsError, ToolResultEvent, ToolStartEvent, tool
from vllora_llm.types.gateway import (
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionMessageWithFinishReason,
    ChatCompletionRequest,
    Choice,
    ChoiceDelta,
    ChunkChoice,
    FunctionCall,
    FunctionCallDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)


def calls(*pairs: tuple[str, dict[str, object]]) -> list[ToolCall]:
    return [
        ToolCall(id=f"call_{i}", function=FunctionCall(name=name, arguments=json.dumps(args)))
        for i, (name, args) in enumerate(pairs)
    ]


class ScriptedModel(ModelInstance):
    """Answers turn i with script[i] (tool calls or text); records each request."""

    def __init__(self, *script: list[ToolCall] | str) -> None:
        self.script = list(script)
        self.requests: list[ChatCompletionRequest] = []

    def _next(self, request: ChatCompletionRequest) -> ChatCompletionMessageWithFinishReason:
        self.requests.append(request)
        turn = self.script[min(len(self.requests), len(self.script)) - 1]
        if isinstance(turn, str):
            message, finish = ChatCompletionMessage(role="assistant", content=turn), "stop"
        else:
            message, finish = ChatCompletionMessage(role="assistant", tool_calls=turn), "tool_calls"
        usage = Usage(prompt_tokens=10, completion_tokens=2, total_tokens=12, cost=0.5)
        return ChatCompletionMessageWithFinishReason(
            choices=[Choice(message=message, finish_reason=finish)], usage=usage, model=request.model
        )

    async def complete(self, request: ChatCompletionRequest) -> ChatCompletionMessageWithFinishReason:
        return self._next(request)

    async def stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        response = self._next(request)
        message = response.choices[0].message
        yield ChatCompletionChunk(choices=[ChunkChoice(delta=ChoiceDelta(role="assistant"))])
        if message.content:
            yield ChatCompletionChunk(choices=[ChunkChoice(delta=ChoiceDelta(content=message.text()))])
        for index, call in enumerate(message.tool_calls or []):
            delta = ToolCallDelta(
                index=index, id=call.id, type="function",
                function=FunctionCallDelta(name=call.function.name, arguments=call.function.arguments),
            )
            yield ChatCompletionChunk(choices=[ChunkChoice(delta=ChoiceDelta(tool_calls=[delta]))])
        finish = response.choices[0].finish_reason
        yield ChatCompletionChunk(choices=[ChunkChoice(delta=ChoiceDelta(), finish_reason=finish)])
        yield ChatCompletionChunk(usage=response.usage)


@tool
async def nap(seconds: float, label: str) -> str:
    """Sleep, then say the label.

    Args:
        seconds: how long to sleep
        label: what to answer
    """
    await asyncio.sleep(seconds)
    return f"done {label}"


@tool
def add(a: int, b: int) -> dict[str, int]:
    """Add two integers (a sync function, run in a worker thread)."""
    return {"sum": a + b}


@tool
def broken(reason: str) -> str:
    """Always raises."""
    raise RuntimeError(f"broken: {reason}")


REQUEST = {"model": "scripted", "messages": [{"role": "user", "content": "go"}]}


def tool_messages(request: ChatCompletionRequest) -> list[ChatCompletionMessage]:
    return [m for m in request.messages if m.role == "tool"]


def test_decorator_schema_from_hints_and_docstring() -> None:
    assert nap.name == "nap" and nap.description == "Sleep, then say the label."
    assert nap.parameters == {
        "type": "object",
        "properties": {
            "seconds": {"type": "number", "description": "how long to sleep"},
            "label": {"type": "string", "description": "what to answer"},
        },
        "required": ["seconds", "label"],
        "additionalProperties": False,
    }
    assert add(1, 2) == {"sum": 3}  # still the plain function when called directly


async def test_parallel_calls_run_concurrently_and_results_go_back_in_order() -> None:
    model = ScriptedModel(
        calls(("nap", {"seconds": 0.3, "label": "a"}), ("nap", {"seconds": 0.3, "label": "b"})), "ok"
    )
    client = VlloraLLMClient.new_with_instance(model)
    started = time.perf_counter()
    response = await client.completions().create(REQUEST, tools=[nap])
    elapsed = time.perf_counter() - started
    assert response.text() == "ok" and response.finish_reason() == "stop"
    assert elapsed < 0.55, f"two 0.3 s calls took {elapsed:.2f} s: not concurrent"
    offered = model.requests[0].tools or []
    assert [t.function.name for t in offered] == ["nap"] and offered[0].function.parameters == nap.parameters
    second = model.requests[1]
    assert [(m.tool_call_id, m.text()) for m in tool_messages(second)] == [("call_0", "done a"), ("call_1", "done b")]
    assert second.messages[1].tool_calls is not None  # the model's own turn is replayed before the results
    steps = response.tool_steps or []
    assert [(s.name, s.arguments, s.result, s.server, s.turn) for s in steps] == [
        ("nap", {"seconds": 0.3, "label": "a"}, "done a", "python", 1),
        ("nap", {"seconds": 0.3, "label": "b"}, "done b", "python", 1),
    ]
    assert all(0.25 < s.duration_s < 0.55 for s in steps)
    assert response.usage is not None  # summed over both turns
    assert (response.usage.prompt_tokens, response.usage.total_tokens, response.usage.cost) == (20, 24, 1.0)


async def test_failing_tools_become_error_results_for_the_model() -> None:
    model = ScriptedModel(
        calls(
            ("broken", {"reason": "x"}), ("add", {"a": "not a number", "b": 1}), ("nap", {"seconds": 5, "label": "z"})
        ),
        "recovered",
    )
    client = VlloraLLMClient.new_with_instance(model, tools=[broken, add, nap], tool_timeout=0.2)
    response = await client.completions().create(REQUEST)
    assert response.text() == "recovered"
    results = tool_messages(model.requests[1])
    assert all(m.is_error for m in results)
    assert "RuntimeError: broken: x" in results[0].text()
    assert "invalid arguments for add" in results[1].text()
    assert "timed out after 0.2 s" in results[2].text()
    assert [s.is_error for s in response.tool_steps or []] == [True, True, True]


async def test_structured_python_result_is_json_text() -> None:
    model = ScriptedModel(calls(("add", {"a": 2, "b": 3})), "five")
    response = await VlloraLLMClient.new_with_instance(model).completions().create(REQUEST, tools=[add])
    assert tool_messages(model.requests[1])[0].text() == '{"sum":5}'
    assert response.tool_steps and response.tool_steps[0].result == '{"sum":5}'


async def test_max_tool_steps_is_a_typed_error_carrying_the_steps() -> None:
    model = ScriptedModel(calls(("add", {"a": 1, "b": 1})))  # calls the tool forever
    client = VlloraLLMClient.new_with_instance(model, max_tool_steps=3)
    with pytest.raises(MaxToolStepsError) as info:
        await client.completions().create(REQUEST, tools=[add])
    assert "after 3 rounds" in str(info.value)
    assert [s.turn for s in info.value.steps] == [1, 2, 3]
    assert len(model.requests) == 4
    with pytest.raises(MaxToolStepsError):  # per call too
        await client.completions().create(REQUEST, tools=[add], max_tool_steps=0)


async def test_a_call_to_the_requests_own_tool_ends_the_loop() -> None:
    own = {"type": "function", "function": {"name": "ask_user", "parameters": {"type": "object"}}}
    model = ScriptedModel(calls(("add", {"a": 1, "b": 2})), calls(("ask_user", {})), "never reached")
    response = await VlloraLLMClient.new_with_instance(model).completions().create(
        {**REQUEST, "tools": [own]}, tools=[add]
    )
    assert response.finish_reason() == "tool_calls"
    assert [c.function.name for c in response.message().tool_calls or []] == ["ask_user"]
    assert [s.name for s in response.tool_steps or []] == ["add"]
    assert len(model.requests) == 2


async def test_a_turn_calling_both_runs_ours_and_hands_back_the_callers_own() -> None:
    own = {"type": "function", "function": {"name": "ask_user", "parameters": {"type": "object"}}}
    for streamed in (False, True):
        model = ScriptedModel(calls(("add", {"a": 1, "b": 2}), ("ask_user", {})), "never reached")
        completions = VlloraLLMClient.new_with_instance(model).completions()
        if streamed:
            async with completions.create_stream({**REQUEST, "tools": [own]}, tools=[add]) as stream:
                kinds = [type(chunk).__name__ async for chunk in stream]
            assert kinds.count("ToolResultEvent") == 1
            response = stream.response
        else:
            response = await completions.create({**REQUEST, "tools": [own]}, tools=[add])
        assert response.finish_reason() == "tool_calls"
        assert [c.function.name for c in response.message().tool_calls or []] == ["ask_user"]
        assert [(s.name, s.result) for s in response.tool_steps or []] == [("add", '{"sum":3}')]
        assert len(model.requests) == 1


async def test_name_collisions_are_qualified_and_forced_choice_is_forced_once() -> None:
    own = {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}
    model = ScriptedModel(calls(("python__add", {"a": 1, "b": 2})), "3")
    request = {**REQUEST, "tools": [own], "tool_choice": {"type": "function", "function": {"name": "python__add"}}}
    response = await VlloraLLMClient.new_with_instance(model).completions().create(request, tools=[add])
    assert [t.function.name for t in model.requests[0].tools or []] == ["add", "python__add"]
    assert model.requests[1].tool_choice == "auto"
    assert response.tool_steps and (response.tool_steps[0].name, response.tool_steps[0].tool) == ("python__add", "add")


async def test_stream_yields_every_turn_and_tool_events_in_order() -> None:
    model = ScriptedModel(calls(("add", {"a": 1, "b": 2})), "the sum is 3")
    client = VlloraLLMClient.new_with_instance(model)
    seen: list[str] = []
    async with client.completions().create_stream(REQUEST, tools=[add]) as stream:
        async for chunk in stream:
            if isinstance(chunk, ToolStartEvent):
                seen.append(f"start {chunk.name} {chunk.arguments}")
            elif isinstance(chunk, ToolResultEvent):
                assert chunk.step is not None
                seen.append(f"result {chunk.step.result}")
            else:
                for choice in chunk.choices:
                    if choice.finish_reason:
                        seen.append(f"finish {choice.finish_reason}")
                    if choice.delta.content:
                        seen.append(f"text {choice.delta.content}")
    assert seen == [
        "finish tool_calls",
        "start add {'a': 1, 'b': 2}",
        'result {"sum":3}',
        "text the sum is 3",
        "finish stop",
    ]
    response = stream.response
    assert response.text() == "the sum is 3" and len(response.tool_steps or []) == 1
    assert response.usage is not None and response.usage.total_tokens == 24


def hanging_tool() -> tuple[Any, asyncio.Event, asyncio.Event]:
    """A tool that never finishes: (the tool, set when it started, set when it was cancelled)."""
    cancelled = asyncio.Event()
    started = asyncio.Event()

    @tool
    async def hang() -> str:
        """Never finishes."""
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "unreachable"

    return hang, started, cancelled


async def test_cancelling_a_stream_cancels_running_tool_calls() -> None:
    hang, started, cancelled = hanging_tool()
    model = ScriptedModel(calls(("hang", {})), "no")
    stream = VlloraLLMClient.new_with_instance(model).completions().create_stream(REQUEST, tools=[hang])
    seen: list[ChatCompletionChunk] = []

    async def consume() -> None:
        async with stream:
            async for chunk in stream:
                seen.append(chunk)

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set()
    assert isinstance(seen[-1], ToolStartEvent)
    await stream.aclose()  # idempotent after the cancellation


async def test_cancelling_create_cancels_running_tool_calls() -> None:
    hang, started, cancelled = hanging_tool()
    model = ScriptedModel(calls(("hang", {})), "no")
    task = asyncio.create_task(VlloraLLMClient.new_with_instance(model).completions().create(REQUEST, tools=[hang]))
    await asyncio.wait_for(started.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set()


async def test_arguments_and_results_are_not_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    @tool
    def secret_echo(text: str) -> str:
        """Echo."""
        return f"result-{text}"

    model = ScriptedModel(calls(("secret_echo", {"text": "argument-value-42"})), "ok")
    with caplog.at_level(logging.INFO, logger="vllora_llm"):
        await VlloraLLMClient.new_with_instance(model).completions().create(REQUEST, tools=[secret_echo])
    assert "secret_echo" in caplog.text  # the call is logged...
    assert "argument-value-42" not in caplog.text  # ...not what went in or came out


def test_the_sync_client_runs_the_loop_too() -> None:
    from vllora_llm.client import SyncVlloraLLMClient

    model = ScriptedModel(calls(("add", {"a": 4, "b": 5})), "nine")
    client = SyncVlloraLLMClient(VlloraLLMClient.new_with_instance(model))
    try:
        response = client.completions().create(REQUEST, tools=[add], max_tool_steps=1)
        assert response.text() == "nine" and (response.tool_steps or [])[0].result == '{"sum":9}'
    finally:
        client.close()
