"""Transforms over the finished provider body: the cross-field rules a spec lists under `adjust:`.

A parameter rule sees one value; some provider rules tie several fields together (a token limit that must
exceed a reasoning budget, at most N cache breakpoints across system, tools and messages, a block kind that
requires a top-level field). Each such rule is one transform here, applied by the plan after every parameter
and the messages are mapped (`adjust: [{at: path, transform: …}]`, the whole body when `at` is absent).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .codegen import Shape
from .errors import MappingError
from .guards import GuardCode, Inert, first_keys, guard, plain_path
from .paths import compile_getter, compile_setter
from .transforms import Apply, Context, Example, register

_PATHS = {"type": "array", "items": {"type": "string"}}


@register("raise_above", args={
    "type": "object", "additionalProperties": False, "required": ["field", "above"],
    "properties": {"field": {"type": "string"}, "above": {"type": "string"}}},
    examples=(Example({"max_tokens": 1000, "thinking": {"budget_tokens": 2048}},
                      {"max_tokens": 3048, "thinking": {"budget_tokens": 2048}},
                      {"field": "max_tokens", "above": "thinking.budget_tokens"}),
              Example({"max_tokens": 4096}, {"max_tokens": 4096},
                      {"field": "max_tokens", "above": "thinking.budget_tokens"})))
def _raise_above(args: Mapping[str, Any]) -> Apply:
    """On a body: when the number at `field` is not greater than the number at `above` (a limit that must
    exceed a budget carved out of it), `field` becomes field + above, so the part outside the budget keeps
    what was asked for. A warning says so."""
    field, above = str(args["field"]), str(args["above"])
    get_field, get_above, put = compile_getter(field), compile_getter(above), compile_setter(field)

    def apply(body: Any, ctx: Context) -> Any:
        limit, budget = get_field(body), get_above(body)
        if not isinstance(limit, int) or not isinstance(budget, int) or limit > budget:
            return body
        body = copy.deepcopy(body)  # rare: copy rather than touch a caller's object
        put(body, limit + budget)
        ctx.warn("adjusted_parameter", f"{field}={limit} must be greater than {above}={budget}; "
                 f"sent {field}={limit + budget}", field)
        return body

    return apply


@guard("raise_above", needs=lambda args: first_keys(args["above"]))
def _raise_above_guard(args: Mapping[str, Any], body: str, code: GuardCode) -> str:
    """Both numbers are there and the limit does not exceed the budget."""
    limit = _read(code, body, str(args["field"]))
    budget = _read(code, body, str(args["above"]))
    return f"isinstance({budget}, int) and isinstance({limit}, int) and not {limit} > {budget}"


def _read(code: GuardCode, holder: str, path: str) -> str:
    """A local holding the value at `path` of `holder` (inline lookups; a call of its getter for other paths)."""
    local = code.read(holder, path)
    if local is None:
        local = code.temp()
        code.line(f"{local} = {code.bind(compile_getter(path))}({holder})")
    return local


def _count_marked(node: Any, key: str, descend: tuple[str, ...]) -> int:
    """How many of `_blocks(node, descend)` carry `key` (the same walk, as plain calls)."""
    if not isinstance(node, list):
        return 0
    count = 0
    for item in node:
        if isinstance(item, dict):
            if key in item:
                count += 1
            for child in descend:
                if isinstance(inner := item.get(child), list):
                    count += _count_marked(inner, key, descend)
    return count


def _has_block(node: Any, descend: tuple[str, ...], key: str, values: tuple[Any, ...]) -> bool:
    """Whether one of `_blocks(node, descend)` has `key` equal to one of `values` (plain calls, no generators:
    it runs on every request)."""
    if not isinstance(node, list):
        return False
    for item in node:
        if isinstance(item, dict):
            if item.get(key) in values:
                return True
            for child in descend:
                if isinstance(inner := item.get(child), list) and _has_block(inner, descend, key, values):
                    return True
    return False


def _blocks(node: Any, descend: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """Every object that is an item of a list, following lists and the `descend` keys of those objects."""
    if isinstance(node, list):
        for item in node:
            if isinstance(item, dict):
                yield item
                for key in descend:
                    yield from _blocks(item.get(key), descend)


@register("limit_marks", args={
    "type": "object", "additionalProperties": False, "required": ["key", "max", "in"],
    "properties": {"key": {"type": "string"}, "max": {"type": "integer", "minimum": 0}, "in": _PATHS,
                   "descend": _PATHS}},
    examples=(Example({"system": [{"text": "a", "mark": 1}], "messages": [{"content": [{"mark": 1}, {"mark": 1}]}]},
                      {"system": [{"text": "a", "mark": 1}], "messages": [{"content": [{"mark": 1}, {}]}]},
                      {"key": "mark", "max": 2, "in": ["system", "messages"], "descend": ["content"]}),))
def _limit_marks(args: Mapping[str, Any]) -> Apply:
    """On a body: keep the first `max` blocks carrying `key` (blocks are list items under the `in` paths, in
    that order, and under their `descend` keys); later ones lose `key`, with a warning (a provider's limit
    on cache breakpoints, say)."""
    key, limit = str(args["key"]), int(args["max"])
    roots = tuple(compile_getter(p) for p in args["in"])
    descend = tuple(args.get("descend") or ())

    def marked(body: Any) -> Iterator[dict[str, Any]]:
        for root in roots:
            for block in _blocks(root(body), descend):
                if key in block:
                    yield block

    def apply(body: Any, ctx: Context) -> Any:
        seen = 0
        for root in roots:  # every request: plain calls, no generators (the rare copy below uses `marked`)
            seen += _count_marked(root(body), key, descend)
        if seen > limit:
            body = copy.deepcopy(body)  # rare: copy rather than touch a caller's object
            for block in list(marked(body))[limit:]:
                del block[key]
            ctx.warn("dropped_value", f"{seen} blocks carry {key}, more than the {limit} "
                     f"{ctx.provider or 'the provider'} accepts; the last {seen - limit} were not sent", key)
        return body

    return apply


@guard("limit_marks", needs=lambda args: first_keys(*args["in"]))
def _limit_marks_guard(args: Mapping[str, Any], body: str, code: GuardCode) -> str:
    """More than `max` blocks carry the key (the count of each root, as inline loops)."""
    key, descend = code.bind(str(args["key"])), tuple(args.get("descend") or ())
    helper, descend_name = code.bind(_count_marked), code.bind(descend)
    counts = []
    for path in args["in"]:
        count = code.temp()
        counts.append(count)
        visit, deeper = _counting(code, count, key, helper, descend_name)
        if plain_path(str(path)) is None:  # (not plain keys: the getter, then the walk over what it found)
            code.line(f"{count} = 0")
            code.walk_blocks(_read(code, body, str(path)), descend, visit, deeper)
        else:
            code.walk_path(body, str(path), descend, count, "0", visit, deeper, inert=_unmarked(str(args["key"])))
    return f"{' + '.join(counts) or '0'} > {int(args['max'])}"


def _unmarked(key: str) -> Inert:
    """`_counting`'s visit on a known shape: it counts nothing on an object without the key."""
    return lambda shape: key not in shape


