"""System lifting: the conversation's system messages → the provider's top-level system field.

Declared in `messages.system`: `to` (where the lifted value goes; without it nothing is lifted), `roles` (the
roles lifted; default system and developer), `take` (`leading`: the system messages before the first other
message; `first`: only the first of them; `all`: every one), `later` (what a system message that is not lifted
becomes: `error`, `user`, `keep`, or `merge` into the lifted value), `format` (`string`: the texts joined by a
blank line, or text blocks when one carries `cache_control`; `parts`: the rendered text parts) and `template`
(over `{parts, text}`: the value to write).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .codegen import FunctionBuilder
from .errors import MappingError
from .message_parts import PartRenderer
from .paths import compile_setter, setter_lines
from .templates import lower_into, template_roots
from .transforms import Context

SYSTEM_ROLES = ("system", "developer")


class SystemLifter:
    """`emit_lift(code)` and `emit_put(code, ...)`: the lines lifting the system messages (into the generated
    message mapping, message_turns.py); `put(...)` writes the lifted parts into the body."""

    def __init__(self, spec: Mapping[str, Any], provider: str, parts: PartRenderer) -> None:
        system = dict(spec.get("system") or {})
        self.provider = provider
        self.parts = parts
        self.to = compile_setter(system["to"]) if system.get("to") else None
        self.path = str(system.get("to") or "")
        self.format = system.get("format", "string")
        self.take = system.get("take", "leading")
        self.later = system.get("later", "error")
        self.roles = tuple(system.get("roles") or SYSTEM_ROLES)
        roots = template_roots(system["template"]) if "template" in system else set()
        self.template_reads_text = roots is None or "text" in roots
        """Whether the template reads `text` (the joined texts are built only then)."""
        self.template: Any = system.get("template")
        self.put = self._lower_put(self.template)
        """The generated `put_system(parts, body, ctx)`: the lifted text parts written into the body."""

    def emit_lift(self, code: FunctionBuilder) -> None:
        """Lines inside the message loop of the generated mapping (message_turns.py), the message's role in the
        local `unified`: a system message lifted is added to `lifted` and skipped (`continue`); one not lifted
        becomes what `later` says (its role read again); any other role ends the leading run. The constants of
        `take` and `later` are decided here, once."""
        if self.to is None:
            return
        take, later = self.take, self.later
        lift = "True" if take == "all" or later == "merge" else "leading"
        if take == "first":
            lift = "not lifted" if lift == "True" else f"{lift} and not lifted"
        lines = [f"if unified in {code.bind(self.roles)}:"]
        lines += [f"    if {lift}:"] if lift != "True" else []
        body = ["content = message.get('content')",
                "if isinstance(content, str):",
                "    lifted.append({'type': 'text', 'text': content})",
                "elif content:",
                "    lifted.extend([part for part in content if part.get('type') == 'text'])",
                *(["    cached = None"] if self.format == "string" else []),  # (a part may be marked: `emit_put` looks)
                "continue"]
        lines += [("        " if lift != "True" else "    ") + text for text in body]
        if lift != "True":
            lines += [f"    message = {code.bind(self._later)}(message, index)",
                      "    unified = message.get('role')"]
        if "leading" in lift:
            lines += ["else:", "    leading = False"]
        for text in lines:
            code.line(text)

    def emit_start(self, code: FunctionBuilder) -> None:
        """The locals `emit_lift` uses, before the loop."""
        if self.to is not None:
            code.line("lifted = []")
            if self.format == "string":
                code.line("cached = False")  # (None once a message gives parts: only they may carry a mark)
            if self.take != "all" and self.later != "merge":
                code.line("leading = True")

    def emit_put(self, code: FunctionBuilder, entry_path: str) -> bool:
        """After the loop: the lifted parts written into the body (`put`'s lines inline), with `ctx.path` as it was
        when the mapping started (the local `entry_path`, which the caller sets: the path a transform of the
        lifted parts sees, as when the lifting ran before the rendering), then back to what the rendering left.
        Returns whether the lines read `entry_path` (they pass `ctx` on)."""
        if self.to is None:
            return False
        code.line("if lifted:")
        code.indent += "    "
        code.line("parts = lifted")
        passed = code.passes_ctx
        uses = self._emit_put(code, self.template, known=True, entry_path=entry_path)
        code.passes_ctx = passed or uses
        code.indent = code.indent[:-4]
        return uses

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

    def _lower_put(self, template: Any) -> Callable[[list[dict[str, Any]], dict[str, Any], Context], None]:
        """`put_system(parts, body, ctx)` for this spec: the lifted text parts as one string (the texts joined
        by a blank line; text blocks as for `parts` when one carries `cache_control`) or as the rendered text
        parts (each followed by the spec's cache point block when it carries `cache_control`), then the
        `template` over `{parts, text}` when there is one, written at `to`. Format, template and cache points
        are decided here, once."""
        code = FunctionBuilder(("parts", "body", "ctx"), "put_system")
        if self.to is None:
            return code.build("None")
        self._emit_put(code, template)
        function: Callable[[list[dict[str, Any]], dict[str, Any], Context], None] = code.build("None")
        return function

    def _emit_put(self, code: FunctionBuilder, template: Any, known: bool = False,
                  entry_path: str | None = None) -> bool:
        """The lines of `put` (its parts in the local `parts`) at the builder's indentation. `known`: inline after
        the lifting, whose local `cached` is False when every part lifted was made of a string (none marked),
        None when a message gave parts (looked at here). `entry_path`: the local holding the path the lines that
        pass `ctx` on must see (`_at_path`); only those lines set it (a string joined from strings sets none).
        Returns whether any line passes `ctx` on."""
        indent = code.indent
        if self.format == "string":
            for text in (*(("if cached is None:",) if known else ()),
                         *(f"{'    ' if known else ''}{text}" for text in (
                             "cached = False",
                             "for part in parts:",  # (a loop, not any() over a generator: runs on every request)
                             "    if part.get('cache_control') is not None:",
                             "        cached = True",
                             "        break")),
                         "if not cached:",
                         "    value = parts[0]['text'] if len(parts) == 1 else "
                         "'\\n\\n'.join([p['text'] for p in parts])",
                         "else:"):
                code.line(text)
            code.indent += "    "
        start = len(code.lines)
        code.passes_ctx = False
        self._emit_blocks(code)
        uses = _at_path(code, start, entry_path)
        code.indent = indent
        start = len(code.lines)
        if template is not None:
            code.reads = {("parts",): "value"}
            if self.template_reads_text:
                code.line("text = value if type(value) is str else '\\n\\n'.join([p['text'] for p in parts])")
                code.reads[("text",)] = "text"
            roots = template_roots(template)
            if roots is None or not roots <= {"parts", "text"}:  # (it reads more than the two: the object itself)
                code.line("item = {'parts': value, 'text': " + (
                    "text}" if self.template_reads_text else "value if type(value) is str else None}"))
            code.line(f"value = {lower_into(template, ('messages', 'system', 'template'), code)}")
            code.reads = {}
        for text in setter_lines(self.path, "value", code.bind):
            code.line(text)
        return _at_path(code, start, entry_path) or uses

    def _emit_blocks(self, code: FunctionBuilder) -> None:
        """Lines setting `value` to the parts rendered as text blocks (`text` template inline), each marked one
        followed by the cache point block."""
        text, cache_point = self.parts.templates.get("text"), self.parts.cache_point_template
        code.line("value = []")
        code.line("for item in parts:")
        code.reads = {}
        code.indent += "    "
        rendered = lower_into(text, ("messages", "parts", "text"), code) if text is not None else "item"
        code.line(f"value.append({rendered})")
        if cache_point is not None:
            code.line("if item.get('cache_control') is not None:")  # a separate block after the marked one
            code.indent += "    "
            code.line(f"value.append({lower_into(cache_point, ('messages', 'cache_points', 'template'), code)})")
            code.indent = code.indent[:-4]
        code.reads = {}
        code.indent = code.indent[:-4]


def _at_path(code: FunctionBuilder, start: int, entry_path: str | None) -> bool:
    """Run the lines from `start` (at the builder's indentation) with `ctx.path` set to the local `entry_path`,
    and back to what it was after them, when they pass `ctx` on (the builder's `passes_ctx`, reset here; a
    Struct field set costs ~0.3k instructions: lines that never read `ctx` are left as they are). Returns whether
    they pass it on."""
    passes, code.passes_ctx = code.passes_ctx, False
    if passes and entry_path is not None:
        code.lines.insert(start, code.indent + f"held_path, ctx.path = ctx.path, {entry_path}")
        code.line("ctx.path = held_path")
    return passes
