"""Message mapping: unified conversation → the provider's turns, as declared in the spec's `messages:`.

`passthrough` (here) keeps OpenAI's shape, optionally renaming roles and fields and dropping fields. `template`
is three steps, a module each: system lifting (message_system.py), part rendering (message_parts.py) and turn
assembly (message_turns.py). Each step is generic; the spec supplies names and shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .content_parts import reasoning_as_content
from .errors import MappingError
from .message_turns import TurnAssembler
from .paths import compile_setter
from .transforms import Context

MessagesOp = Callable[[list[dict[str, Any]], dict[str, Any], Context], None]


def compile_messages(spec: Mapping[str, Any], provider: str) -> MessagesOp:
    if spec.get("mode", "passthrough") == "passthrough":
        return _passthrough(spec, provider)
    return TurnAssembler(spec, provider).apply


def _passthrough(spec: Mapping[str, Any], provider: str) -> MessagesOp:
    roles = dict(spec.get("roles") or {})
    put = compile_setter(spec.get("to", "messages"))
    require_call = bool((spec.get("tool_results") or {}).get("require_call", False))
    drop = frozenset(spec.get("drop_fields") or ())
    renames: dict[str, str] = {str(k): str(v) for k, v in (spec.get("rename_fields") or {}).items()}
    as_content = reasoning_as_content(spec["reasoning_as_content"]) if spec.get("reasoning_as_content") else None

    def apply(messages: list[dict[str, Any]], body: dict[str, Any], ctx: Context) -> None:
        if require_call:
            _check_tool_results(messages, provider)
        if as_content is not None:
            messages = [as_content(m, ctx) for m in messages]
        if roles:
            messages = [{**m, "role": roles.get(m["role"], m["role"])} for m in messages]
        if renames:  # before drop_fields, so a renamed field escapes a drop of its unified name
            messages = [_renamed(m, renames) for m in messages]
        if drop:
            messages = [_without(m, drop) for m in messages]
        put(body, messages)

    return apply


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


def _check_tool_results(messages: list[dict[str, Any]], provider: str) -> None:
    """Each `tool` message must answer, by `tool_call_id`, a call an earlier message made."""
    called: set[Any] = set()
    for index, message in enumerate(messages):
        for call in message.get("tool_calls") or ():
            called.add(call.get("id"))
        if message.get("role") == "tool" and message.get("tool_call_id") not in called:
            raise MappingError(
                f"messages[{index}].tool_call_id: {message.get('tool_call_id')!r} answers no earlier assistant "
                "tool call", path=f"messages[{index}].tool_call_id", provider=provider,
            )
