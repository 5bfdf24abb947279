"""Functions assembled from lines of source at compile time and turned into bytecode on their first call.

The template compiler (templates.py) lowers a whole template into the body of one function instead of a
tree of closures: `{text: $delta.text, index: $index}` then evaluates as one call doing a few dict lookups,
not seven nested calls (a Python call costs about as much as building the result). Spec data never
becomes source text: every key, literal, getter and transform the lines use is a name bound in the
function's own namespace (`bind`), so the generated source is made only of names and fixed syntax.

Bytecode is compiled on the first call, not when the plan is built: most templates of a plan (its model
overrides', content parts a program never sends) never run, and a process start stays cheap. Code objects
are shared between functions of the same source, i.e. the same template shape.

Each function is named after what it does (`template`, `read_choice`, ...) and its source is registered in
`linecache` under a file name of its own (`vllora-llm/generated/<name>_<hash>.py`), so a traceback through
generated code shows its real lines (as dataclasses and attrs do). The entry is linecache's lazy form: the
lines are made when a traceback (or anyone) first asks for them. A source is interned, so the functions a
spec's override layers build from the same template (most of them) share one string. `collect()` hands back
the source of every function built while it is open: what `vllora-llm spec compile` prints.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import linecache
import sys
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from types import CodeType, FunctionType
from typing import Any

_CODE: dict[str, CodeType] = {}
_STUBS: dict[tuple[str, tuple[str, ...]], CodeType] = {}
_COLLECTING: list[list[tuple[str, str, dict[str, Any]]]] = []


def filename(name: str, source: str) -> str:
    """The file name generated source is registered under: the function's name and a hash of its source."""
    return f"vllora-llm/generated/{name}_{hashlib.sha1(source.encode()).hexdigest()[:10]}.py"


def _function_code(source: str, name: str) -> CodeType:
    """The code object of the one function `source` defines (cached by source), its source in `linecache`."""
    code = _CODE.get(source)
    if code is None:
        where = filename(name, source)
        linecache.cache[where] = (partial(str, source),)  # (lazy: its lines are made when first read)
        scratch: dict[str, Any] = {}
        exec(compile(source, where, "exec"), scratch)
        code = scratch[name].__code__
        if len(_CODE) < 8192:
            _CODE[source] = code
    return code


def _stub(name: str, args: tuple[str, ...]) -> CodeType:
    """A function body that compiles the real body, installs it in place of itself and runs it."""
    stub = _STUBS.get((name, args))
    if stub is None:
        params = ", ".join(args)
        stub = _STUBS[name, args] = _function_code(f"def {name}({params}):\n    return _compile_now({params})\n",
                                                   name)
    return stub


OBJECT = "\x00object"
"""`reads[OBJECT, local]`: the local holding `local` as a dict (`FunctionBuilder.object_of`)."""
_NO_KEYS: dict[str, Any] = {}
"""What `object_of` reads keys from when a value is not an object (never written)."""


@contextlib.contextmanager
def collect() -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    """`with collect() as built:` gives the (file name, source, bound names) of every function built inside the
    block."""
    built: list[tuple[str, str, dict[str, Any]]] = []
    _COLLECTING.append(built)
    try:
        yield built
    finally:
        _COLLECTING.remove(built)


