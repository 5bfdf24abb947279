"""Turn assembly: the template mode of `messages:`, lifting the system messages (message_system.py),
rendering each other message's parts (message_parts.py) and assembling the provider's turns.

Each message's role is mapped (`roles`; a role not there is a `MappingError`); a message with no rendered part
makes no turn; consecutive turns of one role are merged when `merge_consecutive_roles` is set; `first_role`
says which role the conversation must start with; each turn is rendered with the `turn` template over
`{role, parts}` and the list is written at `to`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import MappingError
from .message_parts import PartRenderer
from .message_system import SystemLifter
from .paths import compile_setter
from .templates import compile_template
from .transforms import Context


class TurnAssembler:
    """`apply(messages, body, ctx)`: the conversation written into the body as the provider's turns."""

    def __init__(self, spec: Mapping[str, Any], provider: str) -> None:
        self.provider = provider
        self.put = compile_setter(spec.get("to", "messages"))
        self.roles: dict[str, str] = dict(spec.get("roles") or {})
        self.merge = bool(spec.get("merge_consecutive_roles", False))
        self.first_role: str | None = spec.get("first_role")
        self.turn = compile_template(spec.get("turn", {"role": "$role", "content": "$parts"}), ("messages", "turn"))
        self.parts = PartRenderer(spec, provider)
        self.system = SystemLifter(spec, provider, self.parts)

    def apply(self, messages: list[dict[str, Any]], body: dict[str, Any], ctx: Context) -> None:
        lifted, rest = self.system.split(messages)
        if lifted:
            self.system.put(lifted, body, ctx)
        turns: list[tuple[str, list[Any]]] = []
        call_names: dict[str, str] = {}
        roles, merge, render = self.roles, self.merge, self.parts.render
        for index, message in rest:
            role = roles.get(message.get("role"))  # type: ignore[arg-type]
            if role is None:
                raise MappingError(
                    f"messages[{index}].role: role {str(message.get('role'))!r} is not supported by {self.provider}",
                    path=f"messages[{index}].role", provider=self.provider,
                )
            rendered = render(message, index, call_names, ctx)
            if not rendered:
                continue
            if merge and turns and turns[-1][0] == role:
                turns[-1][1].extend(rendered)
            else:
                turns.append((role, rendered))
        if self.first_role is not None and turns and turns[0][0] != self.first_role:
            raise MappingError(
                f"messages: the conversation must start with a {self.first_role} turn for {self.provider} "
                f"(it starts with {turns[0][0]}); put a {self.first_role} message first",
                path="messages", provider=self.provider,
            )
        turn = self.turn
        self.put(body, [turn({"role": role, "parts": parts}, ctx) for role, parts in turns])
