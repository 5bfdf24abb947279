"""Scripted replies for `DummyModelInstance`: the assistant turns a unit test wants, in order.

An app's tool loop or JSON handling is tested without a server by scripting what the model says next (text,
tool calls, or both); the steps are normalised once, when the script is given, so a malformed step is an
`InvalidRequestError` naming `script[i]` at construction rather than a surprise in the middle of a test.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import msgspec

from vllora_llm.engine.errors import InvalidRequestError, LLMError
from vllora_llm.engine.gateway import (
    ChatCompletionMessage,
    ChoiceDelta,
    FunctionCall,
    FunctionCallDelta,
    ToolCall,
    ToolCallDelta,
)

ScriptStep = str | ChatCompletionMessage | ToolCall | Sequence[ToolCall] | Mapping[str, Any]
"""Text; an assistant message; one tool call or a list of them (parallel calls); or a message as a dict
(`{"content": ..., "tool_calls": [...]}`, a tool call's `arguments` may be a dict)."""

ARGUMENT_PIECE = 8
"""Streamed tool-call arguments arrive in pieces of this many characters, as providers cut them."""


def tool_call(name: str, arguments: Mapping[str, Any] | str | None = None, *, id: str | None = None) -> ToolCall:
    """A `ToolCall` for a script: `arguments` as a dict (encoded to JSON) or JSON text."""
    text = arguments if isinstance(arguments, str) else json.dumps(dict(arguments or {}), separators=(",", ":"))
    return ToolCall(id=id or "", function=FunctionCall(name=name, arguments=text))


def normalise(script: Iterable[ScriptStep]) -> list[ChatCompletionMessage]:
    """Every step as an assistant message; tool calls without an id get `call_dummy_<step>_<k>`."""
    return [_message(step, f"script[{i}]", i) for i, step in enumerate(script)]


def _message(step: Any, where: str, number: int) -> ChatCompletionMessage:
    if isinstance(step, str):
        message = ChatCompletionMessage(role="assistant", content=step)
    elif isinstance(step, ChatCompletionMessage):
        message = step
    elif isinstance(step, ToolCall):
        message = ChatCompletionMessage(role="assistant", tool_calls=[step])
    elif isinstance(step, Mapping):
        message = _from_mapping(step, where)
    elif isinstance(step, Sequence) and step and all(isinstance(call, ToolCall) for call in step):
        message = ChatCompletionMessage(role="assistant", tool_calls=list(step))
    else:
        raise InvalidRequestError(
            f"{where}: expected text, a ChatCompletionMessage, a ToolCall, a list of ToolCall or a message dict, "
            f"got {type(step).__name__}",
            path=where,
        )
    if message.role != "assistant":
        raise InvalidRequestError(f"{where}.role: a scripted reply is an assistant turn, got {message.role!r}",
                                  path=f"{where}.role")
    if message.tool_calls and not all(call.id for call in message.tool_calls):
        calls = [
            call if call.id else msgspec.structs.replace(call, id=f"call_dummy_{number}_{k}")
            for k, call in enumerate(message.tool_calls)
        ]
        message = msgspec.structs.replace(message, tool_calls=calls)  # the caller's object stays as it was
    return message


def _from_mapping(step: Mapping[str, Any], where: str) -> ChatCompletionMessage:
    data = {"role": "assistant", **step}
    calls = data.get("tool_calls")
    if isinstance(calls, list):
        data["tool_calls"] = [_call_dict(call) for call in calls]
    try:
        return ChatCompletionMessage.from_dict(data)
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"{where}.{exc.message}", path=f"{where}.{exc.path or ''}".rstrip(".")) from None


def _call_dict(call: Any) -> Any:
    """Lets a dict step write `arguments` as a dict and leave out `type` (`{"function": {"name", "arguments"}}`)."""
    if not isinstance(call, Mapping) or not isinstance(call.get("function"), Mapping):
        return call
    function = dict(call["function"])
    if isinstance(function.get("arguments"), Mapping):
        function["arguments"] = json.dumps(function["arguments"], separators=(",", ":"))
    return {**call, "function": function}


class Script:
    """The steps left, handed out one per call (`complete` and `stream` share the order)."""

    def __init__(self, script: Iterable[ScriptStep]) -> None:
        self._steps = normalise(script)
        self._next = 0

    def __len__(self) -> int:
        return len(self._steps) - self._next

    def next(self) -> ChatCompletionMessage:
        if self._next >= len(self._steps):
            raise LLMError(f"DummyModelInstance: the script's {len(self._steps)} replies are used up; "
                           "script one reply per call")
        message = self._steps[self._next]
        self._next += 1
        return message


def finish_reason(message: ChatCompletionMessage) -> str:
    return "tool_calls" if message.tool_calls else "stop"


def deltas(message: ChatCompletionMessage) -> Iterator[ChoiceDelta]:
    """The stream of one message: its text word by word, then each tool call (id and name first, then its
    arguments in pieces), the way providers stream them, so an app's chunk handling is exercised too."""
    text = message.text()
    if text:
        words = text.split(" ")
        for i, word in enumerate(words):
            yield ChoiceDelta(content=word if i == len(words) - 1 else word + " ")
    for index, call in enumerate(message.tool_calls or ()):
        head = FunctionCallDelta(name=call.function.name, arguments="")
        yield ChoiceDelta(tool_calls=[ToolCallDelta(index=index, id=call.id, type=call.type, function=head)])
        arguments = call.function.arguments
        for start in range(0, len(arguments), ARGUMENT_PIECE):
            piece = FunctionCallDelta(arguments=arguments[start : start + ARGUMENT_PIECE])
            yield ChoiceDelta(tool_calls=[ToolCallDelta(index=index, function=piece)])
