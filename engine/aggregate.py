"""Fold a stream of `ChatCompletionChunk`s back into the whole response a non-streamed call would return.

Why it exists: callers who stream still want one message at the end (text, tool calls, usage), and the
conformance tests compare a recorded stream with its aggregated message. Pure, no I/O.

Tool calls are assembled by their `index`; providers disagree on the details, so the rules are lenient:

- a delta whose id differs from the call open at its index starts a new call (some providers send every call
  as index 0 with a fresh id);
- a delta without an id continues the call open at its index, or the last call when the index is unknown;
- the name is taken from the first delta that has one; argument fragments are concatenated.

Reasoning details are merged by position within each delta's list the same way: text concatenated, the
signature and redacted `data` set; a position whose detail is already signed starts a new detail, and so does
any reasoning after answer text or a tool call (a signature that comes after the text, as on a Gemini text
part, signs that part, not the thoughts before it).
"""

from __future__ import annotations

from typing import Any

import msgspec

from .extras import merge_extras
from .gateway import (
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionMessageWithFinishReason,
    Choice,
    FunctionCall,
    ReasoningDetail,
    ToolCall,
    Usage,
)

__all__ = ["StreamAggregator", "aggregate"]


class _ToolCallParts(msgspec.Struct, gc=False):
    """One tool call being assembled.

    A Struct the garbage collector does not track (it holds strings and a list of strings: no cycle can run
    through it), made in C: a stream of thousands of calls (one per event) keeps one of these per call, and
    tracked they filled the collector's young generation every few hundred events. The first argument piece is
    kept as it is (`first`), a list made only for the pieces after it: a call sent whole (one per event in some
    streams) keeps no list, which the collector would track."""

    id: str | None
    type: str | None = None
    signature: str | None = None
    name: str | None = None
    first: str | None = None
    more: list[str] | None = None
    """The argument pieces after the first, in order (None until there is one).

    The fields hold what the call's first delta gave (an empty name, type or argument text as None would be:
    `build` reads them so), in the order a delta's fields are read (`add` makes one from its first delta with
    positional arguments)."""

    def build(self, position: int) -> ToolCall:
        arguments = self.first if self.more is None else (self.first or "") + "".join(self.more)
        return ToolCall(
            id=self.id or f"call_{position}",
            type=self.type or "function",
            # a call that streamed no argument text took none: "{}", as a whole response says it
            function=FunctionCall(name=self.name or "", arguments=arguments or "{}"),
            signature=self.signature,
        )


class _ReasoningParts:
    """One reasoning block being assembled."""

    __slots__ = ("data", "extra", "signature", "summary", "text", "type")

    def __init__(self, kind: str) -> None:
        self.type = kind
        self.text: list[str] = []
        self.signature: str | None = None
        self.data: str | None = None
        self.summary: list[str] = []
        self.extra: dict[str, Any] = {}
        """A proxy's `format`, `id`, `index` (OpenRouter), first seen value each."""

    def build(self) -> ReasoningDetail:
        kind: Any = self.type
        return ReasoningDetail(
            type=kind,
            text="".join(self.text) if self.text else None,
            signature=self.signature,
            data=self.data,
            summary="".join(self.summary) if self.summary else None,
            **self.extra,
        )


class _ChoiceParts:
    """Everything gathered for one choice index."""

    __slots__ = (
        "calls",
        "calls_by_index",
        "content",
        "finish_reason",
        "logprobs",
        "reasoning",
        "reasoning_by_position",
        "reasoning_details",
        "refusal",
        "role",
    )

    def __init__(self) -> None:
        self.role: str | None = None
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.reasoning: list[str] = []
        self.calls: list[_ToolCallParts] = []
        self.calls_by_index: dict[int, _ToolCallParts] = {}
        self.reasoning_details: list[_ReasoningParts] = []
        self.reasoning_by_position: dict[int, _ReasoningParts] = {}
        self.finish_reason: str | None = None
        self.logprobs: Any = None

    def _open_call(self, index: int, call_id: str | None) -> _ToolCallParts:
        call = _ToolCallParts(call_id)
        self.calls.append(call)
        self.calls_by_index[index] = call
        return call

    def add_logprobs(self, logprobs: Any) -> None:
        """Concatenate the token lists (`content`, `refusal`) of OpenAI-shaped logprobs."""
        if not isinstance(logprobs, dict):
            self.logprobs = logprobs
            return
        if not isinstance(self.logprobs, dict):
            self.logprobs = {}
        for key, value in logprobs.items():
            have = self.logprobs.get(key)
            if isinstance(have, list) and isinstance(value, list):
                have.extend(value)
            elif value is not None or key not in self.logprobs:
                self.logprobs[key] = list(value) if isinstance(value, list) else value

    def build(self, index: int) -> Choice:
        role: Any = self.role or "assistant"
        message = ChatCompletionMessage(
            role=role,
            content="".join(self.content) or None,
            refusal="".join(self.refusal) or None,
            reasoning="".join(self.reasoning) or None,
            tool_calls=[c.build(i) for i, c in enumerate(self.calls)] or None,
            reasoning_details=[r.build() for r in self.reasoning_details] or None,
        )
        return Choice(index=index, message=message, finish_reason=self.finish_reason, logprobs=self.logprobs)


_NOTHING = object()
_NO_PARTS = _ChoiceParts()
"""What `StreamAggregator._last` holds before a first choice (never written: no index equals `_NOTHING`)."""


