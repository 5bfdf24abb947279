"""Message mapping: unified conversation → the provider's turns, as declared in the spec's `messages:`.

`passthrough` (here) keeps OpenAI's shape, optionally renaming roles and fields and dropping fields. `template`
is three steps, a module each: system lifting (message_system.py), part rendering (message_parts.py) and turn
assembly (message_turns.py). Each step is generic; the spec supplies names and shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .codegen import FunctionBuilder
from .content_parts import reasoning_as_content
from .errors import MappingError
from .guards import WrittenList
from .message_turns import TurnAssembler
from .paths import setter_lines
from .transforms import Context

MessagesOp = Callable[[list[dict[str, Any]], dict[str, Any], Context], None]


def compile_messages(spec: Mapping[str, Any], provider: str) -> MessagesOp:
    return lower_messages(spec, provider)[0]


def lower_messages(spec: Mapping[str, Any], provider: str) -> tuple[MessagesOp, WrittenList | None]:
    """The mapping, and what the list it writes holds when it returns true (`TurnAssembler.written`: then the
    body's `adjust:` guards know it without walking it)."""
    if spec.get("mode", "passthrough") == "passthrough":
        return _passthrough(spec, provider), None
    turns = TurnAssembler(spec, provider)
    return turns.apply, turns.written


def _passthrough(spec: Mapping[str, Any], provider: str) -> MessagesOp:
    """One generated function `map_messages` (one pass over the messages): each `tool` message checked against
    the calls before it (`require_call`), roles renamed, fields renamed, fields dropped (a copy only of what
    changes), as the spec declares; the list written at `to`."""
    roles = dict(spec.get("roles") or {})
    require_call = bool((spec.get("tool_results") or {}).get("require_call", False))
    drop = frozenset(spec.get("drop_fields") or ())
    renames: dict[str, str] = {str(k): str(v) for k, v in (spec.get("rename_fields") or {}).items()}
    as_content = reasoning_as_content(spec["reasoning_as_content"]) if spec.get("reasoning_as_content") else None
    code = FunctionBuilder(("messages", "body", "ctx"), "map_messages")
    if not (require_call or as_content is not None or roles or renames or drop):
        for text in setter_lines(str(spec.get("to", "messages")), "messages", code.bind, a_list=True):
            code.line(text)
        function: MessagesOp = code.build("None")
        return function
    lines = ["out = []"]
    if require_call:
        lines.append("called = set()")
    lines += ["index = -1",  # (a counter, not `enumerate`: no iterator object and tuple per call and message)
              "for message in messages:", "    index += 1"]
    if require_call:
        lines += ["    calls = message.get('tool_calls')",
                  "    if calls:",
                  "        for call in calls:",
                  "            called.add(call.get('id'))",
                  "    if message.get('role') == 'tool' and message.get('tool_call_id') not in called:",
                  f"        {code.bind(_unanswered)}(message, index, {code.bind(provider)})"]
    if as_content is not None:  # (the test is the transform's own first one: only a reasoning assistant turn)
        lines += ["    if message.get('role') == 'assistant' and (message.get('reasoning_details')"
                  " or message.get('reasoning')):",
                  f"        message = {code.bind(as_content)}(message, ctx)"]
    if roles:
        role_map = code.bind(roles)
        lines.append(f"    message = {{**message, 'role': {role_map}.get(message['role'], message['role'])}}")
    if renames:  # before drop_fields, so a renamed field escapes a drop of its unified name
        lines.append(f"    message = {code.bind(_renamed)}(message, {code.bind(renames)})")
    if drop:
        dropped = code.bind(drop)
        calls = "calls" if require_call and not (as_content is not None or renames) else \
            "message.get('tool_calls')"  # (the calls read above, when `message` still holds them where they were)
        lines += [f"    if not {dropped}.isdisjoint(message) or ((type(message.get('content')) is list"
                  f" or {calls}) and {code.bind(_parts_hold)}(message, {dropped})):",
                  f"        message = {code.bind(_without)}(message, {dropped})"]
    lines.append("    out.append(message)")
    lines.extend(setter_lines(str(spec.get("to", "messages")), "out", code.bind, a_list=True))
    for text in lines:
        code.line(text)
    function = code.build("None")
    return function


def _parts_hold(message: dict[str, Any], drop: frozenset[str]) -> bool:
    """Whether a content part or a tool call of `message` holds a dropped field."""
    for field in ("content", "tool_calls"):
        items = message.get(field)
        if type(items) is list:
            for item in items:
                if not drop.isdisjoint(item):
                    return True
    return False


def _renamed(message: dict[str, Any], renames: Mapping[str, str]) -> dict[str, Any]:
    """`message` with its top-level fields renamed (`reasoning` → the name a compatible server reads back)."""
    if not any(key in message for key in renames):
        return message
    return {renames.get(k, k): v for k, v in message.items()}


def _without(message: dict[str, Any], drop: frozenset[str]) -> dict[str, Any]:
    """`message` without the dropped fields, at its top level, in its content parts and its tool calls (a copy
    only of what holds one)."""
    out = message if drop.isdisjoint(message) else {k: v for k, v in message.items() if k not in drop}
    for field in ("content", "tool_calls"):
        items = out.get(field)
        if type(items) is list and not all(drop.isdisjoint(item) for item in items):
            if out is message:
                out = dict(message)
            out[field] = [{k: v for k, v in item.items() if k not in drop} for item in items]
    return out


def _unanswered(message: dict[str, Any], index: int, provider: str) -> None:
    """A `tool` message must answer, by `tool_call_id`, a call an earlier message made."""
    raise MappingError(
        f"messages[{index}].tool_call_id: {message.get('tool_call_id')!r} answers no earlier assistant "
        "tool call", path=f"messages[{index}].tool_call_id", provider=provider,
    )
