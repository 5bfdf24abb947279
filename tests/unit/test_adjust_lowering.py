"""`adjust:` lowered into one generated function with guards (engine/adjust.py, guards.py).

The reference is the rule as written: every transform applied in order, unguarded (an `at` entry on the value
at its path, removed when the transform returns None). A guard may only skip a transform that would have left
the body as it is and said nothing, so for every body below the generated function and the reference agree
(result, warnings, error), including the bodies where a guard's walk must reach three levels down.
"""

from __future__ import annotations

import copy
import linecache
from typing import Any

import pytest

from vllora_llm.engine.adjust import compile_adjust
from vllora_llm.engine.errors import MappingError
from vllora_llm.engine.transforms import Context, bind

MARKS = {"transform": {"name": "limit_marks",
                       "args": {"key": "cc", "max": 2, "in": ["tools", "system", "messages"], "descend": ["content"]}}}
RAISE = {"transform": {"name": "raise_above", "args": {"field": "max_tokens", "above": "thinking.budget_tokens"}}}
TRIM = {"at": "messages", "transform": {"name": "trim_final_text", "args": {"role": "assistant"}}}
FILL = {"at": "tool_choice", "transform": {"name": "fill_defaults", "args": {"defaults": {"type": "auto"}}}}
REQUIRE = {"transform": {"name": "require_for_blocks", "args": {
    "field": "tools", "in": "messages", "descend": ["content"], "key": "type", "values": ["tool_use"],
    "message": "pass the tools"}}}
DECLARE = {"transform": {"name": "declare_used_tools", "args": {
    "tools": "toolConfig.tools", "names": "messages[].content[].toolUse.name", "declaration": {"name": "$name"}}}}
ANSWER = {"transform": {"name": "answer_with_tool", "args": {
    "request_at": "output_config.format", "types": ["json_object"], "tools": "tools", "tool": {"name": "json"},
    "choice_at": "tool_choice", "choice": {"type": "tool", "name": "json"},
    "unless": {"at": "thinking.type", "values": ["enabled"]}}}}
ENTRIES = [ANSWER, FILL, RAISE, MARKS, TRIM, REQUIRE]


def _reference(entries: list[dict[str, Any]], body: dict[str, Any], ctx: Context) -> dict[str, Any]:
    for entry in entries:
        ref = entry["transform"]
        apply = bind(ref["name"], ref.get("args"))
        if "at" not in entry:
            result = apply(body, ctx)
            body = result if isinstance(result, dict) else body
        elif body.get(entry["at"]) is not None:
            result = apply(body[entry["at"]], ctx)
            if result is None:
                del body[entry["at"]]
            else:
                body[entry["at"]] = result
    return body


def _run(run: Any, body: dict[str, Any]) -> tuple[Any, list[tuple[str | None, str]]]:
    ctx = Context("p")
    try:
        out: Any = run(copy.deepcopy(body), ctx)
    except MappingError as exc:
        out = ("error", str(exc))
    return out, [(w.param, w.code) for w in ctx.warnings]


