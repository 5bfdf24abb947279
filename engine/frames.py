"""Frames as the engine reads them: an event's name, its kind and its payload, whatever the framing.

The runtime's framers cut a byte stream into frames (SSE events, AWS event-stream messages) and hand the
stream decoders frames of this one shape, so the engine never looks at how a frame was framed:

- `name`: the SSE `event:` field, or the event-stream header the spec names (`stream.event_type.name`, by
  default `:event-type`); for an event-stream `exception` message its `:exception-type`, for an `error`
  message its `:error-code`;
- `kind`: `data` (an event), `exception` (an error the provider sends as a message, whose payload is JSON) or
  `error` (a stream-level error, its text in `message`);
- `payload`: the data (str for SSE, bytes for event-stream messages).

`SSEEvent` (runtime/sse.py) has these attributes itself; event-stream messages are turned into `Frame`s by
the runtime (runtime/eventstream.py, `frames_of`).

A frame may also be a `str`: a data event named `message` (an SSE event without an `event:` field), the str
its payload. The SSE framer hands such events over as their data (most events of most SSE streams: no object
made per event and read back); a decoder tells the two apart with `type(frame) is str` (`payload_of`), except
one compiled for an AWS event-stream, whose framer makes none.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

__all__ = ["DATA", "ERROR", "EXCEPTION", "MESSAGE", "AnyFrame", "Frame", "FrameLike", "name_of", "payload_of"]

DATA, ERROR, EXCEPTION = "data", "error", "exception"
MESSAGE = "message"
"""The name of a frame given as its payload (a `str`), an SSE event's default name."""


class FrameLike(Protocol):
    """What a stream decoder reads of a frame."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def payload(self) -> str | bytes: ...

    @property
    def message(self) -> str | None: ...


AnyFrame = FrameLike | str
"""What a stream decoder is fed: a frame, or the payload of a data event named `message` (see the module docstring)."""


class Frame(msgspec.Struct, frozen=True, gc=False):
    """One normalised frame (see the module's docstring)."""

    name: str
    payload: str | bytes
    kind: str = DATA
    message: str | None = None
    """An `error` frame's text (the event-stream `:error-message` header)."""


def payload_of(frame: AnyFrame) -> str | bytes:
    """A frame's payload (a `str` frame is its own)."""
    return frame if isinstance(frame, str) else frame.payload


def name_of(frame: AnyFrame) -> str:
    """A frame's name (a `str` frame is a `message`)."""
    return MESSAGE if isinstance(frame, str) else frame.name
