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
from typing import Any, NamedTuple

from .codegen import FunctionBuilder, Shape
from .paths import is_simple, split_path


class WrittenList(NamedTuple):
    """A list the body mapping wrote at the top-level `key`, with what its objects hold when the mapping returned
    true (its flag): each is of shape `items`, where a value `("local", name)` with `name` in `lists` is a list of
    objects of that shape, and any other local value is a string (e.g. every turn made from a string content)."""

    key: str
    items: Shape
    lists: dict[str, Shape]


Inert = Callable[[Shape], bool]
"""A guard's visit as a test on a known shape: true when visiting an object of that shape changes nothing."""


def inert_walk(written: WrittenList, descend: tuple[str, ...], tests: list[Inert]) -> bool:
    """Whether walking `written`'s list (following `descend`) with visits that each of `tests` says are inert on
    every object it reaches changes nothing: decided on the shapes, at compile time."""

    def inert(shape: Shape, depth: int) -> bool:
        if depth > 8 or not all(test(shape) for test in tests):
            return False
        for key in descend:
            kind, value = shape.get(key, ("const", None))
            if kind == "local" and value in written.lists and not inert(written.lists[value], depth + 1):
                return False
        return True

    return inert(written.items, 0)


class GuardCode:
    """What a guard writes with: the encoder's `FunctionBuilder` plus reads and block walks over locals.

    Walks are shared: a guard walking the same list the same way (`walk_path`: same path, same `descend`) as an
    earlier guard of the same `adjust:` block adds its lines to that walk instead of walking again, unless a
    transform ran since (a local per shared walk, set by the lines of every transform after it, `changed`: the
    body may have changed), in which case it walks on its own. `finish()` writes the added lines in place."""

    def __init__(self, code: FunctionBuilder, written: tuple[WrittenList, str] | None = None) -> None:
        self.code = code
        self.written = written
        """A list the mapping wrote (`WrittenList`) and the local holding its flag: a walk of it is skipped while
        the flag holds (no transform ran since: each one clears it) when every guard sharing the walk says its
        visits are inert on the list's shapes."""
        self.base = code.indent
        """The indentation of the block's own lines: a walk emitted there runs on every call (it can be shared)."""
        self._walks: dict[tuple[str, str, tuple[str, ...]], _Walk] = {}
        self._added: dict[str, list[str]] = {}
        self._changes: dict[str, list[_Walk]] = {}

    def changed(self) -> None:
        """In a transform's lines: the body may have changed, so the walks made before are stale (and a written
        list's flag no longer says anything)."""
        self._changes[self._spot()] = list(self._walks.values())
        if self.written is not None:
            self.line(f"{self.written[1]} = False")

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
                  visit: Callable[[str], None], deeper: Callable[[str], None], unless: str | None = None,
                  inert: Inert | None = None) -> None:
        """`walk_blocks` over the list at `path` of `holder` (plain keys), the local `state` starting as `start`
        (what `visit` and `deeper` update); skipped when the local `unless` holds (then `state` stays `start`),
        or shared with an earlier walk of the same list (see the class). `inert`: `visit` as a test on a known
        shape, so a walk of a list the mapping wrote can be skipped (`written`)."""
        key = (holder, path, descend)
        shared = self._walks.get(key)
        if shared is not None:
            if not shared.stale:
                shared.stale = self.temp()
                self._added[shared.before].append(f"{shared.stale} = False")
            self._added[shared.before].append(f"{state} = {start}")
            for is_visit, spot, local in shared.spots:
                self._added[spot].extend(self._lines(visit if is_visit else deeper, local))
            shared.tests = None if shared.tests is None or inert is None else [*shared.tests, inert]
            self.line(f"if {shared.stale}:")  # (a transform ran since that walk: walk again)
            self.code.indent += "    "
        self.line(f"{state} = {start}")
        if unless is not None:
            self.line(f"if not {unless}:")
            self.code.indent += "    "
        walk = None
        if shared is None and unless is None and self.code.indent == self.base:
            walk = self._walks[key] = _Walk(self._spot(), descend)
            written = self.written
            if written is not None and holder == "body" and plain_path(path) == (written[0].key,):
                walk.tests = None if inert is None else [inert]
                walk.skip = f"\x01{len(self._added)}"  # (`finish` makes it the flag's test, or nothing)
                self._added[walk.skip] = []
                self.line(f"if {walk.skip}:")
                self.code.indent += "    "
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
        lines marking the shared walks made before it stale; drop the other placeholders. A walk of the written
        list runs unless its flag holds, when every guard sharing it is inert on the list's shapes."""
        for spot, walks in self._changes.items():
            self._added[spot] = [f"{walk.stale} = True" for walk in walks if walk.stale]
        skips: dict[str, str] = {}
        for walk in self._walks.values():
            if walk.skip:
                skip = self.written is not None and walk.tests is not None and inert_walk(
                    self.written[0], walk.descend, walk.tests)
                skips[f"if {walk.skip}:"] = f"if not {self.written[1]}:" if skip and self.written else "if True:"
        out: list[str] = []
        for text in self.code.lines:
            spot = text.lstrip(" ")
            if spot in self._added:
                indent = text[: len(text) - len(spot)]
                out.extend(indent + line for line in self._added[spot])
            elif spot in skips:
                out.append(text[: len(text) - len(spot)] + skips[spot])
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

    __slots__ = ("before", "descend", "skip", "spots", "stale", "tests")

    def __init__(self, before: str, descend: tuple[str, ...]) -> None:
        self.before = before
        self.descend = descend
        self.spots: list[tuple[bool, str, str]] = []
        self.stale = ""
        self.skip = ""
        """The placeholder of the test that skips a walk of the written list (`finish`), or ''."""
        self.tests: list[Inert] | None = None
        """The sharing guards' visits as tests on shapes (None: one of them has none; the walk always runs)."""


def plain_path(path: str) -> tuple[str, ...] | None:
    if path in ("", "@", "$") or not is_simple(path):
        return None
    steps = split_path(path)
    return tuple(str(s) for s in steps) if all(isinstance(s, str) for s in steps) else None


Guard = Callable[[Mapping[str, Any], str, GuardCode], str]
"""`guard(args, value, code)`: emit lines and return the expression that is false only when the transform (with
`args`) leaves the local `value` as it is and warns nothing."""

GUARDS: dict[str, Guard] = {}

Needs = Callable[[Mapping[str, Any]], tuple[str, ...]]
"""`needs(args)`: top-level body keys, one of which the body must hold for the guard (with `args`) to be true."""

NEEDS: dict[str, Needs] = {}


def guard(name: str, needs: Needs | None = None) -> Callable[[Guard], Guard]:
    """Declare the guard of the transform `name` (beside its factory), and what it needs of the body (`NEEDS`:
    consecutive `adjust:` entries none of whose keys the body holds are skipped with one test)."""

    def decorate(function: Guard) -> Guard:
        GUARDS[name] = function
        if needs is not None:
            NEEDS[name] = needs
        return function

    return decorate


def first_keys(*paths: Any) -> tuple[str, ...]:
    """The first key of each path (for `needs`); () when one is not plain keys (then nothing is known)."""
    keys = []
    for path in paths:
        found = plain_path(str(path))
        if found is None:
            return ()
        keys.append(found[0])
    return tuple(keys)
