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

import msgspec

from .errors import MappingError, ProviderError
from .gateway import RequestWarning
from .inline import Emit, InlineCode, inline

Apply = Callable[[Any, "Context"], Any]
Factory = Callable[[Mapping[str, Any]], Apply]


class Context(msgspec.Struct):
    """Per-call state a transform may touch: the warnings list and the field path being mapped. (A Struct: one
    is made per request, and its C constructor costs a third of a Python `__init__`.)"""

    provider: str = ""
    path: str = ""
    warnings: list[RequestWarning] = []  # (a new list for each: msgspec copies an empty default)

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


_JSON_STARTS = frozenset('{["-0123456789tfnNI')
"""The characters a text json.loads accepts can start with (after JSON whitespace; NaN and Infinity too)."""


@register("json_parse", args={
    "type": "object", "additionalProperties": False, "properties": {"wrap": {"type": "string"}}},
    examples=(Example('{"a": 1}', {"a": 1}), Example("", {}), Example('{"ok": true}', {"ok": True}, {"wrap": "result"}),
              Example("sunny", {"result": "sunny"}, {"wrap": "result"})))
def _json_parse(args: Mapping[str, Any]) -> Apply:
    """Parse a JSON string (tool-call arguments) into a value; '' gives {}; bad JSON is a MappingError. With
    `wrap: KEY`, anything that is not a JSON object (text, bad JSON, a list) comes back as {KEY: value}
    instead (a tool result the provider takes as an object)."""
    wrap = args.get("wrap")
    if wrap is not None:
        key = str(wrap)

        def wrapped(value: Any, ctx: Context) -> Any:
            if isinstance(value, str):
                if value.lstrip(" \t\n\r")[:1] not in _JSON_STARTS:
                    return {key: value}  # (plain text, the usual tool result: json.loads would only raise)
                try:
                    parsed = json.loads(value)
                except ValueError:
                    return {key: value}
                return parsed if isinstance(parsed, dict) else {key: parsed}
            return value if isinstance(value, dict) else {key: value}

        return wrapped

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


_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
"""What `json.dumps(value, separators=(",", ":"), ensure_ascii=False)` builds on every call, built once."""

