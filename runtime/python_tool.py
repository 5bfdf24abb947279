"""Plain Python functions as tools for the tool loop (the public face is `vllora_llm.tool`).

The JSON schema of the arguments comes from the type hints, via msgspec (so Structs, dataclasses,
TypedDicts, Literals, Annotated constraints all work); the description and each argument's description come
from the docstring (its first paragraph, and `name: text` lines under an ``Args:`` section). Arguments the
model sends are converted to the hinted types before the call; a mismatch is an error result for the model.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Callable
from typing import Any, get_type_hints, overload

import msgspec

from .tool_output import ToolOutput, output_from_value

__all__ = ["FunctionTool", "function_tool"]

_ARG_LINE = re.compile(r"^\s*(?:[-*]\s*)?`?(\w+)`?\s*(?:\([^)]*\))?\s*:\s*(.+)$")


class FunctionTool:
    """A Python function the tool loop can offer and call. Calling the object calls the function."""

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None, description: str | None = None) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        summary, arg_docs = _parse_doc(inspect.getdoc(fn) or "")
        self.description = description if description is not None else (summary or None)
        self._signature = inspect.signature(fn)
        hints = get_type_hints(fn, include_extras=True)
        fields: list[tuple[str, Any, Any]] = []
        for param in self._signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TypeError(f"tool {self.name!r}: *args / **kwargs cannot be described as a JSON schema")
            hint = hints.get(param.name, Any)
            default = msgspec.NODEFAULT if param.default is param.empty else param.default
            fields.append((param.name, hint, default))
        self._args_type = msgspec.defstruct(f"{self.name}_args", fields, kw_only=True, forbid_unknown_fields=True)
        self.parameters = _inline_schema(msgspec.json.schema(self._args_type))
        for key, text in arg_docs.items():
            prop = self.parameters.get("properties", {}).get(key)
            if isinstance(prop, dict) and "description" not in prop:
                prop["description"] = text

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"FunctionTool({self.name!r})"

    async def call(self, arguments: dict[str, Any]) -> ToolOutput:
        """Convert the model's arguments, run the function (a sync one in a worker thread), and say the result."""
        try:
            converted = msgspec.convert(arguments, self._args_type, strict=False)
        except msgspec.ValidationError as exc:
            return ToolOutput(f"invalid arguments for {self.name}: {exc}", is_error=True)
        kwargs = {f: getattr(converted, f) for f in converted.__struct_fields__}
        if inspect.iscoroutinefunction(self.fn):
            value = await self.fn(**kwargs)
        else:
            value = await asyncio.to_thread(self.fn, **kwargs)
            if inspect.isawaitable(value):
                value = await value
        return output_from_value(value)


@overload
def function_tool(
    fn: Callable[..., Any], *, name: str | None = None, description: str | None = None
) -> FunctionTool: ...


@overload
def function_tool(
    fn: None = None, *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def function_tool(
    fn: Callable[..., Any] | None = None, *, name: str | None = None, description: str | None = None
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """`@tool` or `@tool(name=..., description=...)`."""
    if fn is None:
        return lambda f: FunctionTool(f, name=name, description=description)
    return FunctionTool(fn, name=name, description=description)


def _parse_doc(doc: str) -> tuple[str, dict[str, str]]:
    paragraphs = doc.split("\n\n")
    summary = paragraphs[0].strip().replace("\n", " ") if paragraphs else ""
    args: dict[str, str] = {}
    in_args = False
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped.rstrip(":").lower() in ("args", "arguments", "parameters"):
            in_args = True
            continue
        if in_args:
            match = _ARG_LINE.match(line)
            if match:
                args[match.group(1)] = match.group(2).strip()
            elif stripped and not line.startswith((" ", "\t")):
                in_args = False
    return summary, args


def _inline_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """msgspec's schema is a `$ref` into `$defs`; providers want the object itself at the top."""
    defs = schema.get("$defs", {})

    def resolve(node: Any, depth: int = 0) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/") and depth < 32:
                return resolve(defs.get(ref[len("#/$defs/"):], {}), depth + 1)
            return {k: resolve(v, depth) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(v, depth) for v in node]
        return node

    out: dict[str, Any] = resolve(schema)
    out.pop("title", None)
    return out