class StreamAggregator:
    """Add chunks as they arrive; `result()` at any time gives the message gathered so far."""

    __slots__ = ("_choices", "_last", "_last_index", "chunks", "created", "extras", "id", "model", "usage")

    def __init__(self) -> None:
        self._choices: dict[int, _ChoiceParts] = {}
        self._last_index: object = _NOTHING
        """The index of the last chunk's choice, and its parts (`_last`): a chunk's choice is usually the one
        before's, found with one int compare instead of a dict lookup per chunk."""
        self._last = _NO_PARTS
        self.id: str | None = None
        self.model: str | None = None
        self.created: int | None = None
        self.usage: Usage | None = None
        self.extras: dict[str, Any] | None = None
        self.chunks = 0

    def _parts(self, index: int) -> _ChoiceParts:
        parts = self._choices.get(index)
        if parts is None:
            parts = self._choices[index] = _ChoiceParts()
        self._last_index, self._last = index, parts
        return parts

    def add(self, chunk: ChatCompletionChunk) -> None:
        # (Per chunk, so written for the interpreter: a field tested `is not None` before its truth where it is
        # usually None, read once into a local where it is used twice, and no Python call on the usual paths.)
        self.chunks += 1
        if self.id is None and chunk.id:
            self.id = chunk.id
        if self.model is None and chunk.model:
            self.model = chunk.model
        if self.created is None and chunk.created is not None:
            self.created = chunk.created
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.extras is not None and chunk.extras:
            if self.extras is None:
                self.extras = {}
            merge_extras(self.extras, chunk.extras)
        for choice in chunk.choices:
            parts = self._last if choice.index == self._last_index else self._parts(choice.index)
            delta = choice.delta
            text = delta.content
            if text is not None and text:
                parts.content.append(text)
                if parts.reasoning_by_position:
                    parts.reasoning_by_position.clear()  # the reasoning before the text is over
            if delta.tool_calls is not None:
                by_index = parts.calls_by_index
                for call in delta.tool_calls:
                    current = by_index.get(call.index)
                    call_id = call.id
                    function = call.function
                    if current is None:
                        if call_id is not None:  # a new call (its first delta): made whole, in one C call
                            current = _ToolCallParts(call_id, call.type, call.signature) if function is None else \
                                _ToolCallParts(call_id, call.type, call.signature, function.name, function.arguments)
                            by_index[call.index] = current
                            parts.calls.append(current)
                            continue
                        # (an argument piece without an id: it continues the last call, or opens one)
                        current = parts.calls[-1] if parts.calls else parts._open_call(call.index, None)
                    elif call_id is not None:  # (the usual argument piece has none: it continues the call)
                        if current.id is None:
                            current.id = call_id
                        elif current.id != call_id:
                            current = parts._open_call(call.index, call_id)
                    if call.type:
                        current.type = call.type
                    if call.signature is not None:
                        current.signature = call.signature
                    if function is not None:
                        if function.name and not current.name:
                            current.name = function.name
                        if function.arguments:
                            if current.more is not None:
                                current.more.append(function.arguments)
                            elif current.first:
                                current.more = [function.arguments]
                            else:
                                current.first = function.arguments
                if parts.reasoning_by_position:
                    parts.reasoning_by_position.clear()  # (as after text: the reasoning before the call is over)
            text = delta.reasoning
            if text is not None and text:
                parts.reasoning.append(text)
            if delta.reasoning_details is not None:  # each merged into the block at its position (module docstring)
                by_position = parts.reasoning_by_position
                position = 0
                for detail in delta.reasoning_details:
                    block = by_position.get(position)
                    text = detail.text
                    # a signed block, a redacted block that has its data, or a detail of another kind: not continued
                    if block is None or detail.type != block.type \
                            or (block.data is not None and detail.data is not None) \
                            or (block.signature is not None and (text is not None or detail.data is not None)):
                        block = by_position[position] = _ReasoningParts(detail.type)
                        parts.reasoning_details.append(block)
                    if text is not None and text:
                        block.text.append(text)
                    if detail.signature:  # an empty signature (sent before the text by some proxies) signs nothing
                        block.signature = detail.signature
                    if detail.data is not None:
                        block.data = detail.data
                    if detail.summary is not None and detail.summary:
                        block.summary.append(detail.summary)
                    if detail.format is not None or detail.id is not None or detail.index is not None:
                        for key in ("format", "id", "index"):
                            if (value := getattr(detail, key)) is not None:
                                block.extra.setdefault(key, value)
                    position += 1  # noqa: SIM113 (enumerate costs an iterator and a tuple per chunk)
            if delta.role is not None and delta.role:
                parts.role = delta.role
            if delta.refusal is not None and delta.refusal:
                parts.refusal.append(delta.refusal)
            if choice.finish_reason is not None:
                parts.finish_reason = choice.finish_reason
            if choice.logprobs is not None:
                parts.add_logprobs(choice.logprobs)

    def result(self) -> ChatCompletionMessageWithFinishReason:
        return ChatCompletionMessageWithFinishReason(
            choices=[self._choices[i].build(i) for i in sorted(self._choices)],
            id=self.id,
            model=self.model,
            created=self.created,
            usage=self.usage,
            extras=dict(self.extras) if self.extras else None,
        )


def aggregate(chunks: list[ChatCompletionChunk]) -> ChatCompletionMessageWithFinishReason:
    """Aggregate a finished list of chunks in one call."""
    aggregator = StreamAggregator()
    for chunk in chunks:
        aggregator.add(chunk)
    return aggregator.result()