_MAKE_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODER: Callable[[Any, int], Any] | None = (
    _MAKE_ENCODER(None, _COMPACT.default, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    if _MAKE_ENCODER is not None else None)
"""The C encoder `_COMPACT.encode` builds on every call for a value that is not a str (the same arguments),
built once and without the circular-reference check (no `markers` dict shared between calls): a circular
value makes it raise RecursionError, and `_COMPACT.encode` is then asked again for the proper error."""


TAKES_JSON_TEXT = frozenset({"json_dumps"})
"""Transforms that take a value as its JSON text too: a path a template reads only as their input is kept
undecoded in a payload's view (views.py: a `msgspec.Raw`), and they write that text as they would the value."""

_RAW_NULL = msgspec.Raw(b"null")


def _compact_text(raw: msgspec.Raw) -> str:
    """The JSON text of an undecoded value, compact: its whitespace removed, its numbers and escapes as written
    (the same value as `json_dumps` of it decoded; JSON null gives '{}', as None does)."""
    return "{}" if raw == _RAW_NULL else msgspec.json.format(raw, indent=-1).decode()


@register("json_dumps", examples=(Example({"a": 1}, '{"a":1}'), Example(None, "{}")))
def _json_dumps(args: Mapping[str, Any]) -> Apply:
    """Serialise a value (tool input object) to compact JSON text; None gives '{}'. A value a payload's view
    kept as its JSON text (msgspec.Raw) gives that text compacted, its numbers and escapes as they were sent."""
    encode = _COMPACT.encode
    fast = _C_ENCODER
    raw = msgspec.Raw
    if fast is None:  # (a Python without the C accelerator)
        def apply_slow(value: Any, ctx: Context) -> Any:
            return "{}" if value is None else _compact_text(value) if type(value) is raw else encode(value)

        return apply_slow
    join = "".join

    null, compact = _RAW_NULL, msgspec.json.format

    def apply(value: Any, ctx: Context) -> Any:
        if value is None:
            return "{}"
        if type(value) is raw:  # (`_compact_text`, without its call)
            return "{}" if value == null else compact(value, indent=-1).decode()
        if type(value) is str:
            return encode(value)
        try:
            return join(fast(value, 0))  # what `encode` does, without its two Python frames
        except RecursionError:
            return encode(value)  # (a circular value: its ValueError, or a value nested that deep: its error)

    return apply


@inline("json_dumps")
def _json_dumps_inline(args: Mapping[str, Any], source: Any) -> Emit | None:
    """A value a payload's view kept as its JSON text (msgspec.Raw, not null) compacted by the lines; any other
    value goes to the transform (a tool's arguments, one per call event: the call cost as much as the work)."""

    def emit(code: InlineCode) -> str:
        if not code.viewed:  # (a value read from plain data is never JSON text: the call)
            value = code.lower(source)
            return f"{code.apply}({value}, ctx)"
        value, text = code.local(code.lower(source)), code.temp()
        code.line(f"if type({value}) is {code.bind(msgspec.Raw)} and {value} != {code.bind(_RAW_NULL)}: "
                  f"{text} = {code.bind(msgspec.json.format)}({value}, indent=-1).decode()")
        code.line(f"else: {text} = {code.apply}({value}, ctx)")
        code.text(text)  # (both give a str: the transform's `apply` always does)
        return text

    return emit


@register("coalesce", examples=(Example([None, "b", "c"], "b"), Example([None, None], None)))
def _coalesce(args: Mapping[str, Any]) -> Apply:
    """The first element of a list that is not None (a default for an optional value)."""

    def apply(value: Any, ctx: Context) -> Any:
        for item in value or ():
            if item is not None:
                return item
        return None

    return apply


@register("sum", args={"type": "object", "additionalProperties": False, "properties": {"empty": {}}},
          examples=(Example([1, None, 2], 3), Example([None], 0), Example([None, None], None, {"empty": None}),
                    Example([0], 0, {"empty": None})))
def _sum(args: Mapping[str, Any]) -> Apply:
    """Add up the numbers of a list (token counts split across fields); `empty` (default 0) when none of them
    is a number (`empty: null`: an absent count is not zero)."""
    empty = args.get("empty", 0)

    def apply(value: Any, ctx: Context) -> Any:
        total: float = 0  # sum()'s start and order, without building a list (usage maps run it per response)
        found = False
        for v in value or ():
            kind = type(v)  # (exact int / float first: the usual counts, without two isinstance calls)
            if kind is int or kind is float or (kind is not bool and isinstance(v, (int, float))):
                total += v
                found = True
        return total if found else empty

    return apply


@inline("sum")
def _sum_inline(args: Mapping[str, Any], source: Any) -> Emit | None:
    """A sum of a list written in the template: each element evaluated into a local, then added in order."""
    if not isinstance(source, list):
        return None

    def emit(code: InlineCode) -> str:
        values = [code.local(code.lower(value, position)) for position, value in enumerate(source)]
        total, found = code.temp(), code.temp()
        if values:  # (every value an int, the usual token counts: one test, one sum)
            code.line(f"if {' and '.join(f'type({v}) is int' for v in values)}: {total} = {' + '.join(values)}")
            code.line("else:")
        indent = "    " if values else ""
        code.line(f"{indent}{total} = 0")
        code.line(f"{indent}{found} = False")
        for v in values:
            # (None tested first: an absent count is what usually sends a sum down this path)
            code.line(f"{indent}if {v} is not None and (type({v}) is int or type({v}) is float or ("
                      f"type({v}) is not bool and isinstance({v}, (int, float)))):")
            code.line(f"{indent}    {total} += {v}")
            code.line(f"{indent}    {found} = True")
        code.line(f"{indent}if not {found}: {total} = {code.bind(args.get('empty', 0))}")
        return total

    return emit


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


_LINK = re.compile(r"^https?://", re.IGNORECASE)
_SOURCE = {"inline": {"type": "base64", "media_type": "$media_type", "data": "$data"},
           "link": {"type": "url", "url": "$url"}}


@register("data_url", args={
    "type": "object", "additionalProperties": False,
    "oneOf": [{"required": ["part"], "not": {"anyOf": [{"required": ["inline"]}, {"required": ["link"]}]}},
              {"required": ["inline", "link"], "not": {"required": ["part"]}}],
    "properties": {"part": {"enum": ["media_type", "data", "link"]}, "inline": {"type": "object"},
                   "link": {"type": "object"}}},
    examples=(Example("data:image/png;base64,iVBO", "image/png", {"part": "media_type"}),
              Example("data:image/png;base64,iVBO", "iVBO", {"part": "data"}),
              Example("https://x/y.png", None, {"part": "data"}),
              Example("https://x/y.png", "https://x/y.png", {"part": "link"}),
              Example("data:image/png;base64,iVBO", None, {"part": "link"}),
              Example("data:image/png;base64,iVBO", {"type": "base64", "media_type": "image/png", "data": "iVBO"},
                      _SOURCE),
              Example("https://x/y.png", {"type": "url", "url": "https://x/y.png"}, _SOURCE),
              Example("y.png", None, _SOURCE)))
def _data_url(args: Mapping[str, Any]) -> Apply:
    """A URL that may be a data URL. With `part`: its `media_type` or base64 `data` (None for any other URL),
    or the URL itself when it is not a data URL (`link`; None for a data URL). With `inline` and `link`
    templates: the provider's content source, a data URL rendered by `inline` (with `$media_type` and
    `$data`), an http(s) URL by `link` (with `$url`); anything else is None."""
    if "part" not in args:
        return _source(args)
    part = args["part"]
    if part == "link":
        def link(value: Any, ctx: Context) -> Any:
            return None if isinstance(value, str) and value.startswith("data:") else value

        return link
    index = 0 if part == "media_type" else 1

    def apply(value: Any, ctx: Context) -> Any:
        parsed = parse_data_url(value) if isinstance(value, str) else None
        return parsed[index] if parsed else None

    return apply


def _source(args: Mapping[str, Any]) -> Apply:
    from .templates import compile_template  # templates import this registry: bind lazily

    inline = compile_template(args["inline"], ("args", "inline"))
    link = compile_template(args["link"], ("args", "link"))

    def apply(value: Any, ctx: Context) -> Any:
        if not isinstance(value, str):
            return None
        parsed = parse_data_url(value)
        if parsed is not None:
            return inline({"media_type": parsed[0], "data": parsed[1]}, ctx)
        if _LINK.match(value):
            return link({"url": value}, ctx)
        return None

    return apply


@register("media_subtype", examples=(Example("image/png", "png"), Example("image/jpeg", "jpeg")))
def _media_subtype(args: Mapping[str, Any]) -> Apply:
    """`image/png` → `png` (formats named by subtype)."""

    def apply(value: Any, ctx: Context) -> Any:
        return value.split("/", 1)[1] if isinstance(value, str) and "/" in value else None

    return apply


@register("require", args={
    "type": "object", "additionalProperties": False, "required": ["message"],
    "properties": {"message": {"type": "string"}, "absent": {"type": "boolean"},
                   "error": {"enum": ["mapping", "provider"]}}},
    examples=(Example("x", "x", {"message": "needed"}), Example(None, None, {"message": "x", "absent": True})))
def _require(args: Mapping[str, Any]) -> Apply:
    """Pass the value through when it is present (`absent: true`: when it is absent); otherwise raise with
    `message`: a MappingError (`error: mapping`, the default: a request shape the provider cannot take) or a
    ProviderError (`error: provider`: a response shape the spec cannot read)."""
    message = str(args["message"])
    absent = bool(args.get("absent", False))
    provider_side = args.get("error", "mapping") == "provider"

    def fail(ctx: Context) -> Exception:
        if provider_side:
            return ProviderError(message, provider=ctx.provider or None)
        return MappingError(f"{ctx.path or 'value'}: {message}", path=ctx.path or None, provider=ctx.provider or None)

    if absent:
        def forbid(value: Any, ctx: Context) -> Any:
            if value is None:
                return None
            raise fail(ctx)

        return forbid

    def apply(value: Any, ctx: Context) -> Any:
        if value is None:
            raise fail(ctx)
        return value

    return apply


@inline("require")
def _require_inline(args: Mapping[str, Any], source: Any) -> Emit | None:
    """The test inline; the transform is called only to raise."""
    absent = bool(args.get("absent", False))

    def emit(code: InlineCode) -> str:
        value = code.local(code.lower(source))
        code.line(f"if {value} is {'not ' if absent else ''}None: {code.apply}({value}, ctx)")
        return "None" if absent else value

    return emit


# ---- JSON Schema ------------------------------------------------------------------------------------------


@register("empty_object_schema", examples=(Example(None, {"type": "object", "properties": {}}),
                                           Example({"type": "object"}, {"type": "object"})))
def _empty_object_schema(args: Mapping[str, Any]) -> Apply:
    """A missing parameters schema becomes an object schema with no properties."""

    def apply(value: Any, ctx: Context) -> Any:
        return value if value is not None else {"type": "object", "properties": {}}

    return apply


from . import ops_body, ops_schema, ops_shape, ops_tools, ops_values  # noqa: E402,F401  (modules register on import)
