"""A natively served Responses stream: each server-sent event's JSON decoded into its typed event.

Why a decoder of its own: a native endpoint's events are already OpenAI's Responses events, so nothing is mapped;
each is decoded straight into its Struct (`ResponseStreamEvent`), an event of a type this library does not know
yet becomes an `OtherStreamEvent` holding its JSON (never dropped; an output item of such a type, an
`OtherOutputItem`), and the stream is complete once a terminal event came (`response.completed`,
`response.incomplete`, `response.failed`, or an `error` event); an end of input before one is a truncated stream
(`StreamError`).
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, MutableSequence
from typing import Any

import msgspec

from .errors import StreamError
from .frames import AnyFrame
from .gateway import RequestWarning
from .redaction import preview
from .responses_items import keep_unknown_items
from .responses_types import (
    ErrorEvent,
    OtherStreamEvent,
    Response,
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseError,
    ResponseFailedEvent,
    ResponseIncompleteEvent,
    ResponseInProgressEvent,
    ResponseQueuedEvent,
    ResponseStreamEvent,
)
from .stream_base import json_of, stream_error

KNOWN_TYPES = frozenset(str(cls.__struct_config__.tag) for cls in typing.get_args(ResponseStreamEvent)
                        if cls is not OtherStreamEvent)
"""The event types decoded into their own Struct."""

TERMINAL = (ResponseCompletedEvent, ResponseIncompleteEvent, ResponseFailedEvent)
"""Events that end a stream with its final `Response`."""

ENDS = frozenset((*TERMINAL, ErrorEvent))
"""Events after which a stream is complete (an `error` event ends it too)."""

CARRIES_RESPONSE = frozenset(
    {*TERMINAL, ResponseCreatedEvent, ResponseInProgressEvent, ResponseQueuedEvent, ErrorEvent})
"""Event types that change the stream's `Response` (see `latest_response`)."""

_DECODER = msgspec.json.Decoder(ResponseStreamEvent)

NativeEvent = ResponseStreamEvent
"""What a native stream yields: every event type, `OtherStreamEvent` (in the union) for one not modelled here."""


class ResponsesEventDecoder:
    """Feed SSE frames, get typed events; `close()` raises when the stream ended before a terminal event."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.done = False

    @property
    def warnings(self) -> list[RequestWarning]:
        """Nothing is mapped, so nothing can give nothing (the chat decoders' end-of-stream warnings)."""
        return []

    def feed(self, frame: AnyFrame) -> list[NativeEvent]:
        out: list[NativeEvent] = []
        self.feed_all((frame,), out)
        return out

    def feed_all(self, frames: Iterable[AnyFrame], out: MutableSequence[Any]) -> None:
        """Each frame's event appended to `out`; a frame that is not an event raises `StreamError`."""
        for frame in frames:
            data = frame if isinstance(frame, str) else frame.payload  # (frames.py: a str is its payload)
            if not data or data == "[DONE]":
                continue
            try:
                event: NativeEvent = _DECODER.decode(data)
            except (msgspec.ValidationError, msgspec.DecodeError):
                event = self._other(data)
            if type(event) in ENDS:  # (a set lookup: cheaper than isinstance on every delta)
                self.done = True
            out.append(event)

    def _other(self, data: str | bytes) -> NativeEvent:
        """An event the typed decoder refused: an unknown type kept whole, a known one holding an output item of a
        type not modelled here with that item kept whole (`OtherOutputItem`), anything else a `StreamError`."""
        value = json_of(data, self.provider)
        if isinstance(value, dict) and "type" not in value and "error" in value:
            raise stream_error(value["error"], self.provider)
        kind = value.get("type") if isinstance(value, dict) else None
        sequence = value.get("sequence_number") if isinstance(value, dict) else None
        if not isinstance(kind, str) or not isinstance(sequence, int):
            raise StreamError(f"a stream event is not a Responses event: {preview(data, 200)!r}",
                              provider=self.provider)
        assert isinstance(value, dict)
        if kind not in KNOWN_TYPES:
            return OtherStreamEvent(sequence_number=sequence, data=value)
        keep_unknown_items(value)
        try:  # decoded again: with its unknown items kept, or for the message naming the field
            event: NativeEvent = msgspec.convert(value, ResponseStreamEvent)
        except msgspec.ValidationError as exc:
            raise StreamError(f"a {kind} event is malformed: {exc}", provider=self.provider,
                              body=preview(data, 200)) from None
        return event

    def close(self) -> list[NativeEvent]:
        if not self.done:
            raise StreamError("the stream ended before its terminal event (truncated)", provider=self.provider)
        return []


def latest_response(event: NativeEvent, current: Response | None) -> Response | None:
    """The stream's `Response` after `event`: the one it carries (`created`, `in_progress`, the terminal event),
    or after an `error` event the last one seen, failed with that error."""
    response = getattr(event, "response", None)
    if isinstance(response, Response):
        return response
    if isinstance(event, ErrorEvent) and current is not None:
        return msgspec.structs.replace(current, status="failed",
                                       error=ResponseError(code=event.code or "error", message=event.message))
    return current
