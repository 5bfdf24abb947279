"""A whole-response stream's usage counts, kept across its events; a block is folded only when it must be.

Every event of such a stream may carry a usage block (some providers send one on every event, its counts
growing). The stream reports, for each count, its value in the last block where it was a number: folding a
block writes the counts it gives as numbers and leaves the others (`lower_response.usage_lines`). Folding every
block costs about a third of what reading an event costs, and nearly every block is replaced by the next.

When every count is *monotone* (a reference, or a `sum` of references: a count that is a number in a block
whenever one of the values it reads is a number, or always, for a sum whose `empty` is a number), a block
whose every value read that is not None in the last block is an int writes every count the last block wrote,
so the last block need not be folded: folding it and then this block gives what folding this block alone
gives. The generated `on_events` (`lower_usage_section`) then keeps the last block pending (`st.usage_read`),
folds it (the generated `fold_usage`) only when the block after it fails that test (cheaper than comparing the
two blocks), and folds it when the finish reason came, before the usage chunk. Any other usage map is folded
on every block that differs from the last one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .codegen import FunctionBuilder
from .lower_response import read_paths, step, usage_lines
from .paths import plain_keys
from .stream_base import NOTHING
from .templates import template_paths
from .views import Views

Fold = Callable[[Any, Any, dict[str, int], list[Any]], None]
"""`fold_usage(roots, ctx, counts, seen)`: fold one usage block (the values at the usage map's root keys: the
value itself for one root, else their tuple; `NOTHING`: no block) into `counts`."""


def lower_usage_section(code: FunctionBuilder, usage: Mapping[str, Any], roots: tuple[str, ...] | None,
                        views: Views, first: Mapping[str, str], chunk: str) -> tuple[int, Fold | None]:
    """Emit the end of an event's lines in `on_events`: the usage block read into `st.counts` (eagerly, or
    lazily as the module docstring says) and, once the finish reason came, the usage chunk (`chunk(st)`).
    Return the size of `st.usage_seen` and, when blocks are folded lazily, `fold_usage` (the decoder folds
    the pending block with it to show its counts)."""
    if roots is None:  # (a count reads the whole event: folded on every event)
        code.line("item = data")
        slots = _fold_lines(code, usage, views, {})
        code.line("st.usage_read = None")
        code.line(f"if st.done and st.counts: out.append({chunk}(st))")
        return slots, None
    values = [first[root] if root in first else f"({step(code, 'data', views, (), root)})" for root in roots]
    inputs = values[0] if len(values) == 1 else f"({''.join(f'{value}, ' for value in values)})"
    if not views or not all(_monotone(template) for template in usage.values()):
        code.line(f"if {inputs} != st.usage_read:")
        code.indent = "    "
        code.line("item = data")
        slots = _fold_lines(code, usage, views, {(root,): first[root] for root in roots if root in first})
        code.line(f"st.usage_read = {inputs}")
        code.indent = ""
        code.line(f"if st.done and st.counts: out.append({chunk}(st))")
        return slots, None
    fold = _lower_fold(usage, roots, views)
    name = code.bind(fold)
    paths = sorted({path for template in usage.values() for path in template_paths(template) or ()})
    code.line("_p = st.usage_read")
    pending = _root_locals(code, "_p", roots)
    now = dict(zip(roots, values, strict=True))
    code.line(f"if not ({_kept(code, paths, views, dict(zip(roots, pending, strict=True)), now)}): "
              f"{name}(_p, ctx, st.counts, st.usage_seen)")
    code.line(f"st.usage_read = {inputs}")
    code.line("if st.done:")
    code.line(f"    {name}(st.usage_read, ctx, st.counts, st.usage_seen)")
    code.line(f"    if st.counts: out.append({chunk}(st))")
    return 0, fold


def _kept(code: FunctionBuilder, paths: list[tuple[str, ...]], views: Views, before: dict[str, str],
          now: dict[str, str]) -> str:
    """The test that the block `now` writes every count the pending block `before` wrote (both given by the
    locals of their root values): each value the counts read that is not None in `before` is an int in `now`.
    A value one key below a root viewed as a Struct is read inline under one type test of each root."""
    if all(len(path) == 2 and (path[0],) in views for path in paths):
        tests: list[str] = []
        for root in dict.fromkeys(path[0] for path in paths):
            view = code.bind(views[(root,)][0])
            tests += [f"type({before[root]}) is {view}", f"type({now[root]}) is {view}"]
        for root, key in paths:
            attribute = views[(root,)][1][key]
            tests.append(f"({before[root]}.{attribute} is None or type({now[root]}.{attribute}) is int)")
        return " and ".join(tests)
    with code.other_item(views, {(root,): local for root, local in before.items()}):
        old = read_paths(code, paths)
    with code.other_item(views, {(root,): local for root, local in now.items()}):
        new = read_paths(code, paths)
    return " and ".join(f"({a} is None or type({b}) is int)" for a, b in zip(old, new, strict=True)) or "True"


def _fold_lines(code: FunctionBuilder, usage: Mapping[str, Any], views: Views,
                reads: Mapping[tuple[str, ...], str]) -> int:
    """The usage map's lines folding the block of `item` (whose root keys `reads` are read already) into
    `st.counts`; return the size of `st.usage_seen` they use (`lower_response.usage_lines`)."""
    code.line("usage = st.counts")
    code.line("seen = st.usage_seen")
    with code.other_item(views, reads):
        return usage_lines(usage, code, incremental=True)


def _root_locals(code: FunctionBuilder, holder: str, roots: tuple[str, ...]) -> list[str]:
    """Locals holding the root values of a block kept as `holder` (the value, or the tuple of several; anything
    else, such as the decoder's `NOTHING`, holds none)."""
    if len(roots) == 1:
        return [holder]
    out = [code.temp() for _ in roots]
    code.line(f"if type({holder}) is tuple: {', '.join(out)} = {holder}")
    code.line(f"else: {' = '.join(out)} = None")
    return out


def _lower_fold(usage: Mapping[str, Any], roots: tuple[str, ...], views: Views) -> Fold:
    """The generated `fold_usage(p, ctx, usage, seen)` (see `Fold`)."""
    code = FunctionBuilder(("p", "ctx", "usage", "seen"), "fold_usage", views)
    code.line(f"if p is {code.bind(NOTHING)}: return None")  # (no block seen since the last usage chunk)
    locals_ = _root_locals(code, "p", roots)
    code.reads = {(root,): local for root, local in zip(roots, locals_, strict=True)}
    usage_lines(usage, code, incremental=True)
    function: Fold = code.build("None")
    return function


def _monotone(template: Any) -> bool:
    """A reference of plain keys, or a `sum` (no argument but `empty`) of a list of them."""
    if isinstance(template, str):
        return template.startswith("$") and not template.startswith("$$") and \
            plain_keys(template[1:].lstrip(".")) is not None
    return (isinstance(template, dict) and template.get("$op") == "sum" and set(template) <= {"$op", "in", "empty"}
            and isinstance(template.get("in"), list) and all(_monotone(item) for item in template["in"]))
