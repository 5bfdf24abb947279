"""The registry of named transforms: the operators a spec may call by name.

Each transform is one small function, registered with an argument schema and examples. Specs refer to
it by name (`transform: as_list`, or `{$op: json_parse, in: $function.arguments}` inside a template). At
compile time the arguments are validated once and the factory returns the closure that runs per call, so
no argument checking happens on the hot path. Every example is run by a test and printed by
`vllora-llm spec transforms`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import MappingError
from .gateway import RequestWarning

Apply = Callable[[Any, "Context"], Any]
Factory = Callable[[Mapping[str, Any]], Apply]


class Context:
    """Per-call state a transform may touch: the warnings list and the field path being mapped."""

    __slots__ = ("path", "provider", "warnings")

    def __init__(self, provider: str = "", path: str = "") -> None:
        self.warnings: list[RequestWarning] = []
        self.provider = provider
        self.path = path

    def warn(self, code: str, message: str, param: str | None = None) -> None:
        self.warnings.append(RequestWarning(code=code, message=message, param=param or self.path or None))


@dataclass(frozen=True, slots=True)
class Example:
    input: Any
    output: Any
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Transform:
    name: str
    factory: Factory
    doc: str
    args_schema: dict[str, Any]
    examples: tuple[Example, ...]

REGISTRY: dict[str, Transform] = {}

_NO_ARGS: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}


def register(
    name: str, *, args: dict[str, Any] | None = None, examples: tuple[Example, ...] = ()
) -> Callable[[Factory], Factory]:
    """Add a transform factory to the registry (the explicit, listable extension point)."""

    def decorate(factory: Factory) -> Factory:
        doc = (factory.__doc__ or "").strip()
        REGISTRY[name] = Transform(name, factory, doc, args or _NO_ARGS, examples)
        return factory

    return decorate


def bind(name: str, args: Mapping[str, Any] | None = None) -> Apply:
    """The per-call closure for `name` with `args` (validated by the spec validator beforehand)."""
    return REGISTRY[name].factory(dict(args or {}))


def run_example(transform: Transform, example: Example) -> Any:
    return transform.factory(example.args)(example.input, Context(provider="example"))


# ---- value shape ------------------------------------------------------------------------------------------


@register("as_list", examples=(Example("END", ["END"]), Example(["a", "b"], ["a", "b"])))
def _as_list(args: Mapping[str, Any]) -> Apply:
    """A single value becomes a one-element list; a list stays as it is."""

    def apply(value: Any, ctx: Context) -> Any:
        return value if isinstance(value, list) else [value]

    return apply


@register("json_parse", examples=(Example('{"a": 1}', {"a": 1}), Example("", {})))
def _json_parse(args: Mapping[str, Any]) -> Apply:
    """Parse a JSON string (tool-call arguments) into a value; '' gives {}; bad JSON is a MappingError."""

    def apply(value: Any, ctx: Context) -> Any:
        if value is None or value == "":
            return {}
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise MappingError(f"{ctx.path or 'value'}: not valid JSON ({exc.msg})", path=ctx.path or None) from None

    return apply


@register("json_object_or_wrap", args={
    "type": "object", "additionalProperties": False, "properties": {"key": {"type": "string"}}},
    examples=(Example('{"ok": true}', {"ok": True}), Example("sunny", {"result": "sunny"}, {"key": "result"})))
def _json_object_or_wrap(args: Mapping[str, Any]) -> Apply:
    """A JSON object string becomes that object; anything else is wrapped as {key: value}."""
    key = str(args.get("key", "result"))

    def apply(value: Any, ctx: Context) -> Any:
        if isinstance(value, str):
            try:
                parsed = json.loads(value)
            except ValueError:
                return {key: value}
            return parsed if isinstance(parsed, dict) else {key: parsed}
        return value if isinstance(value, dict) else {key: value}

    return apply


_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
"""What `json.dumps(value, separators=(",", ":"), ensure_ascii=False)` builds on every call, built once."""


@register("json_dumps", examples=(Example({"a": 1}, '{"a":1}'), Example(None, "{}")))
def _json_dumps(args: Mapping[str, Any]) -> Apply:
    """Serialise a value (tool input object) to compact JSON text; None gives '{}'."""
    encode = _COMPACT.encode

    def apply(value: Any, ctx: Context) -> Any:
        if value is None:
            return "{}"
        return encode(value)

    return apply


@register("coalesce", examples=(Example([None, "b", "c"], "b"), Example([None, None], None)))
def _coalesce(args: Mapping[str, Any]) -> Apply:
    """The first element of a list that is not None (a default for an optional value)."""

    def apply(value: Any, ctx: Context) -> Any:
        for item in value or ():
            if item is not None:
                return item
        return None

    return apply


@register("sum", examples=(Example([1, None, 2], 3), Example([None], 0)))
def _sum(args: Mapping[str, Any]) -> Apply:
    """Add up the numbers of a list, None counting as 0 (token counts split across fields)."""

    def apply(value: Any, ctx: Context) -> Any:
        return sum(v for v in (value or ()) if isinstance(v, (int, float)))

    return apply


@register("join", args={"type": "object", "additionalProperties": False, "properties": {"sep": {"type": "string"}}},
          examples=(Example(["a", None, "b"], "a\nb", {"sep": "\n"}),))
def _join(args: Mapping[str, Any]) -> Apply:
    """Join the strings of a list (None skipped) with `sep`."""
    sep = str(args.get("sep", ""))

    def apply(value: Any, ctx: Context) -> Any:
        if isinstance(value, str):
            return value
        return sep.join(str(v) for v in (value or ()) if v is not None)

    return apply


@register("duration_seconds", examples=(Example("13s", 13.0), Example("1.5s", 1.5), Example(7, 7.0)))
def _duration_seconds(args: Mapping[str, Any]) -> Apply:
    """A protobuf-style duration ('13s', '1.5s') or a number, as float seconds; unreadable gives None."""

    def apply(value: Any, ctx: Context) -> Any:
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            text = value.strip().removesuffix("s")
            try:
                return float(text)
            except ValueError:
                return None
        return None

    return apply


# ---- data URLs --------------------------------------------------------------------------------------------

_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[^;,]*)*),(?P<data>.*)$", re.S)


def parse_data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 payload) of a data URL, or None when `url` is not one."""
    match = _DATA_URL.match(url)
    if not match:
        return None
    mime = match.group("mime") or "text/plain"
    data = match.group("data")
    if ";base64" not in (match.group("params") or ""):
        data = base64.b64encode(data.encode()).decode()
    return mime, data


