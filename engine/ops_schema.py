"""JSON Schema normalisers: operators that bring a caller's JSON Schema into the dialect a provider accepts.

Providers accept different subsets of JSON Schema (an OpenAPI 3.0 subset with `nullable` and upper-case
type names, or a JSON Schema subset with a short keyword allow-list). A spec chains these operators (with
`chain`) in front of every schema it sends: response formats and tool parameters alike.

All of them walk the schema *structurally*: they know which keywords hold sub-schemas (`properties`,
`items`, `anyOf`, ...), so a property that happens to be called `type` or `$ref` is never mistaken for a
keyword. None of them mutates its input. What cannot be expressed is never dropped silently: a keyword
removed by `schema_keys` comes back as one warning per call, and a reference that cannot be inlined
is a `MappingError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .errors import MappingError
from .transforms import Apply, Context, Example, register

Node = dict[str, Any]

SCHEMA_MAPS = frozenset({"properties", "$defs", "definitions", "patternProperties", "dependentSchemas"})
"""Keywords whose value maps names to sub-schemas."""
SCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
"""Keywords whose value is a list of sub-schemas."""
SCHEMA_ONE = frozenset({"items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
                        "unevaluatedProperties", "unevaluatedItems", "additionalItems"})
"""Keywords whose value is one sub-schema (`items` may also be a list, `additionalProperties` a boolean)."""


def map_subschemas(node: Node, fn: Callable[[Any], Any]) -> Node:
    """A copy of `node` with `fn` applied to each direct sub-schema; other keywords are copied as they are."""
    out: Node = {}
    for key, value in node.items():
        if key in SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: fn(sub) for name, sub in value.items()}
        elif key in SCHEMA_LISTS and isinstance(value, list):
            out[key] = [fn(sub) for sub in value]
        elif key in SCHEMA_ONE and isinstance(value, (dict, list)):
            out[key] = [fn(sub) for sub in value] if isinstance(value, list) else fn(value)
        else:
            out[key] = value
    return out


def _bottom_up(transform_node: Callable[[Node], Node]) -> Callable[[Any], Any]:
    """Apply `transform_node` to every schema object, children first."""

    def walk(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        return transform_node(map_subschemas(node, walk))

    return walk


# ---- $ref / $defs -----------------------------------------------------------------------------------------


def _pointer(root: Node, ref: str) -> Any:
    """The sub-schema a local JSON pointer (`#/$defs/Item`) names, or None."""
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    node: Any = root
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


MAX_INLINED_NODES = 10_000
"""Most schema nodes `schema_inline_refs` may produce: a real schema has hundreds, while 20 chained
definitions each referenced twice would make a million (and a body of tens of megabytes)."""


@register("schema_inline_refs", args={
    "type": "object", "additionalProperties": False,
    "properties": {"cycles": {"enum": ["error", "keep"]}}},
    examples=(
        Example({"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}},
                 "$defs": {"A": {"type": "string"}}},
                {"type": "object", "properties": {"a": {"type": "string"}}}),
        Example({"$ref": "#/$defs/A", "$defs": {"A": {"type": "integer"}}, "description": "n"},
                {"type": "integer", "description": "n"}),
    ))
def _schema_inline_refs(args: Mapping[str, Any]) -> Apply:
    """Replace local `$ref`s by the schema they point to (keywords beside the `$ref` win) and drop `$defs` /
    `definitions`. A recursive reference is a MappingError (`cycles: error`) or stays a `$ref`, with the
    definitions kept (`cycles: keep`, for dialects that resolve references themselves)."""
    keep_cycles = args.get("cycles", "error") == "keep"

    def apply(value: Any, ctx: Context) -> Any:
        if not isinstance(value, dict):
            return value
        root = value
        kept: list[str] = []
        budget = [MAX_INLINED_NODES]

        def walk(node: Any, stack: tuple[str, ...]) -> Any:
            if not isinstance(node, dict):
                return node
            budget[0] -= 1
            if budget[0] < 0:  # references to references, each used more than once, grow exponentially
                raise MappingError(
                    f"{ctx.path or 'schema'}: inlining its $refs makes more than {MAX_INLINED_NODES:,} schema "
                    "nodes (definitions referenced many times over); simplify the schema",
                    path=ctx.path or None)
            ref = node.get("$ref")
            if isinstance(ref, str):
                if ref in stack:
                    if keep_cycles:
                        kept.append(ref)
                        return dict(node)
                    raise MappingError(
                        f"{ctx.path or 'schema'}: the recursive reference {ref!r} cannot be inlined "
                        "(the provider's schema dialect has no references)", path=ctx.path or None)
                target = _pointer(root, ref)
                if target is None:
                    raise MappingError(f"{ctx.path or 'schema'}: $ref {ref!r} does not resolve to a local "
                                       "definition", path=ctx.path or None)
                inlined = walk(target, (*stack, ref))
                siblings = {k: v for k, v in node.items() if k != "$ref"}
                merged = walk(siblings, stack) if siblings else {}
                if isinstance(inlined, dict):
                    return {**{k: v for k, v in inlined.items() if k not in ("$defs", "definitions")}, **merged}
                return inlined
            return map_subschemas(node, lambda sub: walk(sub, stack))

        without_defs = {k: v for k, v in value.items() if k not in ("$defs", "definitions")}
        out = walk(without_defs, ())
        if kept and isinstance(out, dict):
            for key in ("$defs", "definitions"):
                if key in value:
                    out[key] = value[key]
        return out

    return apply


# ---- nullability, const, enum -----------------------------------------------------------------------------


def _is_null_branch(node: Any) -> bool:
    return isinstance(node, dict) and node.get("type") == "null" and len(node) == 1


def _nullable_node(node: Node) -> Node:
    out = dict(node)
    nullable = False
    kind = out.get("type")
    if isinstance(kind, list):
        others = [t for t in kind if t != "null"]
        nullable = len(others) < len(kind)
        if len(others) == 1:
            out["type"] = others[0]
        elif not others:
            out["type"] = "null"
        else:
            del out["type"]
            out["anyOf"] = [{"type": t} for t in others]
    for key in ("anyOf", "oneOf"):
        branches = out.get(key)
        if isinstance(branches, list) and any(_is_null_branch(b) for b in branches):
            rest = [b for b in branches if not _is_null_branch(b)]
            nullable = True
            del out[key]
            if len(rest) == 1 and isinstance(rest[0], dict):
                out = {**rest[0], **out}
            elif rest:
                out[key] = rest
    enum = out.get("enum")
    if isinstance(enum, list) and None in enum:
        out["enum"] = [v for v in enum if v is not None]
        nullable = True
    if nullable:
        out["nullable"] = True
    return out


@register("schema_nullable", examples=(
    Example({"type": ["string", "null"]}, {"type": "string", "nullable": True}),
    Example({"anyOf": [{"type": "integer"}, {"type": "null"}], "description": "d"},
            {"type": "integer", "description": "d", "nullable": True}),
    Example({"type": ["string", "integer"]}, {"anyOf": [{"type": "string"}, {"type": "integer"}]}),
))
def _schema_nullable(args: Mapping[str, Any]) -> Apply:
    """OpenAPI-style nullability: `type: [x, "null"]`, an `anyOf`/`oneOf` branch `{type: null}` or a None in
    `enum` become `nullable: true`; a type list of several non-null types becomes `anyOf`."""
    walk = _bottom_up(_nullable_node)

    def apply(value: Any, ctx: Context) -> Any:
        return walk(value)

    return apply


_JSON_TYPES: tuple[tuple[type, str], ...] = ((bool, "boolean"), (str, "string"), (int, "integer"), (float, "number"))


def _const_node(node: Node) -> Node:
    if "const" not in node:
        return node
    value = node["const"]
    out = {k: v for k, v in node.items() if k != "const"}
    out.setdefault("enum", [value])
    if "type" not in out:  # `const` alone implies its value's type; `enum` alone does not say it
        out["type"] = next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), None)
        if out["type"] is None:
            del out["type"]
    return out


@register("schema_const_to_enum", examples=(Example({"const": "a"}, {"enum": ["a"], "type": "string"}),
                                            Example({"type": "integer", "const": 3}, {"type": "integer", "enum": [3]})))
def _schema_const_to_enum(args: Mapping[str, Any]) -> Apply:
    """`const: v` becomes `enum: [v]` (for dialects without `const`), with the value's type when none is given."""
    walk = _bottom_up(_const_node)

    def apply(value: Any, ctx: Context) -> Any:
        return walk(value)

    return apply


