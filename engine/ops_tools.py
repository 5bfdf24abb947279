"""Transforms about tool declarations that need the whole finished body (used from a spec's `adjust:`).

Some APIs refuse a conversation whose history holds tool-call blocks unless the request also declares tools
(the declarations are how they validate those blocks). A caller may legitimately send no tools on such a
turn: it has none left to offer, or it asked for `tool_choice: none`, which some APIs can only express by
leaving the tools out. `declare_used_tools` then declares the tools the history used, from the spec's own
declaration template, and says so in a warning.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .codegen import Shape
from .guards import GuardCode, WrittenList, first_keys, guard, plain_path
from .paths import compile_getter, compile_setter, plain_keys
from .transforms import Apply, Context, Example, register


@register("declare_used_tools", args={
    "type": "object", "additionalProperties": False, "required": ["tools", "names", "declaration"],
    "properties": {"tools": {"type": "string"}, "names": {"type": "string"}, "declaration": {}}},
    examples=(
        Example({"messages": [{"content": [{"call": {"name": "f"}}, {"call": {"name": "f"}}]}]},
                {"messages": [{"content": [{"call": {"name": "f"}}, {"call": {"name": "f"}}]}],
                 "tools": [{"name": "f", "schema": {"type": "object"}}]},
                {"tools": "tools", "names": "messages[].content[].call.name",
                 "declaration": {"name": "$name", "schema": {"type": "object"}}}),
        Example({"tools": [{"name": "g"}], "messages": [{"content": [{"call": {"name": "f"}}]}]},
                {"tools": [{"name": "g"}], "messages": [{"content": [{"call": {"name": "f"}}]}]},
                {"tools": "tools", "names": "messages[].content[].call.name",
                 "declaration": {"name": "$name"}}),
    ))
def _declare_used_tools(args: Mapping[str, Any]) -> Apply:
    """On a body: when nothing is declared at `tools` but the history uses tools (`names`, a path or JMESPath
    collecting the tool names the body's blocks call), declare each used name once with the `declaration`
    template (item: `{name}`), with a warning. A body that declares tools, or uses none, is left alone."""
    from .templates import compile_template  # templates import the registry: bind lazily

    tools_path = str(args["tools"])
    get_tools, put_tools = compile_getter(tools_path), compile_setter(tools_path)
    get_names = compile_getter(str(args["names"]))
    declare = compile_template(args["declaration"], ("args", "declaration"))

    def apply(body: Any, ctx: Context) -> Any:
        if not isinstance(body, dict) or get_tools(body):
            return body
        found = get_names(body)
        if not found:
            return body  # no tool used (None or an empty projection)
        names = list(dict.fromkeys(n for n in (found if isinstance(found, list) else [found]) if isinstance(n, str)))
        if not names:
            return body
        body = copy.deepcopy(body)  # rare: copy rather than touch a caller's object
        put_tools(body, [declare({"name": name}, ctx) for name in names])
        ctx.warn("declared_tools", f"the conversation calls {', '.join(names)} but the request declares no tools, "
                 f"which {ctx.provider or 'the provider'} requires then; they were declared with an open input "
                 "schema", "tools")
        return body

    return apply


@guard("declare_used_tools", needs=lambda args: first_keys(str(args["names"]).split("[]")[0]))
def _declare_used_tools_guard(args: Mapping[str, Any], body: str, code: GuardCode) -> str:
    """Nothing is declared and the history names a tool: for a `a[].b[].c` path, the projection as inline loops
    (true as soon as one name is a string; a nested list, which JMESPath flattens, counts as found)."""
    tools = code.read(body, str(args["tools"]))
    if tools is None:
        tools = code.temp()
        code.line(f"{tools} = {code.bind(compile_getter(str(args['tools'])))}({body})")
    found, path = code.temp(), str(args["names"])
    head, *tails = path.split("[]")
    keys = [plain_path(segment.removeprefix(".")) if segment else () for segment in [head, *tails]]
    if not tails or any(k is None for k in keys) or not keys[0]:
        code.line(f"{found} = not {tools} and bool({code.bind(compile_getter(path))}({body}))")
        return found
    code.line(f"{found} = False")
    written = code.written  # (turns the mapping wrote, of known shapes while its flag holds: no name in them)
    skip = written is not None and keys[0] == (written[0].key,) and _nameless(
        written[0], written[0].items, [k or () for k in keys[1:]])
    code.line(f"if not {tools} and not {written[1]}:" if skip and written is not None else f"if not {tools}:")
    code.code.indent += "    "
    value = code.read(body, head)
    assert value is not None
    _project(code, value, [k or () for k in keys[1:]], found, first=True)
    code.code.indent = code.code.indent[:-4]
    return found


def _nameless(written: WrittenList, shape: Shape, tails: list[tuple[str, ...]]) -> bool:
    """Whether the projection `tails` finds nothing in an object of `shape` of the written list: each tail but the
    last leads to a list of known shapes (then each of those), the last to a key the shape does not hold."""
    tail, *rest = tails
    if not tail:
        return False
    kind, value = shape.get(tail[0], ("absent", None))
    if kind == "absent":
        return True
    if not rest or len(tail) > 1 or kind != "local" or value not in written.lists:
        return False
    return _nameless(written, written.lists[value], rest)


def _project(code: GuardCode, value: str, tails: list[tuple[str, ...]], found: str, *, first: bool) -> None:
    """Loops over the flattened list `value`, each element read at the first tail, then the rest."""
    element = code.temp()
    code.line(f"if isinstance({value}, list):")
    code.code.indent += "    "
    code.line(f"for {element} in {value}:")
    code.code.indent += "    "
    code.line(f"if isinstance({element}, list): {found} = True")
    code.line("else:")
    code.code.indent += "    "
    leaf = code.read(element, ".".join(tails[0])) if tails[0] else element
    assert leaf is not None
    if len(tails) > 1:
        _project(code, leaf, tails[1:], found, first=False)
    else:
        code.line(f"if isinstance({leaf}, str): {found} = True")
    code.code.indent = code.code.indent[:-12]
    if not first:
        code.line(f"elif {value} is not None: {found} = True")


def _pop_path(body: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Remove the value at `keys`, and the objects left empty on the way up."""
    trail: list[dict[str, Any]] = [body]
    for key in keys[:-1]:
        node = trail[-1].get(key)
        if not isinstance(node, dict):
            return
        trail.append(node)
    trail[-1].pop(keys[-1], None)
    for depth in range(len(keys) - 2, -1, -1):
        if not trail[depth + 1]:
            trail[depth].pop(keys[depth], None)


@register("answer_with_tool", args={
    "type": "object", "additionalProperties": False,
    "required": ["request_at", "types", "tools", "tool", "choice_at", "choice"],
    "properties": {"request_at": {"type": "string"},
                   "types": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                   "tools": {"type": "string"}, "tool": {}, "choice_at": {"type": "string"}, "choice": {},
                   "unless": {"type": "object", "additionalProperties": False, "required": ["at", "values"],
                              "properties": {"at": {"type": "string"}, "values": {"type": "array"},
                                             "note": {"type": "string"}}}}},
    examples=(
        Example({"format": {"type": "json_object"}, "tools": [{"name": "f"}]},
                {"tools": [{"name": "f"}, {"name": "json_response", "input_schema": {"type": "object"}}],
                 "tool_choice": {"type": "tool", "name": "json_response"}},
                {"request_at": "format", "types": ["json_object"], "tools": "tools",
                 "tool": {"name": "json_response", "input_schema": {"type": "object"}},
                 "choice_at": "tool_choice", "choice": {"type": "tool", "name": "json_response"}}),
        Example({"format": {"type": "json_schema", "schema": {"type": "object"}}},
                {"format": {"type": "json_schema", "schema": {"type": "object"}}},
                {"request_at": "format", "types": ["json_object"], "tools": "tools", "tool": {"name": "json_response"},
                 "choice_at": "tool_choice", "choice": {"type": "tool", "name": "json_response"}}),
    ))
def _answer_with_tool(args: Mapping[str, Any]) -> Apply:
    """On a body: when the value at `request_at` (a structured-output request the parameters wrote) has a `type` in
    `types`, the provider has no such output mode: the value is removed and the answer is asked for as a
    tool call instead, the `tool` template (item: that value) appended at `tools` and the `choice` template
    forcing it at `choice_at` (a tool choice of the request's own is replaced, with a warning). `unless`:
    when the value at its `at` is one of its `values` (thinking, which forbids forced tool use), the tool is
    offered but not forced, with a warning. The response and stream read this tool's input back as the
    message's text (`response.answer_tools`)."""
    from .templates import compile_template  # templates import the registry: bind lazily

    keys = plain_keys(str(args["request_at"]))
    if not keys:
        raise ValueError(f"answer_with_tool: 'request_at' must be a path of plain keys, not {args['request_at']!r}")
    get_marker = compile_getter(str(args["request_at"]))
    types = frozenset(str(t) for t in args["types"])
    get_tools, put_tools = compile_getter(str(args["tools"])), compile_setter(str(args["tools"]))
    get_choice, put_choice = compile_getter(str(args["choice_at"])), compile_setter(str(args["choice_at"]))
    tool = compile_template(args["tool"], ("args", "tool"))
    choice = compile_template(args["choice"], ("args", "choice"))
    unless = dict(args.get("unless") or {})
    get_blocker = compile_getter(str(unless["at"])) if unless else None
    blockers = list(unless.get("values") or ())

    def apply(body: Any, ctx: Context) -> Any:
        marker = get_marker(body) if isinstance(body, dict) else None
        if not isinstance(marker, dict) or marker.get("type") not in types:
            return body
        body = copy.deepcopy(body)
        _pop_path(body, keys)
        tools = get_tools(body)
        put_tools(body, [*(tools if isinstance(tools, list) else ()), tool(marker, ctx)])
        what = f"response_format {marker.get('type')}"
        if get_blocker is not None and get_blocker(body) in blockers:
            ctx.warn("answer_tool_not_forced", f"{what} is asked for through a tool the model is not forced to "
                     f"call ({unless.get('note') or 'forced tool use is not allowed here'}): it may answer in "
                     "prose", "response_format")
            return body
        if get_choice(body) is not None:
            ctx.warn("tool_choice_replaced", f"{what} is answered through a forced tool call, which replaces "
                     "the request's tool_choice", "tool_choice")
        put_choice(body, choice(marker, ctx))
        return body

    return apply


@guard("answer_with_tool", needs=lambda args: first_keys(args["request_at"]))
def _answer_with_tool_guard(args: Mapping[str, Any], body: str, code: GuardCode) -> str:
    """The value at `request_at` is an object whose `type` is one of `types` (the rare structured-output ask)."""
    marker = code.read(body, str(args["request_at"]))
    if marker is None:  # (not plain keys: the factory refuses it, so this is never the case at run time)
        marker = code.temp()
        code.line(f"{marker} = {code.bind(compile_getter(str(args['request_at'])))}({body})")
    types = code.bind(frozenset(str(t) for t in args["types"]))
    return f"(type({marker}) is dict and {marker}.get('type') in {types})"
