"""Transforms on one value: defaults inside objects, list hygiene, token budgets, image sizes.

Registered in the transform registry like the ones in `transforms.py` (this module is imported at its
bottom). Each is small, generic and named for what it does; specs call them from parameter rules and
templates (`{$op: fill_defaults, in: $cache_control, defaults: {type: ephemeral}}`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import MappingError
from .inline import Emit, InlineCode, ItemTest, inline, item_test
from .regex_guard import MAX_REGEX_INPUT
from .transforms import Apply, Context, Example, register

# ---- objects ------------------------------------------------------------------------------------------------


@register("fill_defaults", args={
    "type": "object", "additionalProperties": False, "required": ["defaults"],
    "properties": {"defaults": {"type": "object"}}},
    examples=(Example({"ttl": "1h"}, {"type": "ephemeral", "ttl": "1h"}, {"defaults": {"type": "ephemeral"}}),
              Example({}, {"type": "ephemeral"}, {"defaults": {"type": "ephemeral"}}),
              Example(None, None, {"defaults": {"type": "ephemeral"}})))
def _fill_defaults(args: Mapping[str, Any]) -> Apply:
    """An object with `defaults` filled in where it has no value (a unified struct leaves its default values
    out); the object's own fields win. None stays None, so an absent option stays absent."""
    defaults = dict(args["defaults"])

    def apply(value: Any, ctx: Context) -> Any:
        if not isinstance(value, dict):
            return value
        return {**defaults, **value}

    return apply


@inline("fill_defaults")
def _fill_defaults_inline(args: Mapping[str, Any], source: Any) -> Emit | None:
    """None (an absent option: the usual value, e.g. a part's `cache_control`) stays None without a call."""

    def emit(code: InlineCode) -> str:
        value = code.local(code.lower(source))
        if value == "None":  # (a read known to be None, e.g. the cache mark of a string content)
            return "None"
        out = code.temp()
        code.line(f"{out} = None if {value} is None else {code.apply}({value}, ctx)")
        return out

    return emit


# ---- lists --------------------------------------------------------------------------------------------------


@register("drop_blank_items", examples=(Example(["END", " ", "\n"], ["END"]), Example([" "], None),
                                        Example(["a"], ["a"])))
def _drop_blank_items(args: Mapping[str, Any]) -> Apply:
    """A list without its empty or whitespace-only strings, each dropped with a warning (for providers that
    reject them); a list left empty is None (not sent)."""

    def apply(value: Any, ctx: Context) -> Any:
        if not isinstance(value, list):
            return value
        kept = [item for item in value if not (isinstance(item, str) and not item.strip())]
        for item in value:
            if isinstance(item, str) and not item.strip():
                ctx.warn("dropped_value", f"{ctx.path or 'value'}: the whitespace-only entry {item!r} is not "
                         f"accepted by {ctx.provider or 'the provider'}; it was not sent")
        return kept or None

    return apply


@register("select", args={
    "type": "object", "additionalProperties": False, "required": ["field"],
    "properties": {"field": {"type": "string"}, "suffix": {"type": "string"}, "values": {"type": "array"}}},
    examples=(
        Example([{"type": "text"}, {"type": "web_search_tool_result"}], [{"type": "web_search_tool_result"}],
                {"field": "type", "suffix": "_tool_result"}),
        Example([{"type": "a"}, {"type": "b"}, "x"], [{"type": "b"}], {"field": "type", "values": ["b"]}),
        Example(None, None, {"field": "type", "suffix": "_x"})))
def _select(args: Mapping[str, Any]) -> Apply:
    """The objects of a list whose `field` ends with `suffix` or is one of `values` (a JMESPath filter such as
    `[?ends_with(type, '_tool_result')]` as a transform: same answer, without JMESPath's per-call cost); None
    for anything that is not a list."""
    field = str(args["field"])
    suffix = args.get("suffix")
    values = tuple(args.get("values") or ())

    ends = suffix if isinstance(suffix, str) else None

    def apply(value: Any, ctx: Context) -> Any:
        if not isinstance(value, list):
            return None
        out = []
        for item in value:  # (inline, no call per item: this runs on every response that declares it)
            if isinstance(item, dict):
                found = item.get(field)
                if (ends is not None and isinstance(found, str) and found.endswith(ends)) or (
                        values and found in values):
                    out.append(item)
        return out

    return apply