def _enum_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _enum_node(node: Node) -> Node:
    enum = node.get("enum")
    if not isinstance(enum, list) or all(isinstance(v, str) for v in enum):
        return node
    out = dict(node)
    out["enum"] = [_enum_text(v) for v in enum]
    kind = out.get("type")
    if kind is not None and str(kind).lower() != "string":
        out.setdefault("format", "enum")
    return out


@register("schema_enum_strings", examples=(
    Example({"type": "integer", "enum": [1, 2]}, {"type": "integer", "enum": ["1", "2"], "format": "enum"}),
    Example({"type": "string", "enum": ["a"]}, {"type": "string", "enum": ["a"]}),
))
def _schema_enum_strings(args: Mapping[str, Any]) -> Apply:
    """Enum values as strings (dialects whose `enum` is a list of strings); a non-string type gets
    `format: enum`, the documented way to constrain numbers to a set."""
    walk = _bottom_up(_enum_node)

    def apply(value: Any, ctx: Context) -> Any:
        return walk(value)

    return apply


def _rename_node(renames: Mapping[str, str]) -> Callable[[Node], Node]:
    def node_fn(node: Node) -> Node:
        if not any(key in node for key in renames):
            return node
        out: Node = {}
        for key, value in node.items():
            target = renames.get(key)
            out[target if target is not None and target not in node else key] = value
        return out

    return node_fn


