"""`messages: {mode: passthrough}` lowered into one generated pass (messages.py).

A table of spec options, a conversation and the messages sent: roles renamed, fields renamed before the drop (a
renamed field escapes a drop of its unified name), reasoning sent back as content parts, dropped fields removed
at the top level, in content parts and in tool calls; without a role mapping, a message with nothing to change is
sent as the same object. A `tool` message answering no earlier call is a `MappingError` naming it (with
`tool_results.require_call`).
"""

from __future__ import annotations

from typing import Any

import pytest

from vllora_llm.engine.errors import MappingError
from vllora_llm.engine.messages import compile_messages
from vllora_llm.engine.transforms import Context

CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}, "signature": "s"}
ROWS: list[tuple[str, dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]] = [
    ("nothing to do", {}, [{"role": "user", "content": "hi"}], [{"role": "user", "content": "hi"}]),
    ("roles", {"roles": {"developer": "system"}},
     [{"role": "developer", "content": "a"}, {"role": "user", "content": "b"}],
     [{"role": "system", "content": "a"}, {"role": "user", "content": "b"}]),
    ("rename then drop", {"rename_fields": {"reasoning": "reasoning_content"}, "drop_fields": ["reasoning", "x"]},
     [{"role": "assistant", "content": "a", "reasoning": "r", "x": 1}],
     [{"role": "assistant", "content": "a", "reasoning_content": "r"}]),
    ("drop in parts and calls", {"drop_fields": ["cache_control", "signature"]},
     [{"role": "user", "content": [{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}]},
      {"role": "assistant", "tool_calls": [CALL]}],
     [{"role": "user", "content": [{"type": "text", "text": "a"}]},
      {"role": "assistant", "tool_calls": [{k: v for k, v in CALL.items() if k != "signature"}]}]),
    ("reasoning as content", {"reasoning_as_content": {"template": {"type": "thinking", "thinking": "$text"}},
                              "drop_fields": ["reasoning", "reasoning_details"]},
     [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "reasoning": "r"},
      {"role": "assistant", "content": "b", "reasoning_details": [{"type": "x", "text": "t"}, {"type": "y"}]},
      {"role": "assistant", "content": "c"}],
     [{"role": "user", "content": "q"},
      {"role": "assistant", "content": [{"type": "thinking", "thinking": "r"}, {"type": "text", "text": "a"}]},
      {"role": "assistant", "content": [{"type": "thinking", "thinking": "t"}, {"type": "text", "text": "b"}]},
      {"role": "assistant", "content": "c"}]),
    ("to another key", {"to": "input.turns", "tool_results": {"require_call": True}},
     [{"role": "assistant", "tool_calls": [CALL]}, {"role": "tool", "tool_call_id": "c1", "content": "ok"}],
     [{"role": "assistant", "tool_calls": [CALL]}, {"role": "tool", "tool_call_id": "c1", "content": "ok"}]),
]


@pytest.mark.parametrize(("options", "messages", "sent"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_passthrough_options(options: dict[str, Any], messages: list[dict[str, Any]],
                             sent: list[dict[str, Any]]) -> None:
    body: dict[str, Any] = {}
    compile_messages({"mode": "passthrough", **options}, "acme")(messages, body, Context("acme"))
    out = body["input"]["turns"] if "to" in options else body["messages"]
    assert out == sent
    if "roles" not in options:  # (a role mapping writes every message anew)
        for before, after in zip(messages, out, strict=True):
            assert (after is before) == (after == before)  # copied only when something changed


def test_an_unanswered_tool_message_is_an_error_naming_it() -> None:
    op = compile_messages({"mode": "passthrough", "tool_results": {"require_call": True}}, "acme")
    messages = [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "nope", "content": "x"}]
    with pytest.raises(MappingError, match=r"messages\[1\].tool_call_id: 'nope' answers no earlier"):
        op(messages, {}, Context("acme"))
