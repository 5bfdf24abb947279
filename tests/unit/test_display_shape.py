"""The shape the template lowering records for an object it writes as one dict display (`FunctionBuilder.shapes`,
`shape_of`): what the adjust guards (engine/guards.py) decide on at compile time to skip their walks."""

from __future__ import annotations

from typing import Any

from vllora_llm.engine.codegen import FunctionBuilder, Shape
from vllora_llm.engine.guards import WrittenList, inert_walk
from vllora_llm.engine.templates import lower_into


def _shape(template: Any, reads: dict[str, str], present: set[str]) -> tuple[Shape | None, FunctionBuilder, str]:
    """Lower `template` with the given keys already read into locals (`present`: those never None)."""
    code = FunctionBuilder(("item", "ctx", *sorted(set(reads.values()) - {"None"})))
    code.reads = {(key,): local for key, local in reads.items()}
    code.present = present
    start = len(code.lines)
    rendered = lower_into(template, ("test",), code)
    return code.shape_of(rendered, start), code, rendered


def test_a_display_of_a_constant_and_a_local_records_both() -> None:
    shape, code, rendered = _shape({"type": "text", "text": "$text", "tag": "$$x", "n": 2},
                                   {"text": "content"}, {"content"})
    assert shape == {"type": ("const", "text"), "text": ("local", "content"), "tag": ("const", "$x"),
                     "n": ("const", 2)}
    assert len(code.lines) == 1  # (what it recorded is the one line it wrote)
    assert code.build(rendered)({}, None, "hi") == {"type": "text", "text": "hi", "tag": "$x", "n": 2}


def test_the_recorded_shapes_are_what_the_guards_walk() -> None:
    part, _, _ = _shape({"type": "text", "text": "$text"}, {"text": "content"}, {"content"})
    turn, _, _ = _shape({"role": "$role", "content": "$parts"}, {"role": "role", "parts": "out"}, {"role", "out"})
    assert part is not None and turn == {"role": ("local", "role"), "content": ("local", "out")}
    written = WrittenList("messages", turn, {"out": part})

    def unmarked(shape: Shape) -> bool:  # (a guard dropping `cache_control`: inert where none is written)
        return "cache_control" not in shape

    def not_text(shape: Shape) -> bool:  # (a guard visiting text parts: not inert on them)
        return shape.get("type") != ("const", "text")

    assert inert_walk(written, ("content",), [unmarked])
    assert not inert_walk(written, ("content",), [not_text])


def test_a_key_known_to_be_none_is_left_out_of_the_shape() -> None:
    shape, _, _ = _shape({"type": "text", "text": "$text", "cache_control": "$cache_control"},
                         {"text": "content", "cache_control": "None"}, {"content"})
    assert shape == {"type": ("const", "text"), "text": ("local", "content")}


def test_anything_but_one_display_records_no_shape() -> None:
    # a key set only sometimes (a local that may be None: tested before it is set)
    assert _shape({"type": "text", "text": "$text"}, {"text": "content"}, set())[0] is None
    # a key read from the item
    assert _shape({"type": "text", "text": "$text", "extra": "$extra"}, {"text": "content"}, {"content"})[0] is None
    # a nested object, a transform call, not an object
    assert _shape({"type": "text", "meta": {"a": 1}}, {}, set())[0] is None
    assert _shape({"$op": "json_dumps", "in": {"a": 1}}, {}, set())[0] is None
    assert _shape("$text", {"text": "content"}, {"content"})[0] is None
    # two keys YAML tells apart and a dict display does not
    assert _shape({1: "a", "1": "b"}, {}, set())[0] is None
