"""What every stream decoder shares: the decoder interface, JSON of an event, an error object as a StreamError.

The decoders (one module per `stream.mode`: stream_passthrough, stream_events, stream_whole) read frames the
runtime has normalised (frames.py): a name, a kind and a payload, whatever the framing.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableSequence
from typing import Any

import msgspec

from .errors import StreamError
from .frames import MESSAGE, AnyFrame
from .gateway import ChatCompletionChunk, RequestWarning
from .redaction import preview

NOTHING = object()
"""A value no event holds (what a decoder has "seen" before the first event)."""


class StreamDecoder:
    """Feed frames, get chunks; `close()` at end of input raises if the terminal event never came."""

    provider = ""
    done = False

    @property
    def warnings(self) -> list[RequestWarning]:
        """What the stream's mapping warns about once it ended (silent.py: a rule that gave nothing)."""
        return []

    def feed(self, frame: AnyFrame) -> list[ChatCompletionChunk]:
        """The chunks of one frame: `feed_all` of that frame alone."""
        out: list[ChatCompletionChunk] = []
        self.feed_all((frame,), out)
        return out

    def feed_all(self, frames: Iterable[AnyFrame], out: MutableSequence[ChatCompletionChunk]) -> None:
        """Read each frame in order, appending its chunks to `out` (a stream's queue of pending chunks).

        Why: a read completes dozens of frames; one call per read, chunks appended where they are wanted,
        costs less than a call, a list and an `extend` per frame. When a frame raises, `out` holds the chunks
        of the frames before it and none of its own."""
        raise NotImplementedError

    def close(self) -> list[ChatCompletionChunk]:
        if not self.done:
            raise StreamError("the stream ended before its terminal event (truncated)", provider=self.provider)
        return []


def json_of(data: Any, provider: str) -> Any:
    """An event's JSON; a `StreamError` with a preview when it is not JSON."""
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError:
        raise StreamError(f"a stream event is not valid JSON: {preview(data, 200)!r}", provider=provider) from None


STRAY = (ValueError, TypeError, KeyError, IndexError, AttributeError)
"""What reading an event or body whose fields have the wrong types can raise below a decoder (msgspec's
ValidationError is a ValueError): each stream decoder's `feed_all` catches these once around its whole loop
(no per-event or per-field try) and raises `malformed` instead, chained to it (`from`); a whole response's decoder
once per body. A bug of ours that raises one of these inside the loop is a `StreamError` too, so `malformed` names the
exception's type and the chain keeps its traceback (the generated lines included: they are in `linecache`)."""


def malformed(exc: BaseException, frame: AnyFrame | None, provider: str) -> StreamError:
    """A `StreamError` for an event the stream mapping could not read (a field of the wrong type): the event's
    name, what was wrong (with the exception's type, which tells a payload that does not fit, a `ValidationError`
    or a reader's `TypeError`, from a bug of ours), and a redacted preview of the event (in the message and as
    `body`). Raised `from exc`."""
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    # (getattr, not frames.name_of / payload_of: a bug of ours may hand over something that is not a frame at all)
    name = MESSAGE if isinstance(frame, str) else getattr(frame, "name", "") or MESSAGE
    payload = frame if isinstance(frame, str) else getattr(frame, "payload", "") or ""
    shown = preview(payload, 200)
    return StreamError(f"a {name!r} stream event does not fit the stream mapping ({preview(what, 200)}): {shown!r}",
                       provider=provider, body=shown)


def stream_error(error: Any, provider: str) -> StreamError:
    """An error object a provider sent in its stream, as a `StreamError` (its message, type and body)."""
    if isinstance(error, dict):
        message = str(error.get("message") or error)
        kind = error.get("type") or error.get("status") or error.get("code")
        return StreamError(message, provider=provider, error_type=str(kind) if kind is not None else None, body=error)
    return StreamError(str(error), provider=provider)
