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

FinishReason = Literal["stop", "length", "tool_calls"]

_PIECE = re.compile(r"\s*\S+|\s+$")


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the caller offered: its name and the JSON Schema of its arguments."""

    name: str
    parameters: Any = None


@dataclass(frozen=True, slots=True)
class Conversation:
    """What the reply generator needs from a request, whatever its wire format.

    `texts` holds the text of every message (for prompt token counts); `tool_result` is set when the
    conversation ends with tool results; `forced_tool` names the tool `tool_choice` requires, if any.
    """

    provider: str
    texts: tuple[str, ...]
    last_user_text: str
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: Literal["auto", "none", "required"] = "auto"
    forced_tool: str | None = None
    tool_result: str | None = None
    max_tokens: int | None = None


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
    """The reply for choice `choice` of `n`: a tool call when tools are offered and usable, text otherwise."""
    tool = _tool_to_call(conversation)
    if tool is not None:
        arguments = json.dumps(example_value(tool.parameters), separators=(",", ":"), ensure_ascii=False)
        call = ToolCall(id=call_id, name=tool.name, arguments=arguments)
        return Reply(None, (call,), "tool_calls", 1 + count_words(arguments))
    text = f"Hello from the local {conversation.provider} server!"
    if conversation.tool_result is not None:
        text += f" The tool returned: {conversation.tool_result}"
    elif conversation.last_user_text:
        text += f" You said: {conversation.last_user_text}"
    if n > 1:
        text = f"[choice {choice}] {text}"
    finish: FinishReason = "stop"
    limit = conversation.max_tokens
    if limit is not None and count_words(text) > limit:
        text = "".join(split_pieces(text)[:limit])
        finish = "length"
    return Reply(text, (), finish, count_words(text))


def _tool_to_call(conversation: Conversation) -> ToolSpec | None:
    if not conversation.tools or conversation.tool_choice == "none" or conversation.tool_result is not None:
        return None
    if conversation.forced_tool is not None:
        for tool in conversation.tools:
            if tool.name == conversation.forced_tool:
                return tool
    return conversation.tools[0]


def example_value(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """A deterministic value satisfying simple JSON Schemas: required properties only, strings "example",
    numbers 1, booleans true, arrays of one item; `const`, `enum`, `default`, local `$ref` and the first
    `anyOf`/`oneOf`/`allOf` branch are honoured."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 16:
        return {} if depth == 0 else None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return example_value(_resolve(ref, root), root, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            return example_value(branches[0], root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        properties = schema.get("properties") or {}
        required = [name for name in schema.get("required") or [] if name in properties]
        return {name: example_value(properties[name], root, depth + 1) for name in required}
    if kind == "array":
        return [example_value(schema.get("items", {"type": "string"}), root, depth + 1)]
    return _SCALARS.get(kind, "example")


_SCALARS: dict[str, Any] = {"string": "example", "integer": 1, "number": 1, "boolean": True, "null": None}


def _resolve(ref: str, root: Any) -> Any:
    if not ref.startswith("#/"):
        return {}
    node = root
    for part in ref[2:].split("/"):
        if not isinstance(node, dict) or part not in node:
            return {}
        node = node[part]
    return node
