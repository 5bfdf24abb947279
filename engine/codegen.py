"""Functions assembled from lines of source at compile time and turned into bytecode on their first call.

The template compiler (templates.py) lowers a whole template into the body of one function instead of a
tree of closures: `{text: $delta.text, index: $index}` then evaluates as one call doing a few dict lookups,
not seven nested calls (a Python call costs about as much as building the result). Spec data never
becomes source text: every key, literal, getter and transform the lines use is a name bound in the
function's own namespace (`bind`), so the generated source is made only of names and fixed syntax.

Bytecode is compiled on the first call, not when the plan is built: most templates of a plan (its model
overrides', content parts a program never sends) never run, and a process start stays cheap. Code objects
are shared between functions of the same source, i.e. the same template shape.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from types import CodeType, FunctionType
from typing import Any

_CODE: dict[str, CodeType] = {}
_STUBS: dict[tuple[str, ...], CodeType] = {}


def _function_code(source: str) -> CodeType:
    """The code object of the one function `source` defines (cached by source)."""
    code = _CODE.get(source)
    if code is None:
        scratch: dict[str, Any] = {}
        exec(compile(source, "<vllora-template>", "exec"), scratch)
        code = scratch["_generated"].__code__
        if len(_CODE) < 8192:
            _CODE[source] = code
    return code


def _stub(args: tuple[str, ...]) -> CodeType:
    """A function body that compiles the real body, installs it in place of itself and runs it."""
    stub = _STUBS.get(args)
    if stub is None:
        params = ", ".join(args)
        stub = _STUBS[args] = _function_code(f"def _generated({params}):\n    return _compile_now({params})\n")
    return stub


class FunctionBuilder:
    """Collect lines, bound values and temporaries; `build(result)` returns the function."""

    __slots__ = ("_temps", "args", "lines", "namespace", "reads")

    def __init__(self, args: tuple[str, ...]) -> None:
        self.args = args
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {"__builtins__": builtins}
        self._temps = 0
        self.reads: dict[tuple[str, ...], str] = {}
        """Key paths already read into a local (see templates._inline_getter): the body is straight-line code,
        so a local assigned once holds for every later line."""

    def bind(self, value: Any) -> str:
        """A name for `value` in the function's namespace (how data reaches the generated code)."""
        name = f"_b{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def temp(self) -> str:
        self._temps += 1
        return f"_t{self._temps}"

    def line(self, text: str) -> None:
        self.lines.append(text)

    def build(self, result: str) -> Callable[..., Any]:
        """The function running the lines and returning the expression `result`."""
        body = "".join(f"    {line}\n" for line in self.lines)
        source = f"def _generated({', '.join(self.args)}):\n{body}    return {result}\n"
        namespace = self.namespace
        function = FunctionType(_stub(self.args), namespace, "_generated")

        def compile_now(*args: Any) -> Any:
            function.__code__ = _function_code(source)
            return function(*args)

        namespace["_compile_now"] = compile_now
        return function
