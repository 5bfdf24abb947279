"""`stream.mode: whole_response`: every event is a complete response, read with the response spec, as deltas.

A choice is read by the response spec's generated `read_choice` (what non-streamed responses use, lowered here
for the event's view types: each event is decoded into Structs holding only the fields the mappings read, see
views.py); `error_when` names the path of an error object that ends the stream; the usage block is read again
only when it differs from the last one read, and the usage chunk is sent once the finish reason came.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableSequence
from typing import Any

import msgspec

from .errors import InvalidRequestError, StreamError
from .extras import EventExtras
from .frames import FrameLike
from .gateway import (
    ChatCompletionChunk,
    ChoiceDelta,
    ChunkChoice,
    FunctionCallDelta,
    ReasoningDetail,
    RequestWarning,
    ToolCallDelta,
)
from .lower_response import EventTop, ReadChoice
from .response import FinishMap, build_usage
from .silent import SILENT_KIND, SilentRules
from .stream_base import NOTHING, StreamDecoder, json_of, stream_error
from .transforms import Context


class WholeResponseDecoder(StreamDecoder):
    """Every event is a whole response: its choices are read by the response spec's generated `read_choice`
    (the function non-streamed responses use) and become deltas; the usage block is read again only when it
    differs from the last one read."""

    def __init__(self, provider: str, decode: Callable[[str | bytes], Any], read_top: EventTop,
                 read_choice: ReadChoice, finish: FinishMap, read_usage: Callable[[Any, Context], dict[str, int]],
                 extras: EventExtras | None = None, declared: Mapping[str, frozenset[str]] | None = None) -> None:
        self.provider = provider
        self.extras = extras
        """The spec's extras (extras.py), read from each event that may hold one; None: none declared."""
        self.decode = decode
        """An event's JSON → its view (views.py), or plain decoded data when the spec's paths allow no view."""
        self.read_top = read_top
        """`lower_response.lower_event_top`: an event's error, choices, id, model, usage inputs, block reason."""
        self.read_choice = read_choice
        self.finish = finish
        self.read_usage = read_usage
        self.ctx = Context(provider)
        self.calls: dict[int, int] = {}
        self.usage: dict[str, int] = {}
        self.usage_read: Any = NOTHING  # what the last usage read saw (`UsageMap.inputs`)
        self.silent = SilentRules(declared or {}, "response.kinds")
        """The part kinds whose template rendered nothing, and the pieces the stream gave (silent.py)."""
        self.texted = False

    @property
    def warnings(self) -> list[RequestWarning]:
        """A part kind whose template gave nothing for every part of that kind while the stream holds none of
        its pieces."""
        if not self.silent.counts:
            return []
        if self.texted:
            self.silent.spoken.add("text")
        return self.silent.warnings("part")

    def feed_all(self, frames: Iterable[FrameLike], out: MutableSequence[ChatCompletionChunk]) -> None:
        for frame in frames:
            data = frame.payload
            if data and not data.isspace():  # (what `data.strip()` tells, without copying the event)
                self._event(data, out)

    def _event(self, data: str | bytes, out: MutableSequence[ChatCompletionChunk]) -> None:
        try:
            body = self.decode(data)
        except msgspec.DecodeError:
            json_of(data, self.provider)  # raises the stream's error with a preview
            raise
        error, raw_choices, ident, model, inputs, reason = self.read_top(body)
        if error is not None:
            raise stream_error(error, self.provider)
        if reason is not None:  # (read only when the event has no choices)
            raise InvalidRequestError(f"the prompt was blocked ({reason})", provider=self.provider,
                                      error_type=str(reason), body=msgspec.json.decode(data))
        if raw_choices and type(raw_choices) is not list:
            raise StreamError(f"an event's choices are a {type(raw_choices).__name__}, not a list: "
                              f"{str(raw_choices)[:80]!r}", provider=self.provider)
        out_choices = [self._choice(position, raw) for position, raw in enumerate(raw_choices or ())]
        if inputs is None or inputs != self.usage_read:  # the same usage block again reads the same values
            self.usage.update(self.read_usage(body, self.ctx))
            self.usage_read = inputs
        extras = self.extras.of(data) if self.extras is not None else None
        if out_choices or extras:
            out.append(ChatCompletionChunk(id=str(ident) if ident is not None else None,
                                           model=str(model) if model is not None else None, choices=out_choices,
                                           extras=extras))
        if self.done and self.usage:
            out.append(ChatCompletionChunk(choices=[], usage=build_usage(self.usage)))
            self.usage = {}
            self.usage_read = NOTHING

    def _choice(self, position: int, raw: Any) -> ChunkChoice:
        """One candidate of an event as a delta; the delta is built once, from what its pieces gave."""
        index, pieces, raw_reason = self.read_choice(raw, self.ctx)
        if type(index) is not int:
            index = position
        if len(pieces) == 1 and len(piece := pieces[0]) == 1 and type(text := piece.get("text")) is str:
            delta = ChoiceDelta(content=text)  # one plain text piece (most events): what `_gather` gives
            self.texted = True
        else:
            content, calls, details, reasoning = self._gather(index, pieces)
            delta = ChoiceDelta(content=content, tool_calls=calls or None, reasoning=reasoning,
                                reasoning_details=details or None)
        reason = (None if raw_reason is None  # absent on all but the last event: `translate(None)` is None
                  else self.finish.translate(raw_reason, bool(self.calls.get(index))))
        if reason is not None:
            self.done = True
        return ChunkChoice(delta=delta, index=index, finish_reason=reason)

    def _gather(self, index: Any, pieces: list[dict[str, Any]]
                ) -> tuple[str | None, list[ToolCallDelta], list[ReasoningDetail], str | None]:
        """A candidate's pieces → (content, tool-call deltas, reasoning details, reasoning text)."""
        texts: list[str] = []
        calls: list[ToolCallDelta] = []
        details: list[ReasoningDetail] = []
        reasoning: str | None = None
        for piece in pieces:
            if SILENT_KIND in piece:  # a part kind's template rendered nothing (silent.py)
                self.silent.record(str(piece[SILENT_KIND]), str(piece[SILENT_KIND]))
                continue
            self.silent.spoke(piece)
            if isinstance(text := piece.get("text"), str):
                texts.append(text)
                if "reasoning" in piece:  # a content part that also carries a reasoning signature
                    details.append(msgspec.convert(piece["reasoning"], ReasoningDetail))
            elif "tool_call" in piece:
                call = piece["tool_call"]
                n = self.calls.get(index, 0)
                self.calls[index] = n + 1
                calls.append(ToolCallDelta(index=n, id=call.get("id") or f"call_{index}_{n}", type="function",
                                           signature=call.get("signature"),
                                           function=FunctionCallDelta(name=call.get("name"),
                                                                      arguments=call.get("arguments") or "{}")))
            elif "reasoning" in piece:
                detail = msgspec.convert(piece["reasoning"], ReasoningDetail)
                reasoning = (reasoning or "") + (detail.text or "")
                details.append(detail)
        return "".join(texts) if texts else None, calls, details, reasoning
