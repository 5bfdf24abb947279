"""`adjust:` lowered: a spec's body transforms as generated lines of the request encoder's `map_body` (plan.py).

Each entry (`{at: path, transform: ...}`, or `{transform: ...}` over the whole body) becomes a block of lines
(`emit_adjust`; `compile_adjust` builds them alone as `adjust_body(body, ctx)`): the value at `at` read with
inline lookups, the transform's guard (guards.py, generated from the entry's own arguments) tested, and only
then the transform called. `at` entries replace the value (None removes it); whole-body entries replace the
body when the transform returns an object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .codegen import FunctionBuilder
from .guards import GUARDS, NEEDS, GuardCode, WrittenList, first_keys
from .paths import split_path
from .transforms import Context, bind

AdjustBody = Callable[[dict[str, Any], Context], dict[str, Any]]


def compile_adjust(entries: Any) -> AdjustBody | None:
    """The generated `adjust_body`, or None when the spec has no `adjust:` entries."""
    if not entries:
        return None
    code = FunctionBuilder(("body", "ctx"), "adjust_body")
    emit_adjust(entries, code)
    function: AdjustBody = code.build("body")
    return function


def emit_adjust(entries: Any, code: FunctionBuilder, written: tuple[WrittenList, str] | None = None,
                always: tuple[str, ...] = ()) -> None:
    """The lines applying `entries` to the local `body` (which a whole-body transform may replace); `written`: a
    list the mapping wrote and the local holding its flag (`GuardCode.written`). Consecutive entries that each
    need one of some top-level keys (`needs`; none of the keys the mapping always writes, `always`) are tested
    together first: when the body holds none of their keys, none of their guards can hold (one test, not one
    per entry)."""
    if not entries:
        return
    guards = GuardCode(code, written)
    needs = [_needs(entry) for entry in entries]
    start = 0
    while start < len(entries):
        end, keys = start, set[str]()
        while end < len(entries) and needs[end] and keys.isdisjoint(always) and set(needs[end]).isdisjoint(always):
            keys.update(needs[end])
            end += 1
        if end - start < 2:
            _entry(entries[start], guards)
            start += 1
            continue
        code.line(f"if not {code.bind(frozenset(keys))}.isdisjoint(body):")
        code.indent += "    "
        for entry in entries[start:end]:
            _entry(entry, guards)
        code.indent = code.indent[:-4]
        start = end
    guards.finish()


def _entry(entry: Any, guards: GuardCode) -> None:
    code = guards.code
    ref = entry["transform"]
    name, args = (ref, {}) if isinstance(ref, str) else (ref["name"], dict(ref.get("args") or {}))
    apply = code.bind(bind(name, args))
    code.line(f"# {name}" + (f" at {entry['at']}" if entry.get("at") else ""))
    guard = GUARDS.get(name)
    if entry.get("at"):
        _at(str(entry["at"]), apply, guard, args, guards)
        return
    result = code.temp()
    _guarded(guard(args, "body", guards) if guard is not None else None, guards, [
        f"{result} = {apply}(body, ctx)",
        f"if isinstance({result}, dict): body = {result}"])


def _needs(entry: Any) -> tuple[str, ...]:
    """The top-level keys one of which the body must hold for the entry to change it (an `at` entry: its path's
    first key; a whole-body one: its guard's `needs`); () when not known."""
    if entry.get("at"):
        return first_keys(entry["at"])
    ref = entry["transform"]
    name, args = (ref, {}) if isinstance(ref, str) else (ref["name"], dict(ref.get("args") or {}))
    needs = NEEDS.get(name) if name in GUARDS else None
    return needs(args) if needs is not None else ()


def _at(path: str, apply: str, guard: Any, args: dict[str, Any], guards: GuardCode) -> None:
    """The value at `path` (skipped when it is None), through the guard and the transform, stored back."""
    code = guards.code
    *parents, last_key = [str(p) for p in split_path(path)]  # (an index is a key too, as before)
    holder = guards.read_keys("body", tuple(parents))
    last = code.bind(last_key)
    value = code.temp()
    code.line(f"{value} = body.get({last})" if holder == "body"
              else f"{value} = {holder}.get({last}) if type({holder}) is dict else None")
    code.line(f"if {value} is not None:")
    code.indent += "    "
    result = code.temp()
    _guarded(guard(args, value, guards) if guard is not None else None, guards, [
        f"{result} = {apply}({value}, ctx)",
        f"if {result} is None: del {holder}[{last}]",
        f"else: {holder}[{last}] = {result}"])
    code.indent = code.indent[:-4]


def _guarded(condition: str | None, guards: GuardCode, lines: list[str]) -> None:
    """`lines` (a transform's: `changed`) under `if condition:` (as they are without a guard)."""
    code = guards.code
    if condition is not None:
        code.line(f"if {condition}:")
        code.indent += "    "
    for text in lines:
        code.line(text)
    guards.changed()
    if condition is not None:
        code.indent = code.indent[:-4]
