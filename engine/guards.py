"""Guards: the cheap test, generated from a transform's own arguments, of whether it can change a value.

An `adjust:` rule runs on every request, but it changes a body only in rare cases (a budget above its limit,
more cache marks than allowed, a history calling tools it does not declare). A transform may declare a guard
beside its factory (`@guard("limit_marks")`): a function of the same arguments that emits, into the request
encoder's generated code (lower_request.py), the lines computing an expression that is false only when the
transform would return its input unchanged and say nothing. The transform itself still does the work when the
guard holds: the guard is a necessary condition, lowered to inline lookups and loops, never a second path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .codegen import FunctionBuilder
from .paths import is_simple, split_path


class GuardCode:
    """What a guard writes with: the encoder's `FunctionBuilder` plus reads and block walks over locals."""

    def __init__(self, code: FunctionBuilder) -> None:
        self.code = code

    def line(self, text: str) -> None:
        self.code.line(text)

    def bind(self, value: Any) -> str:
        return self.code.bind(value)

    def temp(self) -> str:
        return self.code.temp()

    def read(self, holder: str, path: str) -> str | None:
        """A local holding the value at the dotted `path` of the local `holder` (None when a step is missing or
        not an object, as paths.py's getters), or None when `path` is not plain keys."""
        keys = plain_path(path)
        return None if keys is None else self.read_keys(holder, keys)

    def read_keys(self, holder: str, keys: tuple[str, ...]) -> str:
        for key in keys:
            local = self.temp()
            if holder == "body":  # (the body is an object: the mapping builds it, adjust keeps it one)
                self.line(f"{local} = body.get({self.bind(key)})")
            else:
                self.line(f"{local} = {holder}.get({self.bind(key)}) if type({holder}) is dict else None")
            holder = local
        return holder

    def walk_blocks(self, root: str, descend: tuple[str, ...], visit: Callable[[str], None],
                    deeper: Callable[[str], None], depth: int = 2) -> None:
        """Loops over the objects that are items of the list `root`, following their `descend` keys: `visit(item)`
        emits the lines for one object; `depth` levels are inlined and `deeper(list)` emits the call that
        handles a list below them (the transform's own recursive helper)."""
        item = self.temp()
        self.line(f"if isinstance({root}, list):")
        self.code.indent += "    "
        self.line(f"for {item} in {root}:")
        self.code.indent += "    "
        self.line(f"if isinstance({item}, dict):")
        self.code.indent += "    "
        visit(item)
        for key in descend:
            child = self.temp()
            self.line(f"{child} = {item}.get({self.bind(key)})")
            if depth > 1:
                self.walk_blocks(child, descend, visit, deeper, depth - 1)
            else:
                self.line(f"if isinstance({child}, list):")
                self.code.indent += "    "
                deeper(child)
                self.code.indent = self.code.indent[:-4]
        self.code.indent = self.code.indent[:-12]


def plain_path(path: str) -> tuple[str, ...] | None:
    if path in ("", "@", "$") or not is_simple(path):
        return None
    steps = split_path(path)
    return tuple(str(s) for s in steps) if all(isinstance(s, str) for s in steps) else None


Guard = Callable[[Mapping[str, Any], str, GuardCode], str]
"""`guard(args, value, code)`: emit lines and return the expression that is false only when the transform (with
`args`) leaves the local `value` as it is and warns nothing."""

GUARDS: dict[str, Guard] = {}


def guard(name: str) -> Callable[[Guard], Guard]:
    """Declare the guard of the transform `name` (beside its factory)."""

    def decorate(function: Guard) -> Guard:
        GUARDS[name] = function
        return function

    return decorate
