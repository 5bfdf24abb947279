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
    """What a guard writes with: the encoder's `FunctionBuilder` plus reads and block walks over locals.

    Walks are shared: a guard walking the same list the same way (`walk_path`: same path, same `descend`) as an
    earlier guard of the same `adjust:` block adds its lines to that walk instead of walking again, unless a
    transform ran since (a local per shared walk, set by the lines of every transform after it, `changed`: the
    body may have changed), in which case it walks on its own. `finish()` writes the added lines in place."""

    def __init__(self, code: FunctionBuilder) -> None:
        self.code = code
        self.base = code.indent
        """The indentation of the block's own lines: a walk emitted there runs on every call (it can be shared)."""
        self._walks: dict[tuple[str, str, tuple[str, ...]], _Walk] = {}
        self._added: dict[str, list[str]] = {}
        self._changes: dict[str, list[_Walk]] = {}

    def changed(self) -> None:
        """In a transform's lines: the body may have changed, so the walks made before are stale."""
        self._changes[self._spot()] = list(self._walks.values())

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

    def walk_path(self, holder: str, path: str, descend: tuple[str, ...], state: str, start: str,
                  visit: Callable[[str], None], deeper: Callable[[str], None], unless: str | None = None) -> None:
        """`walk_blocks` over the list at `path` of `holder` (plain keys), the local `state` starting as `start`
        (what `visit` and `deeper` update); skipped when the local `unless` holds (then `state` stays `start`),
        or shared with an earlier walk of the same list (see the class)."""
        key = (holder, path, descend)
        shared = self._walks.get(key)
        if shared is not None:
            if not shared.stale:
                shared.stale = self.temp()
                self._added[shared.before].append(f"{shared.stale} = False")
            self._added[shared.before].append(f"{state} = {start}")
            for is_visit, spot, local in shared.spots:
                self._added[spot].extend(self._lines(visit if is_visit else deeper, local))
            self.line(f"if {shared.stale}:")  # (a transform ran since that walk: walk again)
            self.code.indent += "    "
        self.line(f"{state} = {start}")
        if unless is not None:
            self.line(f"if not {unless}:")
            self.code.indent += "    "
        walk = None
        if shared is None and unless is None and self.code.indent == self.base:
            walk = self._walks[key] = _Walk(self._spot())
        root = self.read(holder, path)
        assert root is not None, path
        self.walk_blocks(root, descend, visit, deeper, spots=None if walk is None else walk.spots)
        self.code.indent = self.base

    def _spot(self) -> str:
        """A placeholder line where lines of a later guard may be added (`finish`)."""
        spot = f"\x00{len(self._added)}"
        self._added[spot] = []
        self.line(spot)
        return spot

    def _lines(self, emit: Callable[[str], None], local: str) -> list[str]:
        """What `emit(local)` writes, at no indentation, instead of writing it."""
        lines, indent = self.code.lines, self.code.indent
        self.code.lines, self.code.indent = [], ""
        try:
            emit(local)
            return self.code.lines
        finally:
            self.code.lines, self.code.indent = lines, indent

    def finish(self) -> None:
        """Write the lines added to each shared walk where its placeholder is, and where a transform ran, the
        lines marking the shared walks made before it stale; drop the other placeholders."""
        for spot, walks in self._changes.items():
            self._added[spot] = [f"{walk.stale} = True" for walk in walks if walk.stale]
        out: list[str] = []
        for text in self.code.lines:
            spot = text.lstrip(" ")
            if spot in self._added:
                indent = text[: len(text) - len(spot)]
                out.extend(indent + line for line in self._added[spot])
            else:
                out.append(text)
        self.code.lines[:] = out

    def walk_blocks(self, root: str, descend: tuple[str, ...], visit: Callable[[str], None],
                    deeper: Callable[[str], None], depth: int = 2,
                    spots: list[tuple[bool, str, str]] | None = None) -> None:
        """Loops over the objects that are items of the list `root`, following their `descend` keys: `visit(item)`
        emits the lines for one object; `depth` levels are inlined and `deeper(list)` emits the call that
        handles a list below them (the transform's own recursive helper). With `spots`, a placeholder follows
        each `visit` and `deeper` (where a later guard's lines for the same item or list go: `walk_path`)."""
        item = self.temp()
        self.line(f"if isinstance({root}, list):")
        self.code.indent += "    "
        self.line(f"for {item} in {root}:")
        self.code.indent += "    "
        self.line(f"if isinstance({item}, dict):")
        self.code.indent += "    "
        visit(item)
        if spots is not None:
            spots.append((True, self._spot(), item))
        for key in descend:
            child = self.temp()
            self.line(f"{child} = {item}.get({self.bind(key)})")
            if depth > 1:
                self.walk_blocks(child, descend, visit, deeper, depth - 1, spots)
            else:
                self.line(f"if isinstance({child}, list):")
                self.code.indent += "    "
                deeper(child)
                if spots is not None:
                    spots.append((False, self._spot(), child))
                self.code.indent = self.code.indent[:-4]
        self.code.indent = self.code.indent[:-12]


class _Walk:
    """A walk other guards may share: the placeholders before it and at each item and list it visits, and the
    local saying a transform ran since (once a guard shares it)."""

    __slots__ = ("before", "spots", "stale")

    def __init__(self, before: str) -> None:
        self.before = before
        self.spots: list[tuple[bool, str, str]] = []
        self.stale = ""


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