@inline("select")
def _select_inline(args: Mapping[str, Any], source: Any) -> Emit | None:
    """The loop over the list written in the template's lines (a response reads it on every body: most hold
    no item it keeps)."""
    field = str(args["field"])
    suffix = args.get("suffix")
    ends = suffix if isinstance(suffix, str) else None
    values = tuple(args.get("values") or ())

    def emit(code: InlineCode) -> str:
        value = code.local(code.lower(source))
        out, item, found = code.temp(), code.temp(), code.temp()
        tests = [*([f"(isinstance({found}, str) and {found}.endswith({code.bind(ends)}))"] if ends is not None else []),
                 *([f"{found} in {code.bind(values)}"] if values else [])]
        code.line(f"if isinstance({value}, list):")
        code.line(f"    {out} = []")
        code.line(f"    for {item} in {value}:")
        code.line(f"        if isinstance({item}, dict):")
        code.line(f"            {found} = {item}.get({code.bind(field)})")
        code.line(f"            if {' or '.join(tests) or 'False'}: {out}.append({item})")
        code.line(f"else: {out} = None")
        return out

    return emit


@item_test("select")
def _select_item_test(args: Mapping[str, Any]) -> tuple[str, ItemTest] | None:
    """An item counts when its field ends with the suffix or is one of the values (what `apply` keeps)."""
    suffix = args.get("suffix")
    ends = suffix if isinstance(suffix, str) else None
    values = tuple(args.get("values") or ())

    def test(local: str, bind: Callable[[Any], str]) -> str:
        tests = [*([f"(isinstance({local}, str) and {local}.endswith({bind(ends)}))"] if ends is not None else []),
                 *([f"{local} in {bind(values)}"] if values else [])]
        return " or ".join(tests) or "False"

    return str(args["field"]), test


@register("drop_when", args={
    "type": "object", "additionalProperties": False, "required": ["reason"],
    "oneOf": [{"required": ["field", "values"], "not": {"required": ["pattern"]}},
              {"required": ["pattern"], "not": {"anyOf": [{"required": ["field"]}, {"required": ["values"]}]}}],
    "properties": {"field": {"type": "string"}, "values": {"type": "array"},
                   "pattern": {"type": "string", "format": "regex"}, "reason": {"type": "string"}}},
    examples=(Example({"type": "json_object"}, None,
                      {"field": "type", "values": ["json_object"], "reason": "has no JSON mode"}),
              Example({"type": "json_schema"}, {"type": "json_schema"},
                      {"field": "type", "values": ["json_object"], "reason": "has no JSON mode"}),
              Example("user-42", "user-42", {"pattern": "@", "reason": "looks like an e-mail address"}),
              Example("a@b.io", None, {"pattern": "@", "reason": "looks like an e-mail address"})))
def _drop_when(args: Mapping[str, Any]) -> Apply:
    """A value the provider has no counterpart for is not sent: None, with a warning giving `reason`. Either a
    mapping whose `field` holds one of `values` (one variant of a parameter, while the others map), or a
    string matching `pattern` (a regular expression, searched). Any other value passes through."""
    reason = str(args["reason"])
    if "pattern" in args:
        pattern = re.compile(str(args["pattern"]))

        def matching(value: Any, ctx: Context) -> Any:
            if isinstance(value, str) and pattern.search(value, 0, MAX_REGEX_INPUT):  # a bounded prefix only
                ctx.warn("dropped_value", f"{ctx.path or 'value'} {reason}; it was not sent")
                return None
            return value

        return matching
    field, values = str(args["field"]), list(args["values"])

    def apply(value: Any, ctx: Context) -> Any:
        if isinstance(value, Mapping) and value.get(field) in values:
            ctx.warn("dropped_value", f"{ctx.path or 'value'} with {field} {value.get(field)!r}: {reason}; "
                                      f"it was not sent")
            return None
        return value

    return apply


# ---- budgets ------------------------------------------------------------------------------------------------