def _turn(role: str, *blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": role, "content": list(blocks)}


BODIES = [
    {"max_tokens": 10, "messages": [_turn("user", {"type": "text", "text": "hi"})]},
    {"max_tokens": 10, "thinking": {"budget_tokens": 20}, "messages": []},
    {"max_tokens": 30, "thinking": {"budget_tokens": 20}, "tool_choice": {"name": "f"}},
    {"max_tokens": True, "thinking": {"budget_tokens": 2}},
    {"system": [{"text": "a", "cc": 1}, {"text": "b", "cc": 1}], "tools": [{"name": "t", "cc": 1}]},
    {"system": [{"text": "a", "cc": 1}], "messages": [_turn("user", {"cc": 1})]},
    {"tools": [{"name": "t"}], "messages": [_turn("user", {"type": "tool_result", "content": [
        {"type": "text", "cc": 1, "content": [{"cc": 1}]}]}), _turn("user", {"type": "tool_use", "cc": 1})]},
    {"messages": [_turn("user", {"type": "text"}), _turn("assistant", {"type": "text", "text": "ok  "})]},
    {"messages": [{"role": "assistant", "content": "  "}]},
    {"messages": [_turn("user", {"type": "tool_result", "content": [{"content": [{"type": "tool_use"}]}]})]},
    {"messages": [_turn("user", {"type": "tool_use"})]},
    {"messages": [{"role": "user", "type": "tool_use"}]},
    {"messages": "not a list", "system": "text", "tools": {"not": "a list"}},
    {"messages": [[{"type": "tool_use"}]], "tool_choice": None},
    {"output_config": {"format": {"type": "json_object"}}, "tools": [{"name": "t"}], "tool_choice": {"type": "any"}},
    {"output_config": {"format": {"type": "json_object"}, "effort": "low"}, "thinking": {"type": "enabled"}},
    {"output_config": {"format": {"type": "json_schema", "schema": {}}}},
    {"output_config": {"format": "json_object"}, "tool_choice": {}},
    {"output_config": ["format"]},
    # more marks than allowed, then a tool block without tools: the transform between ran, the shared walk is stale
    {"system": [{"text": "a", "cc": 1}, {"text": "b", "cc": 1}], "messages": [_turn("user", {"type": "tool_use",
                                                                                            "cc": 1})]},
    {"messages": [_turn("user", {"type": "tool_use"}), _turn("assistant", {"type": "text", "text": "ok  "})]},
]


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_generated_adjust_agrees_with_the_transforms_in_order(body: dict[str, Any]) -> None:
    generated = compile_adjust(ENTRIES)
    assert generated is not None
    assert _run(generated, body) == _run(lambda b, c: _reference(ENTRIES, b, c), body)


DECLARING = [
    {"messages": [{"content": [{"toolUse": {"name": "f"}}]}]},
    {"messages": [{"content": [{"toolUse": {"name": 3}}]}]},
    {"messages": [{"content": {"toolUse": {"name": "f"}}}]},
    {"messages": [[{"content": [{"toolUse": {"name": "f"}}]}]]},
    {"messages": [{"content": [[{"toolUse": {"name": "f"}}]]}]},
    {"toolConfig": {"tools": [{"name": "g"}]}, "messages": [{"content": [{"toolUse": {"name": "f"}}]}]},
    {"messages": [{"content": [{"text": "hi"}]}]},
]


@pytest.mark.parametrize("body", DECLARING, ids=range(len(DECLARING)))
def test_projection_guard_agrees_with_the_transform(body: dict[str, Any]) -> None:
    generated = compile_adjust([DECLARE])
    assert generated is not None
    assert _run(generated, body) == _run(lambda b, c: _reference([DECLARE], b, c), body)


def test_a_guard_that_fails_skips_the_transform_and_the_source_is_in_linecache() -> None:
    calls: list[Any] = []
    generated = compile_adjust([RAISE])
    assert generated is not None
    body = {"max_tokens": 10}
    assert generated(body, Context("p")) is body
    filename = generated.__code__.co_filename
    assert filename.startswith("vllora-llm/generated/adjust_body_")
    assert "def adjust_body(body, ctx):" in "".join(linecache.getlines(filename))
    apply = generated.__globals__
    name = next(k for k, v in apply.items() if getattr(v, "__qualname__", "").startswith("_raise_above"))
    apply[name] = lambda b, c: calls.append(b) or b
    generated({"max_tokens": 10}, Context("p"))
    generated({"max_tokens": 10, "thinking": {"budget_tokens": 40}}, Context("p"))
    assert calls == [{"max_tokens": 10, "thinking": {"budget_tokens": 40}}]


def test_a_walk_shared_between_guards_is_walked_again_after_a_transform_changed_the_body() -> None:
    """limit_marks and require_for_blocks walk `messages` the same way: one walk computes both guards, unless a
    transform ran between them (here one that puts a tool block into `messages`), which the later guard must see."""
    marks = {"transform": {"name": "limit_marks", "args": {"key": "cc", "max": 2, "in": ["messages"],
                                                           "descend": ["content"]}}}
    swap = {"at": "messages", "transform": {"name": "lookup", "args": {
        "table": {}, "default": [_turn("user", {"type": "tool_use"})]}}}
    entries = [marks, swap, REQUIRE]
    generated = compile_adjust(entries)
    assert generated is not None
    for body in ({"messages": [_turn("user", {"type": "text"})]}, {"messages": [_turn("user", {"type": "tool_use"})]},
                 {"messages": [_turn("user", {"cc": 1}, {"cc": 1}, {"cc": 1, "type": "tool_use"})]}):
        expected = _run(lambda b, c: _reference(entries, b, c), body)
        assert _run(generated, body) == expected
    assert _run(generated, {"messages": [_turn("user", {"type": "text"})]})[0][0] == "error"
    source = "".join(linecache.getlines(generated.__code__.co_filename))
    assert source.count("for ") == 2 + 2  # (the shared walk's two loops; the later guard's own, when stale)
