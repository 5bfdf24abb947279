"""Deterministic replies for the local provider server: the same request always gets the same answer.

Each wire-format module turns its request into a wire-neutral `Conversation`, asks `generate()` for a `Reply`
and renders it in its own shape, so every wire format says the same thing for the same prompt and a demo can
print something meaningful without a model.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from vllora_llm.tools.testing.schema_values import example_arguments, example_value

__all__ = [
    "Conversation",
    "OutputFormat",
    "Reply",
    "ToolCall",
    "ToolSpec",
    "count_words",
    "example_value",
    "generate",
    "prompt_tokens",
    "quoted_phrases",
    "split_fragments",
    "split_pieces",
    "thinking_text",
    "tools_to_call",
]

FinishReason = Literal["stop", "length", "tool_calls"]

_PIECE = re.compile(r"\s*\S+|\s+$")


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the caller offered: its name and the JSON Schema of its arguments."""

    name: str
    parameters: Any = None


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """The answer format the caller asked for: any JSON object (`json_object`), a JSON value valid against
    `schema` (`json_schema`), or one of the schema's `enum` values as plain text (`enum`, Gemini's
    `text/x.enum`)."""

    kind: Literal["json_object", "json_schema", "enum"]
    schema: Any = None


@dataclass(frozen=True, slots=True)
class Conversation:
    """What the reply generator needs from a request, whatever its wire format.

    `texts` holds the text of every message (for prompt token counts); `tool_result` is set when the
    conversation ends with tool results; `forced_tool` names the tool `tool_choice` requires, if any;
    `output` is the JSON format `response_format` (or the wire format's equivalent) asks for.
    """

    provider: str
    texts: tuple[str, ...]
    last_user_text: str
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: Literal["auto", "none", "required"] = "auto"
    forced_tool: str | None = None
    tool_result: str | None = None
    max_tokens: int | None = None
    output: OutputFormat | None = None
    parallel_tool_calls: bool = True


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, compact, as providers send it


@dataclass(frozen=True, slots=True)
class Reply:
    text: str | None
    tool_calls: tuple[ToolCall, ...]
    finish_reason: FinishReason
    completion_tokens: int


def count_words(text: str) -> int:
    """The server's "token" count: whitespace-separated words."""
    return len(text.split())


def prompt_tokens(conversation: Conversation) -> int:
    return sum(count_words(text) for text in conversation.texts)


def split_pieces(text: str) -> list[str]:
    """Word-ish stream pieces that join back to `text` exactly ("Hello", " from", " the", …)."""
    return _PIECE.findall(text)


def split_fragments(text: str, size: int = 5) -> list[str]:
    """Fixed-size fragments, for streaming tool-call arguments the way providers cut JSON mid-token."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def generate(
    conversation: Conversation, *, choice: int = 0, n: int = 1, call_id: str = "call_local"
) -> Reply:
    """The reply for choice `choice` of `n`: tool calls when the conversation asks for them (see
    `tools_to_call`), else text: JSON when `conversation.output` asks for it, a greeting that quotes the user
    (or the tool results) otherwise."""
    tools = tools_to_call(conversation)
    if tools:
        strings = quoted_phrases(conversation.last_user_text)
        calls = tuple(
            ToolCall(id=call_id if k == 0 else f"{call_id}-{k}", name=tool.name, arguments=_compact(
                example_arguments(tool.parameters, strings)))
            for k, tool in enumerate(tools)
        )
        return Reply(None, calls, "tool_calls", sum(1 + count_words(call.arguments) for call in calls))
    text = _answer_text(conversation, choice, n)
    finish: FinishReason = "stop"
    limit = conversation.max_tokens
    if limit is not None and count_words(text) > limit:
        text = "".join(split_pieces(text)[:limit])
        finish = "length"
    return Reply(text, (), finish, count_words(text))


def thinking_text(conversation: Conversation) -> str:
    """What the server "thinks" before a reply, when the request turns thinking on (the same in every wire
    format, so tests can tell which turn a reasoning text came from)."""
    if conversation.tool_result is not None:
        return f"The tool answered: {conversation.tool_result}. I can reply now."
    return f"The user said: {conversation.last_user_text or 'nothing'}. I will answer briefly."


def _answer_text(conversation: Conversation, choice: int, n: int) -> str:
    output = conversation.output
    if output is not None and output.kind == "json_schema":
        strings = quoted_phrases(conversation.last_user_text)
        if conversation.tool_result is not None:
            strings.append(conversation.tool_result)
        return _compact(example_value(output.schema, strings))
    text = f"Hello from the local {conversation.provider} server!"
    if conversation.tool_result is not None:
        text += f" The tool returned: {conversation.tool_result}"
    elif conversation.last_user_text:
        text += f" You said: {conversation.last_user_text}"
    if n > 1:
        text = f"[choice {choice}] {text}"
    if output is not None and output.kind == "enum":
        return str(example_value(output.schema))
    if output is not None:  # any JSON object
        return _compact({"message": text})
    return text


def tools_to_call(conversation: Conversation) -> tuple[ToolSpec, ...]:
    """The tools the reply calls. None when no tool is offered, `tool_choice` is "none", or the conversation
    ends with tool results (the model then answers); the forced tool when `tool_choice` names one; else every
    offered tool whose name the last user message mentions (as a word, any case), in the order mentioned, only
    the first unless parallel calls are allowed; with `tool_choice` "required" and no mention, the first tool."""
    if not conversation.tools or conversation.tool_choice == "none" or conversation.tool_result is not None:
        return ()
    if conversation.forced_tool is not None:
        forced = [tool for tool in conversation.tools if tool.name == conversation.forced_tool]
        return tuple(forced[:1]) or conversation.tools[:1]
    text = conversation.last_user_text
    mentioned = sorted(
        (match.start(), index, tool)
        for index, tool in enumerate(conversation.tools)
        if (match := _mention(tool.name).search(text)) is not None
    )
    tools = tuple(tool for _, _, tool in mentioned)
    if not tools and conversation.tool_choice == "required":
        tools = conversation.tools[:1]
    return tools if conversation.parallel_tool_calls else tools[:1]


def _mention(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])", re.IGNORECASE)


def quoted_phrases(text: str) -> list[str]:
    """The phrases in double quotes (straight or curly) in `text`, in order: the strings tool arguments and
    JSON answers are filled with."""
    return [match.group(1) or match.group(2) for match in _QUOTED.finditer(text)]


_QUOTED = re.compile(r'"([^"]+)"|\u201c([^\u201d]+)\u201d')


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