@register("schema_rename_keys", args={
    "type": "object", "additionalProperties": False, "required": ["keys"],
    "properties": {"keys": {"type": "object", "additionalProperties": {"type": "string"}}}},
    examples=(Example({"oneOf": [{"type": "string"}, {"type": "integer"}]},
                      {"anyOf": [{"type": "string"}, {"type": "integer"}]}, {"keys": {"oneOf": "anyOf"}}),))
def _schema_rename_keys(args: Mapping[str, Any]) -> Apply:
    """Rename keywords (`oneOf` → `anyOf` for a dialect that only has `anyOf`); when the new name is already
    used in that schema object, the keyword keeps its name (and an allow-list after this reports it)."""
    walk = _bottom_up(_rename_node({str(k): str(v) for k, v in dict(args["keys"]).items()}))

    def apply(value: Any, ctx: Context) -> Any:
        return walk(value)

    return apply


# ---- closed objects -----------------------------------------------------------------------------------


def _is_object(node: Node) -> bool:
    kind = node.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in node


@register("schema_close_objects", examples=(
    Example({"type": "object", "properties": {"a": {"type": "object", "additionalProperties": True}}},
            {"type": "object", "properties": {"a": {"type": "object", "additionalProperties": False}},
             "additionalProperties": False}),
    Example({"type": "string"}, {"type": "string"}),
))
def _schema_close_objects(args: Mapping[str, Any]) -> Apply:
    """Every object schema gets `additionalProperties: false` (a dialect that constrains decoding accepts
    closed objects only); an object that allowed other properties is closed with a warning, since the model
    can then no longer produce them."""

    def apply(value: Any, ctx: Context) -> Any:
        opened = 0

        def node_fn(node: Node) -> Node:
            nonlocal opened
            if not _is_object(node) or node.get("additionalProperties") is False:
                return node
            if "additionalProperties" in node:
                opened += 1
            return {**node, "additionalProperties": False}

        result = _bottom_up(node_fn)(value)
        if opened:
            ctx.warn("schema_objects_closed",
                     f"{opened} object schema(s) allowed additional properties; "
                     f"{ctx.provider or 'the provider'} accepts closed objects only, so they were closed")
        return result

    return apply


# ---- type names, empty objects ----------------------------------------------------------------------------


@register("schema_type_case", args={
    "type": "object", "additionalProperties": False, "required": ["case"],
    "properties": {"case": {"enum": ["upper", "lower"]}}},
    examples=(Example({"type": "object", "properties": {"type": {"type": "string"}}},
                      {"type": "OBJECT", "properties": {"type": {"type": "STRING"}}}, {"case": "upper"}),))
