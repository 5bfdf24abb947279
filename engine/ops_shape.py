"""Value-shaping transforms: small operators that let a template say what plain JSON cannot.

They exist because a provider's JSON is often "the same data, arranged differently": a list that must sit
inside a one-key object (`[{declarations: [...]}]`), a sub-object that must vanish when all its fields are
empty (a by-reference image has no inline data), a scalar looked up in a table, several transforms in a
row, a count that is absent rather than zero. Each is generic, named for what it does, registered in the
transform registry with examples (which a test runs), and used from specs by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .inline import Emit, InlineCode, inline, is_object_template
from .transforms import REGISTRY, Apply, Context, Example, bind, register

_STEP: dict[str, Any] = {
    "oneOf": [
        {"type": "string"},
        {"type": "object", "additionalProperties": False, "required": ["name"],
         "properties": {"name": {"type": "string"}, "args": {"type": "object"}}},
    ]
}


@register("chain", args={
    "type": "object", "additionalProperties": False, "required": ["steps"],
    "properties": {"steps": {"type": "array", "minItems": 1, "items": _STEP}}},
    examples=(Example("END", ["END"], {"steps": ["as_list"]}),
              Example({"b": None}, None, {"steps": ["omit_empty", "as_list"]})))
def _chain(args: Mapping[str, Any]) -> Apply:
    """Run transforms one after another (`steps`: names or `{name, args}`); a step giving None stops the chain.
    (v1 files name it; a v2 file writes the list of calls itself, which is loaded as this.)"""
    from .templates import check_args  # the template module imports this registry; import it lazily

    steps: list[Apply] = []
    for step in args["steps"]:
        name = step if isinstance(step, str) else step["name"]
        step_args = {} if isinstance(step, str) else dict(step.get("args") or {})
        if name not in REGISTRY:
            raise ValueError(f"chain: unknown transform {name!r}")
        problem = check_args(name, step_args)
        if problem:
            raise ValueError(f"chain: {problem}")
        steps.append(bind(name, step_args))
    run = tuple(steps)

    def apply(value: Any, ctx: Context) -> Any:
        for step_fn in run:
            if value is None:
                return None
            value = step_fn(value, ctx)
        return value

    return apply


@register("omit", examples=(Example("gpt-x", None),))
def _omit(args: Mapping[str, Any]) -> Apply:
    """Write nothing: for a parameter the spec places elsewhere (e.g. a model that goes in the URL path)."""

    def apply(value: Any, ctx: Context) -> Any:
        return None

    return apply


@register("omit_empty", examples=(Example({"a": None}, None), Example({}, None), Example([], None),
                                  Example({"a": 1}, {"a": 1})))
def _omit_empty(args: Mapping[str, Any]) -> Apply:
    """An object whose fields are all None, an empty object or an empty list becomes None (the key is left out)."""

    def apply(value: Any, ctx: Context) -> Any:
        if isinstance(value, dict):
            if not value:  # the common case in responses (e.g. no signature on a text part): nothing to copy
                return None
            kept = {k: v for k, v in value.items() if v is not None}
            return kept or None
        if isinstance(value, list) and not value:
            return None
        return value

    return apply


@inline("omit_empty")
def _omit_empty_inline(args: Mapping[str, Any], source: Any) -> Emit | None:
    """Around an object or a list written in the template: what it builds holds no None, so it is kept unless
    it is empty."""
    if not is_object_template(source) and not isinstance(source, list):
        return None

    def emit(code: InlineCode) -> str:
        if not is_object_template(source) or not source or any(_constant(value) for value in source.values()):
            return f"({code.lower(source)} or None)"
        # (fields that may all be None: evaluated in order into locals, the object built only when one is not)
        values = {str(key): code.local(code.lower(value, str(key))) for key, value in source.items()}
        out = code.temp()
        code.line(f"if {' and '.join(f'{value} is None' for value in values.values())}: {out} = None")
        code.line("else:")
        code.line(f"    {out} = {{}}")
        for key, value in values.items():
            code.line(f"    if {value} is not None: {out}[{code.bind(key)}] = {value}")
        return out

    return emit


def _constant(template: Any) -> bool:
    """A literal other than None (an object template always writes it)."""
    if isinstance(template, str):
        return template.startswith("$$") or not template.startswith("$")
    return template is not None and not isinstance(template, (dict, list))


@register("lookup", args={
    "type": "object", "additionalProperties": False, "required": ["table"],
    "properties": {"table": {"type": "object"}, "default": {}}},
    examples=(Example("json_object", "application/json", {"table": {"json_object": "application/json"}}),
              Example("text", None, {"table": {"json_object": "application/json"}})))
def _lookup(args: Mapping[str, Any]) -> Apply:
    """Look a scalar up in `table` (keys compared as strings); a miss gives `default` (None when not given)."""
    table = {str(k): v for k, v in dict(args["table"]).items()}
    default = args.get("default")

    def apply(value: Any, ctx: Context) -> Any:
        if isinstance(value, bool):
            key = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            key = str(value)
        else:
            return default
        return table.get(key, default)

    return apply


@register("wrap", args={
    "type": "object", "additionalProperties": False, "required": ["key"],
    "properties": {"key": {"type": "string"}, "list": {"type": "boolean"}}},
    examples=(Example([{"name": "f"}], [{"decls": [{"name": "f"}]}], {"key": "decls", "list": True}),
              Example("x", {"k": "x"}, {"key": "k"})))
def _wrap(args: Mapping[str, Any]) -> Apply:
    """Put the value under `key` in a new object (`list: true`: inside a one-element list of that object)."""
    key = str(args["key"])
    as_list = bool(args.get("list", False))

    def apply(value: Any, ctx: Context) -> Any:
        wrapped = {key: value}
        return [wrapped] if as_list else wrapped

    return apply


_EXTENSIONS: dict[str, str] = {
    "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp",
    "heic": "image/heic", "heif": "image/heif", "pdf": "application/pdf", "txt": "text/plain",
    "md": "text/markdown", "html": "text/html", "csv": "text/csv", "json": "application/json",
    "mp3": "audio/mp3", "wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg", "aac": "audio/aac",
    "mp4": "video/mp4", "mov": "video/mov", "webm": "video/webm", "mpeg": "video/mpeg",
}


@register("media_type_from_extension", examples=(
    Example("https://example.com/cat.PNG?x=1", "image/png"), Example("https://example.com/doc", None)))
def _media_type_from_extension(args: Mapping[str, Any]) -> Apply:
    """The media type a URL's file extension names (query and fragment ignored); None when unknown."""

    def apply(value: Any, ctx: Context) -> Any:
        if not isinstance(value, str):
            return None
        path = value.split("#", 1)[0].split("?", 1)[0]
        name = path.rsplit("/", 1)[-1]
        if "." not in name:
            return None
        return _EXTENSIONS.get(name.rsplit(".", 1)[-1].lower())

    return apply
