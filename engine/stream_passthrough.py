"""`stream.mode: passthrough`: every event's data is an OpenAI-shaped chunk, decoded straight into the Struct.

A `done_data` sentinel (`[DONE]`) ends the stream; an event holding a top-level `error` object raises a
`StreamError`; `terminal` says what proves the stream complete.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableSequence
from typing import Protocol

import msgspec

from .errors import StreamError
from .extras import EventExtras, attach
from .frames import AnyFrame
from .gateway import ChatCompletionChunk
from .gateway_response import fold_reasoning_content
from .redaction import preview
from .stream_base import STRAY, StreamDecoder, json_of, malformed, stream_error


class ChunkDecoder(Protocol):
    """A msgspec decoder of chunks, or one that rewrites events first (content_parts.py)."""

    def decode(self, data: str | bytes) -> ChatCompletionChunk: ...


class PassthroughDecoder(StreamDecoder):
    def __init__(self, provider: str, decoder: ChunkDecoder, done_data: str,
                 terminal: str, extras: EventExtras | None = None) -> None:
        self.provider = provider
        self.extras = extras
        """The spec's `stream.extras` (extras.py), read from each event that may hold one; None: none declared."""
        self.decoder = decoder
        self.done_data = done_data
        self.terminal = terminal
        self.finished = False

    def feed_all(self, frames: Iterable[AnyFrame], out: MutableSequence[ChatCompletionChunk]) -> None:
        decode = self.decoder.decode
        done_data = self.done_data
        watch = self.terminal != "done_data"
        extras = self.extras
        first = extras.first if extras is not None else None
        frame: AnyFrame | None = None
        try:  # (once around the loop: an event whose fields have the wrong types is a StreamError naming it)
            for frame in frames:
                data = frame if isinstance(frame, str) else frame.payload  # (frames.py: a str is its payload)
                if data == done_data:
                    self.done = True
                    continue
                if not data:
                    continue
                if '"error"' in data and isinstance(error := json_of(data, self.provider), dict) and "error" in error:
                    raise stream_error(error["error"], self.provider)
                try:
                    chunk = decode(data)
                except msgspec.DecodeError as exc:
                    json_of(data, self.provider)
                    raise StreamError(f"a stream event is not a chunk ({exc}): {preview(data, 200)!r}",
                                      provider=self.provider) from None
                # the spec's `stream.extras` (extras.py), read from an event that may hold one
                if extras is not None and (first is None or first in data) and (found := extras.of(data)):
                    attach(chunk, found)
                for choice in chunk.choices:  # (the delta's read-only alias, folded here: the constructor does not)
                    if choice.delta.reasoning_content is not None:
                        fold_reasoning_content(chunk)
                    if watch and choice.finish_reason is not None:
                        self.finished = True
                out.append(chunk)
        except STRAY as exc:
            raise malformed(exc, frame, self.provider) from exc

    def close(self) -> list[ChatCompletionChunk]:
        if self.terminal == "eof" or (self.terminal == "finish_reason" and self.finished):
            self.done = True
        return super().close()