def _schema_type_case(args: Mapping[str, Any]) -> Apply:
    """Type names in upper case (`OBJECT`, as protobuf enum names) or lower case (`object`)."""
    upper = args["case"] == "upper"

    def change(kind: Any) -> Any:
        if isinstance(kind, str):
            return kind.upper() if upper else kind.lower()
        if isinstance(kind, list):
            return [change(k) for k in kind]
        return kind

    def node_fn(node: Node) -> Node:
        if "type" not in node:
            return node
        return {**node, "type": change(node["type"])}

    walk = _bottom_up(node_fn)

    def apply(value: Any, ctx: Context) -> Any:
        return walk(value)

    return apply


@register("omit_empty_object_schema", examples=(
    Example({"type": "object", "properties": {}}, None), Example({"type": "OBJECT"}, None),
    Example({"type": "object", "properties": {"a": {"type": "string"}}},
            {"type": "object", "properties": {"a": {"type": "string"}}}),
))
def _omit_empty_object_schema(args: Mapping[str, Any]) -> Apply:
    """An object schema with no properties becomes None, so the field is left out (some providers reject an
    object schema whose `properties` is empty; a function with no parameters needs no schema)."""

    def apply(value: Any, ctx: Context) -> Any:
        if not isinstance(value, dict):
            return value
        kind = value.get("type")
        if isinstance(kind, str) and kind.lower() == "object" and not value.get("properties"):
            rest = set(value) - {"type", "properties", "required", "additionalProperties", "$schema", "title",
                                 "description"}
            if not rest:
                return None
        return value

    return apply


# ---- the allow-list ---------------------------------------------------------------------------------------


@register("schema_keys", args={
    "type": "object", "additionalProperties": False,
    "oneOf": [{"required": ["allow"], "not": {"required": ["drop"]}},
              {"required": ["drop"], "not": {"required": ["allow"]}}],
    "properties": {"allow": {"type": "array", "items": {"type": "string"}},
                   "drop": {"type": "array", "items": {"type": "string"}},
                   "quiet": {"type": "array", "items": {"type": "string"}},
                   "warn": {"type": "boolean"}}},
    examples=(Example({"type": "string", "pattern": "^a", "$schema": "x"}, {"type": "string"},
                      {"allow": ["type"], "quiet": ["$schema"]}),
              Example({"type": "object", "properties": {"pattern": {"type": "string", "minLength": 1}}},
                      {"type": "object", "properties": {"pattern": {"type": "string"}}},
                      {"allow": ["type", "properties"]}),
              Example({"$schema": "x", "type": "object", "additionalProperties": False,
                       "properties": {"a": {"type": "string", "additionalProperties": False}}},
                      {"type": "object", "properties": {"a": {"type": "string"}}},
                      {"drop": ["$schema", "additionalProperties"]})))
def _schema_keys(args: Mapping[str, Any]) -> Apply:
    """Keep only the keywords in `allow`, or remove those in `drop` (everywhere, never touching property
    names). A keyword dropped by `allow` is reported in one warning per call (`schema_keyword_dropped`, with
    how often it was dropped) unless it is in `quiet` (pure annotations such as `$schema`) or `warn` is false;
    those removed by `drop` are reported only with `warn: true`."""
    allow = frozenset(args["allow"]) if "allow" in args else None
    drop = frozenset(args.get("drop") or ())
    quiet = frozenset(args.get("quiet") or ())
    warn = bool(args.get("warn", allow is not None))

    def apply(value: Any, ctx: Context) -> Any:
        dropped: dict[str, int] = {}

        def node_fn(node: Node) -> Node:
            out: Node = {}
            for key, item in node.items():
                if (key in allow) if allow is not None else (key not in drop):
                    out[key] = item
                elif key not in quiet:
                    dropped[key] = dropped.get(key, 0) + 1
            return out

        def walk(node: Any) -> Any:
            return map_subschemas(node_fn(node), walk) if isinstance(node, dict) else node

        result = walk(value)
        if dropped and warn:
            listed = ", ".join(f"{k}" + (f" (x{n})" if n > 1 else "") for k, n in sorted(dropped.items()))
            ctx.warn("schema_keyword_dropped",
                     f"JSON Schema keywords not supported by {ctx.provider or 'the provider'} were dropped: {listed}")
        return result

    return apply
