"""OpenAI-shaped bodies whose message `content` may be a list of typed chunks, and streamed tool calls
that come without an `index`: the passthrough decoders for the specs that declare either.

A provider speaking OpenAI's shape may answer `content` as a list of typed chunks (reasoning models that send
`{"type": "thinking", "thinking": [...]}` beside `{"type": "text", "text": ...}`), which the unified Structs
cannot hold. `response.content_parts` declares how to read them, with the template response's vocabulary
(`kind_by`, `kinds` producing `{text}` or `{reasoning: {...}}` pieces): the texts join into `content`, the
reasoning into `reasoning`. `stream.tool_call_index: by_id` numbers tool-call deltas that carry no `index` by
their id (a new id: the next index), on every chunk, so parallel calls sent in one chunk stay apart for a
consumer joining pieces by index.

A spec that declares neither keeps the one-call msgspec decode; one that does decodes every body and event
into plain values, rewrites them, and converts them (one path per spec, chosen when the plan is built). The
decoders here expose `decode(data)` raising `msgspec.DecodeError` for a body of another shape, as the
msgspec decoders they stand in for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import msgspec

from .gateway import ChatCompletionChunk, ChatCompletionMessageWithFinishReason
from .paths import compile_getter
from .templates import compile_template
from .transforms import Context

T = TypeVar("T")
Fold = Callable[[dict[str, Any]], None]


class _Silent(Context):
    def warn(self, code: str, message: str, param: str | None = None) -> None:
        return None


def compile_fold(spec: Mapping[str, Any] | None, provider: str) -> Fold | None:
    """`fold(message)`: a message (or delta) whose `content` is a list has it read as `spec` says: the text
    pieces joined into `content` (None when there are none), the reasoning pieces' texts (a text, or a list of
    texts) appended to `reasoning`. None when the spec declares no `content_parts`. A part the templates cannot
    read raises `msgspec.ValidationError`, which the passthrough decoders report as a body of the wrong shape."""
    if not spec:
        return None
    kind_of = compile_getter(str(dict(spec.get("kind_by") or {"field": "type"}).get("field", "type")))
    kinds = {str(kind): compile_template(template, ("response", "content_parts", "kinds", str(kind)))
             for kind, template in (spec.get("kinds") or {}).items()}
    ctx = _Silent(provider)

    def fold(message: dict[str, Any]) -> None:
        content = message.get("content")
        if type(content) is not list:
            return
        texts: list[str] = []
        reasoning: list[str] = []
        for part in content:
            kind = kind_of(part) if type(part) is dict else None
            render = kinds.get(str(kind)) if kind is not None else None
            try:
                piece = render(part, ctx) if render is not None else None
            except (ValueError, TypeError) as exc:  # a part of another shape (JMESPath type errors are ValueErrors)
                raise msgspec.ValidationError(f"a content part of type {kind!r} cannot be read: {exc}") from None
            if type(piece) is not dict:
                continue
            if type(text := piece.get("text")) is str:
                texts.append(text)
            if type(detail := piece.get("reasoning")) is dict:
                thought = detail.get("text")
                if type(thought) is str:
                    reasoning.append(thought)
                elif type(thought) is list:  # the texts of a chunk's own parts (`$thinking[].text`)
                    reasoning.extend(t for t in thought if type(t) is str)
        message["content"] = "".join(texts) if texts else None
        if thoughts := "".join(reasoning):
            message["reasoning"] = (message.get("reasoning") or "") + thoughts

    return fold


class _Decoder(Generic[T]):
    """JSON → plain values → rewritten → `target`; a body of another shape raises `msgspec.DecodeError`."""

    def __init__(self, target: type[T], rewrite: Callable[[Any], None]) -> None:
        self.target = target
        self.rewrite = rewrite

    def decode(self, data: bytes | str) -> T:
        value = msgspec.json.decode(data)
        if type(value) is dict:
            self.rewrite(value)
        return msgspec.convert(value, self.target)


def _choices(value: dict[str, Any], key: str) -> list[dict[str, Any]]:
    choices = value.get("choices")
    if type(choices) is not list:
        return []
    return [held for c in choices if type(c) is dict and type(held := c.get(key)) is dict]


def response_decoder(spec: Mapping[str, Any], provider: str) -> _Decoder[ChatCompletionMessageWithFinishReason] | None:
    """The passthrough response decoder of a spec with `response.content_parts` (None without)."""
    fold = compile_fold(spec.get("content_parts"), provider)
    if fold is None:
        return None

    def rewrite(value: dict[str, Any]) -> None:
        for message in _choices(value, "message"):
            fold(message)

    return _Decoder(ChatCompletionMessageWithFinishReason, rewrite)


class IndexById:
    """Per stream: tool-call deltas without an `index` get one by their id, the first unseen id the next free
    index; a delta with neither continues the call numbered last. Deltas that carry an index keep it (and
    teach the id's index)."""

    __slots__ = ("by_id", "last", "next")

    def __init__(self) -> None:
        self.by_id: dict[str, int] = {}
        self.last = 0
        self.next = 0

    def number(self, delta: dict[str, Any]) -> None:
        for call in delta.get("tool_calls") or ():
            if type(call) is not dict:
                continue
            ident = call.get("id")
            if not isinstance(ident, str):  # (an id of another type is no id: the chunk's decode says what is wrong)
                ident = None
            index = call.get("index")
            if type(index) is int:
                if ident is not None:
                    self.by_id.setdefault(ident, index)
                self.next = max(self.next, index + 1)
            elif ident is not None:
                index = self.by_id.get(ident)
                if index is None:
                    index = self.by_id[ident] = self.next
                    self.next += 1
                call["index"] = index
            else:
                call["index"] = index = self.last
            self.last = index


def stream_decoder_factory(stream_spec: Mapping[str, Any], response_spec: Mapping[str, Any],
                           provider: str) -> Callable[[], _Decoder[ChatCompletionChunk]] | None:
    """A factory of per-stream chunk decoders for a passthrough stream whose spec declares
    `response.content_parts` or `stream.tool_call_index: by_id` (None when it declares neither)."""
    fold = compile_fold(response_spec.get("content_parts"), provider)
    by_id = stream_spec.get("tool_call_index") == "by_id"
    if fold is None and not by_id:
        return None

    def make() -> _Decoder[ChatCompletionChunk]:
        numbering = IndexById() if by_id else None

        def rewrite(value: dict[str, Any]) -> None:
            for delta in _choices(value, "delta"):
                if fold is not None:
                    fold(delta)
                if numbering is not None:
                    numbering.number(delta)

        return _Decoder(ChatCompletionChunk, rewrite)

    return make


def reasoning_as_content(spec: Mapping[str, Any] | None) -> Callable[[dict[str, Any], Context], dict[str, Any]]:
    """`messages.reasoning_as_content` (passthrough): an assistant message carrying reasoning goes back with it
    as content parts, one per `reasoning_details` entry that has text (else one from `reasoning`), each from
    the template (item: the detail's `type`, `text`, `signature`, `data`), then its text as a `text` part (or
    its own parts). The unified fields themselves are left for `drop_fields` to remove."""
    render = compile_template((spec or {}).get("template"), ("messages", "reasoning_as_content", "template"))

    def apply(message: dict[str, Any], ctx: Context) -> dict[str, Any]:
        if message.get("role") != "assistant":
            return message
        details = [d for d in message.get("reasoning_details") or () if type(d) is dict and d.get("text")]
        if not details and message.get("reasoning"):
            details = [{"type": "thinking", "text": message["reasoning"]}]
        if not details:
            return message
        parts: list[Any] = [render(detail, ctx) for detail in details]
        content = message.get("content")
        if isinstance(content, str) and content:
            parts.append({"type": "text", "text": content})
        elif isinstance(content, list):
            parts.extend(content)
        return {**message, "content": parts}

    return apply
