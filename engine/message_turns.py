"""Turn assembly: the template mode of `messages:`, lifting the system messages (message_system.py),
rendering each other message's parts (message_parts.py) and assembling the provider's turns.

Each message's role is mapped (`roles`; a role not there is a `MappingError`); a message with no rendered part
makes no turn; consecutive turns of one role are merged when `merge_consecutive_roles` is set; `first_role`
says which role the conversation must start with; each turn is rendered with the `turn` template over
`{role, parts}` and the list is written at `to`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .codegen import FunctionBuilder, Shape
from .errors import MappingError
from .guards import WrittenList
from .message_parts import PartRenderer, content_path
from .message_system import SystemLifter
from .paths import compile_setter, setter_lines, split_path
from .templates import lower_into, template_roots
from .transforms import Context

_PLAIN = "_plain"
"""The generated mapping's local: every message so far was a string content (rendered through one display)."""


class TurnAssembler:
    """`apply(messages, body, ctx)`: the conversation written into the body as the provider's turns, one
    generated function per spec (each step adds its lines: `SystemLifter.emit_lift` and `emit_put`,
    `PartRenderer.emit_render`)."""

    def __init__(self, spec: Mapping[str, Any], provider: str) -> None:
        self.provider = provider
        self.to = str(spec.get("to", "messages"))
        self.put = compile_setter(self.to)
        self.roles: dict[str, str] = dict(spec.get("roles") or {})
        self.merge = bool(spec.get("merge_consecutive_roles", False))
        self.first_role: str | None = spec.get("first_role")
        self.turn_template = spec.get("turn", {"role": "$role", "content": "$parts"})
        self.parts = PartRenderer(spec, provider)
        self.system = SystemLifter(spec, provider, self.parts)

        self.written: WrittenList | None = None
        """What the turns written at `to` hold when every message was a string content (`_lower`)."""
        self.apply = self._lower()
        """The generated `map_messages(messages, body, ctx)`: lifting, rendering and assembly as one function;
        with `written`, it returns whether every turn it wrote is of that known shape."""

    def _lower(self) -> Callable[[list[dict[str, Any]], dict[str, Any], Context], None]:
        """One pass over the messages: each is lifted (a system message, `SystemLifter.emit_lift`) or rendered
        (`PartRenderer.emit_render`) and assembled into its turn as it comes; the lifted parts are written after
        the loop (before the turns, so the body's keys keep their order)."""
        code = FunctionBuilder(("messages", "body", "ctx"), "map_messages")
        self.system.emit_start(code)
        direct = _direct_turn(self.turn_template)
        known = direct and len(split_path(self.to)) == 1 and all(isinstance(r, str) for r in self.roles.values())
        if known:
            code.line(f"{_PLAIN} = True")
        turn: Shape | None = None
        code.line("sent = []" if direct else "turns = []")
        if direct and self.merge:
            code.line("last = None")  # (the role of the last turn; its parts list is `merged`)
        if direct and self.first_role is not None:
            code.line("first = None")
        code.line("call_names = {}")
        start = len(code.lines)
        code.line("index = -1")  # (a counter, not `enumerate`: no iterator object and tuple per call and message)
        code.line("for message in messages:")
        code.indent = "    "
        code.line("index += 1")
        code.line("unified = message.get('role')")
        self.system.emit_lift(code)
        code.line(f"role = {code.bind(self.roles)}.get(unified)")
        code.line("if role is None:")
        code.line(f"    {code.bind(self._bad_role)}(index, message)")
        deferred = self.parts.emit_render(code, _PLAIN if known else None)
        code.line("if not out:")
        code.line("    continue")
        if direct:
            turn = self._emit_direct(code)
        elif self.merge:
            code.line("if turns and turns[-1][0] == role:")
            code.line("    turns[-1][1].extend(out)")
            code.line("else:")
            code.line("    turns.append((role, out))")
        else:
            code.line("turns.append((role, out))")
        code.indent = ""
        if deferred:  # the path of the last string content rendered without it (PartRenderer.emit_render)
            code.lines.insert(start, "tail = None")
            code.line("if tail is not None:")
            code.line(f"    ctx.path = {content_path(code, 'tail')}")
        if self.first_role is not None:
            first = "first" if direct else "turns[0][0]"
            code.line(f"if {'sent' if direct else 'turns'} and {first} != {code.bind(self.first_role)}:")
            code.line(f"    {code.bind(self._bad_first_role)}({first})")
        if not direct:
            code.line("sent = []")
            code.line("for role, parts in turns:")  # each turn rendered with the `turn` template, inline
            code.indent = "    "
            roots = template_roots(self.turn_template)
            if roots is None or not roots <= {"role", "parts"}:  # (it reads more than the two: the object itself)
                code.line("item = {'role': role, 'parts': parts}")
            self._emit_turn(code, "parts")
            code.indent = ""
        if self.system.emit_put(code, "entry_path"):
            code.lines.insert(0, "entry_path = ctx.path")
        for text in setter_lines(self.to, "sent", code.bind, a_list=True):
            code.line(text)
        part = self.parts.string_shape
        if known and turn is not None and part is not None:
            self.written = WrittenList(self.to, turn, {"out": part})
            function: Callable[[list[dict[str, Any]], dict[str, Any], Context], Any] = code.build(_PLAIN)
            return function
        if known:  # (nothing is known of the parts: no flag)
            code.lines[:] = [text for text in code.lines if text.strip() not in (f"{_PLAIN} = True",
                                                                                   f"{_PLAIN} = False")]
        function = code.build("None")
        return function

    def _emit_direct(self, code: FunctionBuilder) -> Shape | None:
        """A turn whose template only places its role and its parts list (`_direct_turn`) is rendered when it
        starts; a later message of the same role (`merge_consecutive_roles`) extends that same parts list."""
        if self.merge:
            code.line("if last == role:")
            code.line("    merged.extend(out)")
            code.line("    continue")
            code.line("last = role")
            code.line("merged = out")
        if self.first_role is not None:
            code.line("if not sent:")
            code.line("    first = role")
        return self._emit_turn(code, "out")

    def _emit_turn(self, code: FunctionBuilder, parts: str) -> Shape | None:
        """The lines appending the turn of the locals `role` and `parts` to `sent`; returns what the turn holds
        when its lines are one display (`FunctionBuilder.shape_of`)."""
        code.reads = {("role",): "role", ("parts",): parts}  # (what it reads of them: the locals)
        code.present = {"role", parts}  # (a turn has a mapped role and a list of parts)
        start = len(code.lines)
        rendered = lower_into(self.turn_template, ("messages", "turn"), code)
        shape = code.shape_of(rendered, start)
        code.line(f"sent.append({rendered})")
        code.reads, code.present = {}, set()
        return shape

    def _bad_role(self, index: int, message: dict[str, Any]) -> None:
        raise MappingError(
            f"messages[{index}].role: role {str(message.get('role'))!r} is not supported by {self.provider}",
            path=f"messages[{index}].role", provider=self.provider,
        )

    def _bad_first_role(self, role: str) -> None:
        raise MappingError(
            f"messages: the conversation must start with a {self.first_role} turn for {self.provider} "
            f"(it starts with {role}); put a {self.first_role} message first",
            path="messages", provider=self.provider,
        )


def _direct_turn(template: Any) -> bool:
    """Whether the `turn` template is an object whose values are `$role`, `$parts` or plain scalars: its value
    holds the parts list itself, so the turn can be rendered when it starts and extended in place after."""
    if not isinstance(template, dict) or any(str(key).startswith("$") for key in template):
        return False
    for value in template.values():
        if value in ("$role", "$parts"):
            continue
        if isinstance(value, str) and value.startswith("$"):
            return False
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            return False
    return True