@register("data_url_media_type", examples=(Example("data:image/png;base64,iVBO", "image/png"),
                                           Example("https://x/y.png", None)))
def _data_url_media_type(args: Mapping[str, Any]) -> Apply:
    """The media type of a data URL; None for any other URL."""

    def apply(value: Any, ctx: Context) -> Any:
        parsed = parse_data_url(value) if isinstance(value, str) else None
        return parsed[0] if parsed else None

    return apply


@register("data_url_data", examples=(Example("data:image/png;base64,iVBO", "iVBO"),
                                     Example("https://x/y.png", None)))
def _data_url_data(args: Mapping[str, Any]) -> Apply:
    """The base64 payload of a data URL; None for any other URL."""

    def apply(value: Any, ctx: Context) -> Any:
        parsed = parse_data_url(value) if isinstance(value, str) else None
        return parsed[1] if parsed else None

    return apply


@register("media_subtype", examples=(Example("image/png", "png"), Example("image/jpeg", "jpeg")))
def _media_subtype(args: Mapping[str, Any]) -> Apply:
    """`image/png` → `png` (formats named by subtype)."""

    def apply(value: Any, ctx: Context) -> Any:
        return value.split("/", 1)[1] if isinstance(value, str) and "/" in value else None

    return apply


@register("not_data_url", examples=(Example("https://x/y.png", "https://x/y.png"),
                                    Example("data:image/png;base64,iVBO", None)))
def _not_data_url(args: Mapping[str, Any]) -> Apply:
    """The URL itself unless it is a data URL (None then): picks the by-reference form of an image."""

    def apply(value: Any, ctx: Context) -> Any:
        return None if isinstance(value, str) and value.startswith("data:") else value

    return apply


@register("require", args={"type": "object", "additionalProperties": False, "required": ["message"],
                           "properties": {"message": {"type": "string"}}},
          examples=(Example("x", "x", {"message": "needed"}),))
def _require(args: Mapping[str, Any]) -> Apply:
    """Pass the value through; None raises a MappingError with `message` (a shape the provider cannot take)."""
    message = str(args["message"])

    def apply(value: Any, ctx: Context) -> Any:
        if value is None:
            raise MappingError(f"{ctx.path or 'value'}: {message}", path=ctx.path or None)
        return value

    return apply


# ---- JSON Schema ------------------------------------------------------------------------------------------


@register("schema_strip_keys", args={
    "type": "object", "additionalProperties": False, "required": ["keys"],
    "properties": {"keys": {"type": "array", "items": {"type": "string"}}, "warn": {"type": "boolean"}}},
    examples=(Example({"$schema": "x", "type": "object", "additionalProperties": False,
                       "properties": {"a": {"type": "string", "additionalProperties": False}}},
                      {"type": "object", "properties": {"a": {"type": "string"}}},
                      {"keys": ["$schema", "additionalProperties"]}),))
def _schema_strip_keys(args: Mapping[str, Any]) -> Apply:
    """Remove the named keywords everywhere in a JSON Schema (never inside `properties` names)."""
    keys = frozenset(args["keys"])
    warn = bool(args.get("warn", False))

    def strip(node: Any, ctx: Context, in_properties: bool) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if not in_properties and key in keys:
                    if warn:
                        ctx.warn("schema_keyword_dropped", f"JSON Schema keyword {key!r} is not supported; dropped")
                    continue
                out[key] = strip(value, ctx, key == "properties" and not in_properties)
            return out
        if isinstance(node, list):
            return [strip(item, ctx, False) for item in node]
        return node

    def apply(value: Any, ctx: Context) -> Any:
        return strip(value, ctx, False)

    return apply


@register("empty_object_schema", examples=(Example(None, {"type": "object", "properties": {}}),
                                           Example({"type": "object"}, {"type": "object"})))
def _empty_object_schema(args: Mapping[str, Any]) -> Apply:
    """A missing parameters schema becomes an object schema with no properties."""

    def apply(value: Any, ctx: Context) -> Any:
        return value if value is not None else {"type": "object", "properties": {}}

    return apply


from . import ops_body, ops_schema, ops_shape, ops_tools, ops_values  # noqa: E402,F401  (modules register on import)