def _counting(code: GuardCode, count: str, key: str, helper: str, descend: str
              ) -> tuple[Callable[[str], None], Callable[[str], None]]:
    """The lines adding to the local `count` the blocks carrying `key`: on one object, and below a list."""

    def visit(item: str) -> None:
        code.line(f"if {key} in {item}: {count} += 1")

    def deeper(inner: str) -> None:
        code.line(f"{count} += {helper}({inner}, {key}, {descend})")

    return visit, deeper


@register("trim_final_text", args={
    "type": "object", "additionalProperties": False, "required": ["role"],
    "properties": {"role": {"type": "string"}, "role_field": {"type": "string"},
                   "content_field": {"type": "string"}, "text_field": {"type": "string"}}},
    examples=(Example([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": [{"text": "Sure: "}]}],
                      [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": [{"text": "Sure:"}]}],
                      {"role": "assistant"}),
              Example([{"role": "assistant", "content": "ok"}, {"role": "user", "content": "x "}],
                      [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "x "}],
                      {"role": "assistant"})))
def _trim_final_text(args: Mapping[str, Any]) -> Apply:
    """On a list of turns: when the last turn has `role`, trailing whitespace is removed from its last text
    (string content, or the last block's text field); a block or turn left empty is removed. For providers
    that reject a prefill ending in whitespace. A warning says so."""
    role = str(args["role"])
    role_field = str(args.get("role_field", "role"))
    content_field = str(args.get("content_field", "content"))
    text_field = str(args.get("text_field", "text"))

    def apply(turns: Any, ctx: Context) -> Any:
        if not isinstance(turns, list) or not turns or not isinstance(turns[-1], dict):
            return turns
        last = dict(turns[-1])
        if last.get(role_field) != role:
            return turns
        content = last.get(content_field)
        if isinstance(content, str):
            trimmed: Any = content.rstrip()
            changed = trimmed != content
            empty = not trimmed
        elif isinstance(content, list) and content and isinstance(content[-1], dict) \
                and isinstance(content[-1].get(text_field), str):
            text = content[-1][text_field]
            changed = text.rstrip() != text
            block = {**content[-1], text_field: text.rstrip()}
            trimmed = [*content[:-1], block] if text.rstrip() else content[:-1]
            empty = not trimmed
        else:
            return turns
        if not changed:
            return turns
        ctx.warn("adjusted_parameter", f"the final {role} message ends with whitespace, which "
                 f"{ctx.provider or 'the provider'} rejects; it was trimmed", "messages")
        if empty:
            return turns[:-1]
        last[content_field] = trimmed
        return [*turns[:-1], last]

    return apply


@guard("trim_final_text")
def _trim_final_text_guard(args: Mapping[str, Any], turns: str, code: GuardCode) -> str:
    """The last turn has the role."""
    role, field = code.bind(str(args["role"])), code.bind(str(args.get("role_field", "role")))
    return (f"isinstance({turns}, list) and len({turns}) > 0 and isinstance({turns}[-1], dict) "
            f"and {turns}[-1].get({field}) == {role}")


@register("require_for_blocks", args={
    "type": "object", "additionalProperties": False, "required": ["field", "in", "key", "values", "message"],
    "properties": {"field": {"type": "string"}, "in": {"type": "string"}, "descend": _PATHS,
                   "key": {"type": "string"}, "values": {"type": "array"}, "message": {"type": "string"}}},
    examples=(Example({"tools": [{"name": "f"}], "messages": [{"content": [{"type": "tool_use"}]}]},
                      {"tools": [{"name": "f"}], "messages": [{"content": [{"type": "tool_use"}]}]},
                      {"field": "tools", "in": "messages", "descend": ["content"], "key": "type",
                       "values": ["tool_use"], "message": "pass the tools again"}),))
def _require_for_blocks(args: Mapping[str, Any]) -> Apply:
    """On a body: when a block under `in` (list items, following `descend` keys) has `key` equal to one of
    `values`, the top-level `field` must be present; otherwise a MappingError with `message`."""
    field = str(args["field"])
    root = compile_getter(str(args["in"]))
    descend = tuple(args.get("descend") or ())
    key, values, message = str(args["key"]), tuple(args["values"]), str(args["message"])
    get_field = compile_getter(field)

    def apply(body: Any, ctx: Context) -> Any:
        if get_field(body):
            return body
        if _has_block(root(body), descend, key, values):
            raise MappingError(f"{field}: {message}", path=field, provider=ctx.provider or None)
        return body

    return apply


@guard("require_for_blocks", needs=lambda args: first_keys(args["in"]))
def _require_for_blocks_guard(args: Mapping[str, Any], body: str, code: GuardCode) -> str:
    """The field is missing and a block has one of the values (the walk, as inline loops)."""
    present = _read(code, body, str(args["field"]))
    found, descend, path = code.temp(), tuple(args.get("descend") or ()), str(args["in"])
    key, values = code.bind(str(args["key"])), code.bind(tuple(args["values"]))
    helper, descend_name = code.bind(_has_block), code.bind(descend)

    def visit(item: str) -> None:
        code.line(f"if {item}.get({key}) in {values}: {found} = True")

    def deeper(inner: str) -> None:
        code.line(f"if {helper}({inner}, {descend_name}, {key}, {values}): {found} = True")

    if plain_path(path) is None:
        code.line(f"{found} = False")
        code.line(f"if not {present}:")
        code.code.indent += "    "
        code.walk_blocks(_read(code, body, path), descend, visit, deeper)
        code.code.indent = code.code.indent[:-4]
    else:
        code.walk_path(body, path, descend, found, "False", visit, deeper, unless=present,
                       inert=_without_values(str(args["key"]), tuple(args["values"])))
    return f"(not {present} and {found})"


def _without_values(key: str, values: tuple[Any, ...]) -> Inert:
    """The block test on a known shape: nothing is found on an object whose key is absent or a constant not
    among the values (a local's value, unknown, may be one)."""

    def inert(shape: Shape) -> bool:
        found = shape.get(key)
        return found is None or (found[0] == "const" and found[1] not in values)

    return inert
