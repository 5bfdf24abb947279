"""Part rendering: one unified message → the provider's content parts, as declared in `messages.parts`.

A message is flattened into typed parts (text, image_url, input_audio, file, tool_call, tool_result, reasoning,
redacted_reasoning, refusal), sorted by the spec's `order`, and each is rendered with its kind's template. A
reasoning detail holding only a signature is attached to the next rendered part (`signature_only_reasoning`),
and a part carrying `cache_control` is followed by the spec's cache point block (`cache_points`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .codegen import FunctionBuilder, Shape
from .errors import MappingError
from .templates import Evaluator, compile_template, lower_into, template_paths
from .transforms import Context

PART_KINDS = ("text", "image_url", "input_audio", "file", "tool_call", "tool_result", "reasoning",
              "redacted_reasoning", "refusal")
RESULT_ROLES = ("tool", "function")
_CTX = re.compile(r"\bctx\b")


class PartRenderer:
    """`emit_render(code)`: the lines rendering one message's parts into the generated message mapping
    (message_turns.py); the tool calls seen so far are in `call_names`, id → name, so a tool result can name
    the call it answers."""

    def __init__(self, spec: Mapping[str, Any], provider: str) -> None:
        self.provider = provider
        self.templates: dict[str, Any] = dict(spec.get("parts") or {})
        self.parts: dict[str, Evaluator] = {
            kind: compile_template(tpl, ("messages", "parts", kind)) for kind, tpl in self.templates.items()
        }
        self.rank = _ranks(list(spec.get("order") or []))
        self.require_call = bool((spec.get("tool_results") or {}).get("require_call", False))
        self.attach_signature_as: str | None = (spec.get("signature_only_reasoning") or {}).get("attach_as")
        cache = dict(spec.get("cache_points") or {})
        self.cache_point_template: Any = cache.get("template")
        self.cache_point = (
            compile_template(cache["template"], ("messages", "cache_points", "template")) if "template" in cache
            else None
        )
        self.string_shape: Shape | None = None
        """What the part rendered from a string content holds (`emit_render`), when its lines are one display."""

    def text(self, part: dict[str, Any], ctx: Context) -> Any:
        """A text part rendered with the `text` template (the part as is without one)."""
        render = self.parts.get("text")
        return render(part, ctx) if render is not None else part

    def emit_render(self, code: FunctionBuilder, plain: str | None = None) -> bool:
        """Lines rendering the local `message` (at `index`, its unified role in `unified`) into the list `out`.

        A message of a role and a string content only (the usual user or assistant turn) renders that text
        straight through the `text` template, lowered over the string (`reads`: no part dict, no path string,
        nothing to order). Any other message is flattened in message order as (kind, the item its template
        reads, its request path), sorted by the spec's `order`, each part rendered with its kind's template.
        What the spec does not use (signature attaching, cache points) is left out of the lines; the rarer
        part kinds (reasoning details, tool results, tool calls) are flattened by the methods below.

        `plain`: a local the other branch sets False (every part so far came from a string content).

        Returns whether the string branch leaves its request path to the caller (`tail`, below): when the text
        template's lines never touch `ctx`, the path is not built per message; the caller sets it from `tail`
        (the index of the last such message) where a later step could read it, so `ctx.path` ends as before."""
        attach, cache_point = self.attach_signature_as is not None, self.cache_point
        code.line("content = message.get('content')")
        deferred = False
        if "text" in self.templates:  # (a role and a string: nothing else to read; any other key, the general lines)
            results = code.bind(RESULT_ROLES)
            code.line(f"if len(message) == 2 and isinstance(content, str) and unified not in {results}:")
            code.indent += "    "
            code.line("if not content:")
            code.line("    continue")
            deferred = self._emit_string(code)
            code.indent = code.indent[:-4]
            code.line("else:")
            code.indent += "    "
            if plain is not None:
                code.line(f"{plain} = False")
            if deferred:  # (the general path sets the path itself: the one left to the caller is set first)
                code.line("if tail is not None:")
                code.line(f"    ctx.path = {content_path(code, 'tail')}")
                code.line("    tail = None")
        code.line("details = message.get('reasoning_details')")
        code.line("calls = message.get('tool_calls')")
        lines = [
            "raw = []",
            "if details:",
            f"    {code.bind(self._details)}(details, index, raw)",
            f"if unified in {code.bind(RESULT_ROLES)}:",
            f"    raw.append({code.bind(self._tool_result)}(message, content, index, call_names))",
            "else:",
            "    if isinstance(content, str):",
            "        if content:",
            "            raw.append(('text', {'type': 'text', 'text': content}, f'messages[{index}].content'))",
            "    elif content:",
            "        for j, part in enumerate(content):",
            "            raw.append((str(part.get('type')), part, f'messages[{index}].content[{j}]'))",
            "    if message.get('refusal'):",
            "        raw.append(('refusal', {'text': message['refusal']}, f'messages[{index}].refusal'))",
            "if calls:",
            f"    {code.bind(_tool_calls)}(calls, index, call_names, raw)",
            "if len(raw) > 1:",  # (most messages have one part: nothing to order)
            f"    raw.sort(key={code.bind(self._rank_of)})",
            "out = []",
        ]
        if attach:
            lines.append("signatures = []")  # signature-only reasoning waiting for the part that carries it
        lines.append("for kind, item, where in raw:")
        if attach:
            lines += [f"    if kind == 'reasoning' and {code.bind(_signature_only)}(item):",
                      "        signatures.append(str(item['signature']))",
                      "        continue"]
        for text in lines:
            code.line(text)
        lines = []
        code.indent += "    "
        kinds = sorted(self.templates, key=lambda kind: kind != "text")  # (the usual kind tested first)
        for position, kind in enumerate(kinds):  # each kind's template inline in its branch
            code.line(f"{'if' if position == 0 else 'elif'} kind == {code.bind(kind)}:")
            code.indent += "    "
            code.line("ctx.path = where + '.function.arguments'" if kind == "tool_call" else "ctx.path = where")
            code.reads = {}  # (what one branch read is not read in another)
            code.line(f"rendered = {lower_into(self.templates[kind], ('messages', 'parts', kind), code)}")
            code.reads = {}
            code.indent = code.indent[:-4]
        if "refusal" not in self.templates:
            code.line("elif kind == 'refusal':" if kinds else "if kind == 'refusal':")
            code.line("    continue")
        code.line("else:")
        code.line(f"    {code.bind(self._unsupported)}(kind, where)")
        code.line("out.append(rendered)")
        code.indent = code.indent[:-4]
        if attach:
            lines += ["    if signatures:", f"        {code.bind(self._attach_signatures)}(out[-1:], signatures)"]
        if cache_point is not None:
            lines += ["    if item.get('cache_control') is not None:",
                      f"        out.append({code.bind(cache_point)}(item, ctx))"]  # a separate block after it
        if attach:
            lines += ["if signatures:", f"    {code.bind(self._attach_signatures)}(out[::-1], signatures)"]
        for text in lines:
            code.line(text)
        if "text" in self.templates:
            code.indent = code.indent[:-4]
        return deferred

    def _emit_string(self, code: FunctionBuilder) -> bool:
        """The lines rendering the string `content` as the text part `{type: text, text: content}` would be,
        into `out`: the `text` template lowered with its reads of that part as locals and constants (a key the
        part does not have reads None). Without a cache mark or a signature, nothing follows it. Returns
        whether the path was left to the caller (the lines never touch `ctx`)."""
        template = self.templates["text"]
        start = len(code.lines)
        code.reads = {}
        paths = template_paths(template)
        if paths is None:  # (it reads the part as a whole, or a path that is not plain keys)
            code.line("item = {'type': 'text', 'text': content}")
        else:
            known = {"text": "content", "type": code.bind("text")}
            code.reads = {(root,): known.get(root, "None") for root in {path[0] for path in paths if path}}
            code.present = {"content"}  # (a non-empty string)
        rendered = lower_into(template, ("messages", "parts", "text"), code)
        self.string_shape = code.shape_of(rendered, start)
        code.reads, code.present = {}, set()
        deferred = not any(_CTX.search(text) for text in code.lines[start:])
        code.lines.insert(start, code.indent + ("tail = index" if deferred else
                                                f"ctx.path = {content_path(code, 'index')}"))
        code.line(f"out = [{rendered}]")
        return deferred

    def _rank_of(self, entry: tuple[str, Any, str]) -> int:
        return self.rank.get(entry[0], len(PART_KINDS))

    def _unsupported(self, kind: str, where: str) -> None:
        raise MappingError(f"{where}: {kind} content is not supported by {self.provider}", path=where,
                           provider=self.provider)

    @staticmethod
    def _details(details: list[Any], index: int, raw: list[tuple[str, Any, str]]) -> None:
        for j, detail in enumerate(details):
            kind = "redacted_reasoning" if detail.get("type") == "redacted_thinking" else "reasoning"
            raw.append((kind, detail, f"messages[{index}].reasoning_details[{j}]"))

    def _tool_result(self, message: dict[str, Any], content: Any, index: int, call_names: dict[str, str]
                     ) -> tuple[str, dict[str, Any], str]:
        call_id = message.get("tool_call_id") or message.get("name") or ""
        name = call_names.get(call_id) or message.get("name")
        if self.require_call and call_id not in call_names:
            raise MappingError(
                f"messages[{index}].tool_call_id: {call_id!r} answers no earlier assistant tool call",
                path=f"messages[{index}].tool_call_id", provider=self.provider,
            )
        item = {"tool_call_id": call_id, "name": name, "content": _content_text(content),
                "is_error": message.get("is_error")}
        return "tool_result", item, f"messages[{index}]"

    def _attach_signatures(self, candidates: list[Any], signatures: list[str]) -> None:
        """Set the first waiting signature on the first candidate part that has none yet."""
        key = self.attach_signature_as
        assert key is not None
        for part in candidates:
            if signatures and isinstance(part, dict) and key not in part:
                part[key] = signatures.pop(0)


def _tool_calls(calls: list[Any], index: int, call_names: dict[str, str], raw: list[tuple[str, Any, str]]) -> None:
    for j, call in enumerate(calls):
        call_names[call.get("id", "")] = call.get("function", {}).get("name", "")
        raw.append(("tool_call", {**call, "position": j}, f"messages[{index}].tool_calls[{j}]"))


_CONTENT_PATHS = tuple(f"messages[{index}].content" for index in range(64))


def content_path(code: FunctionBuilder, index: str) -> str:
    """The expression of the request path `messages[<index>].content` (made once for the first messages: a
    formatted string costs more than rendering a short text part)."""
    return f"({code.bind(_CONTENT_PATHS)}[{index}] if {index} < 64 else f'messages[{{{index}}}].content')"


def _signature_only(detail: dict[str, Any]) -> bool:
    """A reasoning detail that holds nothing but a signature (the provider put it on a content part)."""
    return bool(detail.get("signature")) and not detail.get("text") and not detail.get("data")


def _ranks(order: list[Any]) -> dict[str, int]:
    """`order` entries are a kind, a list of kinds that keep their relative order, or `*` (every kind not
    named); kinds not named sort where `*` is, or last."""
    rank: dict[str, int] = {}
    rest = len(order)
    for position, entry in enumerate(order):
        for kind in entry if isinstance(entry, list) else [entry]:
            if kind == "*":
                rest = position
            else:
                rank[str(kind)] = position
    return {kind: rank.get(kind, rest) for kind in PART_KINDS}


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
