"""Part rendering: one unified message → the provider's content parts, as declared in `messages.parts`.

A message is flattened into typed parts (text, image_url, input_audio, file, tool_call, tool_result, reasoning,
redacted_reasoning, refusal), sorted by the spec's `order`, and each is rendered with its kind's template. A
reasoning detail holding only a signature is attached to the next rendered part (`signature_only_reasoning`),
and a part carrying `cache_control` is followed by the spec's cache point block (`cache_points`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import MappingError
from .templates import Evaluator, compile_template
from .transforms import Context

PART_KINDS = ("text", "image_url", "input_audio", "file", "tool_call", "tool_result", "reasoning",
              "redacted_reasoning", "refusal")
RESULT_ROLES = ("tool", "function")


class PartRenderer:
    """`render(message, index, call_names, ctx)`: the message's rendered parts (the tool calls seen so far are
    in `call_names`, id → name, so a tool result can name the call it answers)."""

    def __init__(self, spec: Mapping[str, Any], provider: str) -> None:
        self.provider = provider
        self.parts: dict[str, Evaluator] = {
            kind: compile_template(tpl, ("messages", "parts", kind)) for kind, tpl in (spec.get("parts") or {}).items()
        }
        self.rank = _ranks(list(spec.get("order") or []))
        self.require_call = bool((spec.get("tool_results") or {}).get("require_call", False))
        self.attach_signature_as: str | None = (spec.get("signature_only_reasoning") or {}).get("attach_as")
        cache = dict(spec.get("cache_points") or {})
        self.cache_point = (
            compile_template(cache["template"], ("messages", "cache_points", "template")) if "template" in cache
            else None
        )

    def text(self, part: dict[str, Any], ctx: Context) -> Any:
        """A text part rendered with the `text` template (the part as is without one)."""
        render = self.parts.get("text")
        return render(part, ctx) if render is not None else part

    def render(self, message: dict[str, Any], index: int, call_names: dict[str, str], ctx: Context) -> list[Any]:
        raw = self._flatten(message, index, call_names)
        if len(raw) > 1:  # (most messages have one part: nothing to order)
            rank, last = self.rank, len(PART_KINDS)
            raw.sort(key=lambda entry: rank.get(entry[0], last))
        parts, cache_point, attach = self.parts, self.cache_point, self.attach_signature_as
        out: list[Any] = []
        signatures: list[str] = []  # signature-only reasoning waiting for the part that carries it
        for kind, item, where in raw:
            if attach and kind == "reasoning" and _signature_only(item):
                signatures.append(str(item["signature"]))
                continue
            render = parts.get(kind)
            if render is None:
                if kind == "refusal":
                    continue
                raise MappingError(
                    f"{where}: {kind} content is not supported by {self.provider}", path=where, provider=self.provider
                )
            ctx.path = where + ".function.arguments" if kind == "tool_call" else where
            out.append(render(item, ctx))
            if signatures:
                self._attach_signatures(out[-1:], signatures)
            if cache_point is not None and item.get("cache_control") is not None:
                out.append(cache_point(item, ctx))
        if signatures:
            self._attach_signatures(out[::-1], signatures)
        return out

    def _flatten(
        self, message: dict[str, Any], index: int, call_names: dict[str, str]
    ) -> list[tuple[str, dict[str, Any], str]]:
        """The message's parts in message order: (kind, the item its template reads, its request path)."""
        raw: list[tuple[str, dict[str, Any], str]] = []
        details = message.get("reasoning_details")
        if details:
            for j, detail in enumerate(details):
                kind = "redacted_reasoning" if detail.get("type") == "redacted_thinking" else "reasoning"
                raw.append((kind, detail, f"messages[{index}].reasoning_details[{j}]"))
        content = message.get("content")
        if message.get("role") in RESULT_ROLES:
            call_id = message.get("tool_call_id") or message.get("name") or ""
            name = call_names.get(call_id) or message.get("name")
            if self.require_call and call_id not in call_names:
                raise MappingError(
                    f"messages[{index}].tool_call_id: {call_id!r} answers no earlier assistant tool call",
                    path=f"messages[{index}].tool_call_id", provider=self.provider,
                )
            item = {"tool_call_id": call_id, "name": name, "content": _content_text(content),
                    "is_error": message.get("is_error")}
            raw.append(("tool_result", item, f"messages[{index}]"))
        else:
            if isinstance(content, str):
                if content:
                    raw.append(("text", {"type": "text", "text": content}, f"messages[{index}].content"))
            elif content:
                for j, part in enumerate(content):
                    raw.append((str(part.get("type")), part, f"messages[{index}].content[{j}]"))
            if message.get("refusal"):
                raw.append(("refusal", {"text": message["refusal"]}, f"messages[{index}].refusal"))
        calls = message.get("tool_calls")
        if calls:
            for j, call in enumerate(calls):
                call_names[call.get("id", "")] = call.get("function", {}).get("name", "")
                raw.append(("tool_call", {**call, "position": j}, f"messages[{index}].tool_calls[{j}]"))
        return raw

    def _attach_signatures(self, candidates: list[Any], signatures: list[str]) -> None:
        """Set the first waiting signature on the first candidate part that has none yet."""
        key = self.attach_signature_as
        assert key is not None
        for part in candidates:
            if signatures and isinstance(part, dict) and key not in part:
                part[key] = signatures.pop(0)


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
