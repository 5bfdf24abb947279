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

from .paths import compile_getter, compile_setter
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
