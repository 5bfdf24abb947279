"""System lifting: the conversation's system messages → the provider's top-level system field.

Declared in `messages.system`: `to` (where the lifted value goes; without it nothing is lifted), `roles` (the
roles lifted; default system and developer), `take` (`leading`: the system messages before the first other
message; `first`: only the first of them; `all`: every one), `later` (what a system message that is not lifted
becomes: `error`, `user`, `keep`, or `merge` into the lifted value), `format` (`string`: the texts joined by a
blank line, or text blocks when one carries `cache_control`; `parts`: the rendered text parts) and `template`
(over `{parts, text}`: the value to write).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .codegen import FunctionBuilder
from .errors import MappingError
from .message_parts import PartRenderer
from .paths import compile_setter
from .templates import compile_template, template_roots
from .transforms import Context

SYSTEM_ROLES = ("system", "developer")


class SystemLifter:
    """`emit_split(code)`: the lines lifting the system messages (into the generated message mapping,
    message_turns.py); `put(...)` writes the lifted parts into the body."""

    def __init__(self, spec: Mapping[str, Any], provider: str, parts: PartRenderer) -> None:
        system = dict(spec.get("system") or {})
        self.provider = provider
        self.parts = parts
        self.to = compile_setter(system["to"]) if system.get("to") else None
        self.format = system.get("format", "string")
        self.take = system.get("take", "leading")
        self.later = system.get("later", "error")
        self.roles = tuple(system.get("roles") or SYSTEM_ROLES)
        self.template = (
            compile_template(system["template"], ("messages", "system", "template")) if "template" in system else None
        )
        roots = template_roots(system["template"]) if "template" in system else set()
        self.template_reads_text = roots is None or "text" in roots
        """Whether the template reads `text` (the joined texts are built only then)."""

    def emit_split(self, code: FunctionBuilder) -> None:
        """Lines that lift the system messages of `messages` into the body (`put`) and leave the others, with
        their indices, in `rest` (the constants of `take` and `later` decided here, once)."""
        if self.to is None:
            code.line("rest = enumerate(messages)")
            return
        take, later = self.take, self.later
        lift = "True" if take == "all" or later == "merge" else "leading"
        if take == "first":
            lift = "not lifted" if lift == "True" else f"{lift} and not lifted"
        for text in (
            "lifted = []",
            "rest = []",
            "leading = True",
            "for index, message in enumerate(messages):",
            f"    if message.get('role') not in {code.bind(self.roles)}:",
            "        leading = False",
            "        rest.append((index, message))",
            f"    elif {lift}:",
            "        content = message.get('content')",
            "        if isinstance(content, str):",
            "            lifted.append({'type': 'text', 'text': content})",
            "        elif content:",
            "            lifted.extend([part for part in content if part.get('type') == 'text'])",
            "    else:",
            f"        rest.append((index, {code.bind(self._later)}(message, index)))",
            "if lifted:",
            f"    {code.bind(self.put)}(lifted, body, ctx)",
        ):
            code.line(text)

    def _later(self, message: dict[str, Any], index: int) -> dict[str, Any]:
        if self.later == "user":
            return {**message, "role": "user"}
        if self.later == "keep":
            return message
        raise MappingError(
            f"messages[{index}]: a {message.get('role')} message after the conversation started is not supported "
            f"by {self.provider} (move it to the start)",
            path=f"messages[{index}]", provider=self.provider,
        )

    def put(self, parts: list[dict[str, Any]], body: dict[str, Any], ctx: Context) -> None:
        assert self.to is not None
        cached = False
        for part in parts:  # (a loop, not any() over a generator: this runs on every request)
            if part.get("cache_control") is not None:
                cached = True
                break
        if self.format == "string" and not cached:
            value: Any = parts[0]["text"] if len(parts) == 1 else "\n\n".join([p["text"] for p in parts])
        else:
            cache_point = self.parts.cache_point
            value = []
            for part in parts:
                value.append(self.parts.text(part, ctx))
                if cache_point is not None and part.get("cache_control") is not None:
                    value.append(cache_point(part, ctx))  # a separate block after the marked one
        if self.template is not None:
            text: Any = value
            if type(value) is not str:
                text = "\n\n".join([p["text"] for p in parts]) if self.template_reads_text else None
            value = self.template({"parts": value, "text": text}, ctx)
        self.to(body, value)

