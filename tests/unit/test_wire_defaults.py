"""Defaults the wire requires are always encoded, however the value was written.

msgspec's `omit_defaults` compares a field with its default by identity. A str literal in Python code is
interned, so `{"type": "function"}` written in a script is the very object of the field default and would be
left out of the body (OpenAI then answers 400: missing `tools[0].type`), while the same value parsed from
JSON or YAML is a different object and is kept. These cases use literals on purpose.
"""

from __future__ import annotations

from typing import Any

import pytest

from vllora_llm.engine.gateway import ChatCompletionRequest, FunctionCall, NamedToolChoice, Tool, ToolCall


@pytest.mark.parametrize(
    ("struct", "data", "expected"),
    [
        (Tool, {"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {"name": "f"}}),
        (Tool, {"function": {"name": "f"}}, {"type": "function", "function": {"name": "f"}}),
        (NamedToolChoice, {"type": "function", "function": {"name": "f"}},
         {"type": "function", "function": {"name": "f"}}),
        (ToolCall, {"id": "c", "type": "function", "function": {"name": "f", "arguments": ""}},
         {"id": "c", "type": "function", "function": {"name": "f", "arguments": ""}}),
        (ToolCall, {"id": "c", "function": {"name": "f"}},
         {"id": "c", "type": "function", "function": {"name": "f", "arguments": ""}}),
    ],
)
def test_required_defaults_survive_to_dict(struct: Any, data: dict[str, Any], expected: dict[str, Any]) -> None:
    assert struct.from_dict(data).to_dict() == expected


def test_keyword_construction_keeps_the_tool_type() -> None:
    call = ToolCall(id="c", function=FunctionCall(name="f", arguments="{}"), type="function")
    assert call.to_dict()["type"] == "function"
    assert call.type == "function"


def test_cache_control_keeps_its_type() -> None:
    request = ChatCompletionRequest.from_dict({
        "model": "m",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "t", "cache_control": {"type": "ephemeral"}}]},
        ],
    })
    assert request.to_dict()["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
