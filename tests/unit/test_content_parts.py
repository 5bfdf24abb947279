"""The passthrough rewrites of content_parts.py: typed content chunks folded into text and reasoning, and
tool-call deltas without an `index` numbered by id (a table of chunk sequences → the indexes given)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from vllora_llm.engine.content_parts import IndexById, compile_fold

FOLD = compile_fold({"kind_by": {"field": "type"}, "kinds": {
    "text": {"text": "$text"},
    "thinking": {"reasoning": {"text": "$thinking[].text"}}}}, "p")


@pytest.mark.parametrize(("content", "text", "reasoning"), [
    ([{"type": "thinking", "thinking": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
      {"type": "text", "text": "X"}], "X", "ab"),
    ([{"type": "text", "text": "X"}, {"type": "text", "text": "Y"}], "XY", None),
    ([{"type": "thinking", "thinking": [{"type": "reference", "reference_ids": [1]}]}], None, ""),
    ([{"type": "image_url", "image_url": "u"}, "not a part", 3], None, None),
    ("plain", "plain", None),
])
def test_fold(content: Any, text: str | None, reasoning: str | None) -> None:
    assert FOLD is not None
    message: dict[str, Any] = {"role": "assistant", "content": content}
    FOLD(message)
    assert message["content"] == text
    assert message.get("reasoning") == (reasoning or None)


def _calls(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"tool_calls": [dict(c) for c in calls]}


@pytest.mark.parametrize(("chunks", "indexes"), [
    ([_calls({"id": "a"}, {"id": "b"}), _calls({"id": "c"})], [[0, 1], [2]]),                 # parallel, no index
    ([_calls({"id": "a"}), _calls({"function": {"arguments": "{}"}}), _calls({"id": "b"})], [[0], [0], [1]]),
    ([_calls({"id": "a", "index": 0}), _calls({"index": 0}), _calls({"id": "b"})], [[0], [0], [1]]),   # mixed
    ([_calls({"id": "a"}), _calls({"id": "a", "function": {"arguments": "x"}})], [[0], [0]]),  # id repeated
])
def test_index_by_id(chunks: list[dict[str, Any]], indexes: list[list[int]]) -> None:
    numbering = IndexById()
    for delta in chunks:
        numbering.number(delta)
    assert [[call["index"] for call in delta["tool_calls"]] for delta in chunks] == indexes


def test_a_malformed_id_is_no_id() -> None:
    numbering = IndexById()
    delta = _calls({"id": "a"}, {"id": ["not", "hashable"]})
    numbering.number(delta)
    assert [call["index"] for call in delta["tool_calls"]] == [0, 0]


@pytest.mark.parametrize("thinking", ["abc", [{"type": "text", "text": 5}], None, [{"text": "ok"}, 7]])
def test_a_thinking_part_of_another_shape_adds_what_it_can(thinking: Any) -> None:
    assert FOLD is not None
    message: dict[str, Any] = {"content": [{"type": "thinking", "thinking": thinking}, {"type": "text", "text": "A"}]}
    FOLD(message)
    assert message["content"] == "A"
    assert message.get("reasoning") == ("ok" if isinstance(thinking, list) and len(thinking) == 2 else None)


STRICT = compile_fold({"kinds": {"thinking": {"reasoning": {"text": "$thinking[?type=='text'].text | join('', @)"}}}},
                      "p")


@pytest.mark.parametrize("thinking", ["abc", [{"type": "text", "text": 5}], None])
def test_a_part_the_templates_cannot_read_is_a_validation_error(thinking: Any) -> None:
    assert STRICT is not None
    with pytest.raises(msgspec.ValidationError, match="content part of type 'thinking' cannot be read"):
        STRICT({"content": [{"type": "thinking", "thinking": thinking}]})