class FunctionBuilder:
    """Collect lines, bound values and temporaries; `build(result)` returns the function."""

    __slots__ = ("_temps", "_view_names", "args", "dicts", "indent", "known", "lines", "name", "namespace",
                 "passes_ctx", "present", "reads", "settled", "shapes", "texts", "views")

    def __init__(self, args: tuple[str, ...], name: str = "template",
                 views: Mapping[tuple[str, ...], tuple[type, Mapping[str, str]]] | None = None,
                 settle: bool = False) -> None:
        self.args = args
        self.name = name
        """The function's name (an identifier saying what it does), shown in tracebacks."""
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {"__builtins__": builtins}
        self._temps = 0
        self.indent = ""
        """Prefix of the lines emitted now (inside a branch: four spaces more)."""
        self.reads: dict[tuple[str, ...], str] = {}
        """Key paths already read into a local (see templates._inline_getter): the body is straight-line code,
        so a local assigned once holds for every later line."""
        self.views = views or {}
        """The view Structs the item is decoded into (views.py): key path from the item → (Struct, attribute of
        each key); a path not in it is a dict."""
        self._view_names: dict[tuple[str, ...], str] = {}
        self.known: set[str] = set()
        """Locals known to hold their view Struct where the lines are emitted now (the caller tested it and
        left the block otherwise): their fields are read without a type test."""
        self.settled: set[str] | None = set() if settle else None
        """With `settle`: the locals holding a view Struct for certain (`settle`), read without a type test."""
        self.dicts = False
        """Set over straight-line code: a local assigned once (`item`, a key path's local in `reads`) that is
        read as an object is tested once (`object_of`), and its keys are read without a type test each."""
        self.present: set[str] = set()
        """Locals of `reads` known never to be None (an object built of them takes them without a test)."""
        self.texts: set[str] = set()
        """Locals that hold a str wherever they are assigned (an inline form that only gives text says so): a
        test that such a local is a str is proved away (`response_pieces.call_field_checks`)."""
        self.passes_ctx = False
        """Set when a line passes `ctx` on (a transform's or `$each`'s call, templates.py): a caller that must
        give them a `ctx.path` of its own resets it, emits, and looks."""
        self.shapes: dict[str, tuple[int, Shape]] = {}
        """Objects built by one dict display and never changed after (templates._lower records them): the local
        holding it → (the index of that line, what it holds). See `shape_of`."""

    def step(self, holder: str, prefix: tuple[str, ...], key: str) -> str:
        """The expression reading `key` from the local `holder` (the value at key path `prefix` of the item), as
        paths.py's getters do (None when the step is missing or not an object): an attribute of the view Struct
        the compiler decoded that value into, else a dict lookup."""
        view = self.views.get(prefix)
        if view is not None:
            if holder in self.known or (self.settled is not None and holder in self.settled):
                return f"{holder}.{view[1][key]}"
            return f"{holder}.{view[1][key]} if type({holder}) is {self._view_name(prefix)} else None"
        if self.dicts and (holder == "item" or holder in self.reads.values()):
            return f"{self.object_of(holder)}.get({self.bind(key)})"
        return f"{holder}.get({self.bind(key)}) if type({holder}) is dict else None"

    def object_of(self, holder: str) -> str:
        """A local holding the local `holder` when it is a dict, else an empty dict (shared: generated code only
        reads it, and never hands it out), assigned at its first use; kept in `reads`, so it is forgotten
        wherever what was read is (a branch, another item)."""
        key = (OBJECT, holder)
        local = self.reads.get(key)
        if local is None:
            local = self.reads[key] = self.temp()
            self.line(f"{local} = {holder} if type({holder}) is dict else {self.bind(_NO_KEYS)}")
        return local

    @contextlib.contextmanager
    def other_item(self, views: Mapping[tuple[str, ...], tuple[type, Mapping[str, str]]],
                   reads: Mapping[tuple[str, ...], str]) -> Iterator[None]:
        """Inside the block, templates are lowered against another value, which the caller assigned to `item`:
        its view types and the key paths of it already read into locals (`reads`)."""
        saved = self.views, self._view_names, self.reads, self.known, self.settled
        self.views, self._view_names, self.reads, self.known = views, {}, dict(reads), set()
        self.settled = None if self.settled is None else set()
        try:
            yield
        finally:
            self.views, self._view_names, self.reads, self.known, self.settled = saved

    def settle(self, local: str, prefix: tuple[str, ...]) -> None:
        """When the builder settles views: make `local` (the value at key path `prefix`, decoded into a view
        Struct there) that Struct for certain, an empty one (every field None) when the payload held something
        else there, so that each field is then read without a type test: one test per object, not per field.

        Sound because a path decoded into a view is only stepped through, never read as a whole value (one
        read whole is decoded whole: views.py), and the generated code never writes to the value it reads."""
        view = self.views.get(prefix)
        if self.settled is None or view is None or local in self.settled:
            return
        name = self._view_name(prefix)
        self.line(f"if type({local}) is not {name}: {local} = {self.bind(view[0]())}")
        self.settled.add(local)

    def _view_name(self, prefix: tuple[str, ...]) -> str:
        return self._view_names.get(prefix) or self._view_names.setdefault(prefix, self.bind(self.views[prefix][0]))

    def shape_of(self, local: str, start: int) -> Shape | None:
        """What the object in `local` holds when the lines emitted since `start` are only the dict display that
        built it (its keys constants, its values bound scalars or locals of `present`); None for anything else
        (a key set only sometimes, a transform call, a nested object): then nothing is known."""
        recorded = self.shapes.get(local)
        if recorded is None or recorded[0] != start or len(self.lines) != start + 1:
            return None
        return recorded[1]

    def bind(self, value: Any) -> str:
        """A name for `value` in the function's namespace (how data reaches the generated code)."""
        name = f"_b{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def temp(self) -> str:
        self._temps += 1
        return f"_t{self._temps}"

    def line(self, text: str) -> None:
        self.lines.append(self.indent + text)

    def source(self, result: str) -> str:
        """The function's source: the lines, then `return result` (none when `result` is empty: the lines
        return or raise on every path themselves)."""
        body = "".join(f"    {line}\n" for line in self.lines)
        return f"def {self.name}({', '.join(self.args)}):\n{body}" + (f"    return {result}\n" if result else "")

    def build(self, result: str) -> Callable[..., Any]:
        """The function running the lines and returning the expression `result`."""
        source, name = sys.intern(self.source(result)), self.name
        namespace = self.namespace
        for built in _COLLECTING:
            built.append((filename(name, source), source, namespace))
        function = FunctionType(_stub(name, self.args), namespace, name)

        def compile_now(*args: Any) -> Any:
            nonlocal source
            text = source
            if text:  # (the first call; a call racing it in another thread may compile it too: same code)
                function.__code__ = _function_code(text, name)
                source = ""  # the code object has it now (as its linecache entry does)
            return function(*args)

        namespace["_compile_now"] = compile_now
        return function


Shape = dict[str, tuple[str, Any]]
"""What an object built by one line of generated code holds, known at compile time: each key → `("const",
value)` (a scalar bound constant) or `("local", name)` (the value of that local)."""