@register("budget_bounds", args={
    "type": "object", "additionalProperties": False, "required": ["field", "types"],
    "properties": {"field": {"type": "string"}, "type_field": {"type": "string"},
                   "types": {"type": "array", "items": {"type": "string"}},
                   "min": {"type": "integer"}, "default": {"type": "integer"},
                   "replace": {"type": "object", "additionalProperties": {"type": "string"}},
                   "reason": {"type": "string"},
                   "kind_defaults": {"type": "object", "additionalProperties": {"type": "object"}}}},
    examples=(
        Example({"type": "enabled", "budget_tokens": 4000}, {"type": "adaptive", "display": "summarized"},
                {"field": "budget_tokens", "types": [], "replace": {"enabled": "adaptive"},
                 "reason": "this model thinks adaptively only",
                 "kind_defaults": {"adaptive": {"display": "summarized"}}}),
        Example({"type": "enabled", "budget_tokens": 500}, {"type": "enabled", "budget_tokens": 1024},
                {"field": "budget_tokens", "types": ["enabled"], "min": 1024, "default": 1024}),
        Example({"type": "enabled"}, {"type": "enabled", "budget_tokens": 1024},
                {"field": "budget_tokens", "types": ["enabled"], "min": 1024, "default": 1024}),
        Example({"type": "adaptive", "budget_tokens": 2048}, {"type": "adaptive"},
                {"field": "budget_tokens", "types": ["enabled"], "min": 1024, "default": 1024}),
    ))
def _budget_bounds(args: Mapping[str, Any]) -> Apply:
    """A config object with a token budget (`field`) that only some of its kinds (`type_field` in `types`)
    take: for those, a missing budget gets `default` and one below `min` is raised to `min`; the other kinds
    carry no budget. A kind the model no longer takes becomes the one `replace` names (a warning giving
    `reason`), and `kind_defaults` adds fields a kind needs when the caller left them out (newer models change
    how thinking is configured while the caller's request stays the same). Every change is a warning."""
    field = str(args["field"])
    type_field = str(args.get("type_field", "type"))
    types = tuple(args["types"])
    low = args.get("min")
    default = args.get("default")
    replace = {str(k): str(v) for k, v in (args.get("replace") or {}).items()}
    reason = str(args.get("reason", "this model does not take it"))
    kind_defaults = {str(k): dict(v) for k, v in (args.get("kind_defaults") or {}).items()}

    def apply(value: Any, ctx: Context) -> Any:
        if not isinstance(value, dict):
            return value
        out = dict(value)
        kind = out.get(type_field)
        if isinstance(kind, str) and kind in replace:
            out[type_field] = replace[kind]
            dropped = ""
            if replace[kind] not in types and out.pop(field, None) is not None:
                dropped = f" without its {field}"
            ctx.warn("replaced_value", f"{ctx.path or 'value'} {type_field} {kind!r} was sent as "
                                       f"{replace[kind]!r}{dropped}: {reason}")
        for key, fill in kind_defaults.get(str(out.get(type_field)), {}).items():
            out.setdefault(key, fill)
        where = f"{ctx.path}.{field}" if ctx.path else field
        budget = out.get(field)
        if out.get(type_field) not in types:
            if budget is not None:
                del out[field]
                ctx.warn("dropped_value", f"{where} does not apply to {type_field} {out.get(type_field)!r}; "
                         "it was not sent")
            return out
        if budget is None and default is not None:
            out[field] = default
            ctx.warn("default_applied", f"{where} was not set; sent the default {default}")
        elif isinstance(budget, int) and low is not None and budget < low:
            out[field] = low
            ctx.warn("clamped_parameter", f"{where}={budget} is below the minimum {low}; sent {low}")
        return out

    return apply


# ---- sizes ------------------------------------------------------------------------------------------------------


_SIZE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


@register("size_to_dimensions", examples=(Example("1024x768", {"width": 1024, "height": 768}),
                                          Example("512X512", {"width": 512, "height": 512})))
def _size_to_dimensions(args: Mapping[str, Any]) -> Apply:
    """An image size `WIDTHxHEIGHT` (OpenAI's `size`) as `{width, height}` integers, for providers that take
    the two numbers; any other value is a `MappingError` naming the field."""

    def apply(value: Any, ctx: Context) -> Any:
        match = _SIZE.match(value) if isinstance(value, str) else None
        if match is None:
            raise MappingError(f"{ctx.path or 'size'}: {value!r} is not a size like 1024x1024",
                               path=ctx.path or "size", provider=ctx.provider or None)
        return {"width": int(match.group(1)), "height": int(match.group(2))}

    return apply
