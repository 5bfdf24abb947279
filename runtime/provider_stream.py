"""One streamed provider call, bytes to chunks: the transport's body is cut into frames by the plan's framer
(`FRAMERS`) and the frames decoded into chunks by the plan's stream decoder. Retries re-open the stream only
until its first chunk is handed out, never after; `stream_idle` / `stream_total` are watched here
(`stream_watch.py`). `ProviderModelInstance` (instance.py) opens these."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from vllora_llm.engine.errors import LLMError, StreamError
from vllora_llm.engine.gateway import ChatCompletionChunk, RequestWarning
from vllora_llm.engine.redaction import activate, deactivate
from vllora_llm.engine.wire import WireRequest

from .eventstream import EventStreamFramer
from .limits import Limits
from .model_instance import ChunkStream, Framer, ProviderPlan, StreamDecoder
from .sse import SSEParser
from .stream_watch import StreamWatch
from .transport import StreamResponse, Timeouts

if TYPE_CHECKING:
    from .instance import ProviderModelInstance

__all__ = ["FRAMERS", "ProviderChunkStream"]


FRAMERS: dict[str, Callable[[ProviderPlan, Limits], Framer]] = {
    "sse": lambda plan, limits: SSEParser(stray_lines_as_data=getattr(plan, "stray_lines", "ignore") == "as_data",
                                          max_event_bytes=limits.max_event_bytes, plain_data=True),
    "aws_event_stream": lambda plan, limits: EventStreamFramer(getattr(plan, "event_header", None),
                                                               max_frame_bytes=limits.max_event_bytes),
}
"""A plan's `framing` → the push parser that cuts its stream into frames (configured by the plan and limits), as
the engine reads them (engine/frames.py: an SSE event named `message` comes as its data, a str)."""


DECODE_BATCH = 32
"""Frames decoded at a time (a read can complete thousands). Each event's chunk is a few objects the garbage
collector tracks; decoded a read at a time, they all live until handed out, so the collector's young
generation (700 objects) fills and is scanned every ~100 events and its survivors promoted and scanned
again (~0.3 us per event on a 5,000-event stream). Batches of 32 are handed out and freed before the next
is made: the count never reaches the threshold."""


class ProviderChunkStream(ChunkStream):
    """Bytes → frames → chunks for one streamed call, retried (re-opened) only until a chunk is handed out."""

    def __init__(
        self, owner: ProviderModelInstance, wire: WireRequest, warnings: list[RequestWarning],
        decoder: Callable[[], Any] | None = None, framing: str | None = None,
    ) -> None:
        """`decoder` / `framing`: another operation's stream decoder factory and framing (default: chat's)."""
        self.warnings = warnings
        self.provider = owner.plan.name
        self._owner = owner
        self._new_decoder: Callable[[], Any] = decoder or (lambda: owner.plan.stream_decoder(raw=owner.raw_extras))
        self._framing = framing or owner.plan.framing
        self._wire = wire
        self._attempts = owner._attempts()
        self._response: StreamResponse | None = None
        self._pending: deque[ChatCompletionChunk] = deque()
        self.pending = self._pending
        """The decoded chunks not handed out yet; a wrapper (`ResultStream`) may pop them itself instead of
        calling `ready()` per chunk. Outside `__anext__` this queue is non-empty only after `__anext__`
        handed out the first chunk of the read that filled it, so the retry rule (`_delivered`) holds."""
        self._framer: Framer
        self._frames: Sequence[Any] = ()
        """The frames of the last read; those from `_next` on are not decoded yet."""
        self._next = 0
        self._at_end = False
        """The last read was the end of the body: once its frames are decoded, the decoder is closed."""
        self._decoder: StreamDecoder
        self._feed_all: Callable[[Sequence[Any], deque[ChatCompletionChunk]], None]
        self._delivered = False
        self._finished = False
        self._deferred: LLMError | None = None
        self._watch: StreamWatch | None = None
        self._started: float | None = None

    async def _open_once(self) -> StreamResponse:
        response = await self._owner.transport.open_stream(self._wire)
        status = response.status
        if 200 <= status < 300:
            return response
        try:
            body = b"" if 300 <= status < 400 else await response.read()
        finally:
            response.close()
        raise self._owner.http_error(status, response.headers, body, getattr(response, "truncated", False), self._wire)

    async def open(self) -> None:
        """Connect (with retries) and restart framing and decoding from scratch."""
        if self._started is None:
            self._started = asyncio.get_running_loop().time()
        try:
            self._response = await self._attempts.run(self._open_once)
        except LLMError as err:
            raise self._attempts.final(err) from None
        owner = self._owner
        self._framer = FRAMERS[self._framing](owner.plan, owner.limits)
        self._frames, self._next, self._at_end = (), 0, False
        self._decoder = decoder = self._new_decoder()
        self._feed_all = getattr(decoder, "feed_all", None) or (
            lambda frames, out: self._feed_each(decoder, frames, out))
        self._pending.clear()
        self._watch_stream()

    def _watch_stream(self) -> None:
        """Start the `stream_idle` / `stream_total` watch on the response just opened (a transport without
        `current_timeouts` times its streams itself)."""
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        current = getattr(self._owner.transport, "current_timeouts", None)
        timeouts: Timeouts | None = current() if current is not None else None
        if timeouts is None or (timeouts.idle is None and timeouts.stream_total is None):
            return
        abort = getattr(self._response, "abort", None)
        this = weakref.ref(self)  # the timer must not keep an abandoned stream alive

        def fail(exc: BaseException) -> None:
            if abort is not None:
                abort(exc)  # wakes the read in progress with `exc`
            elif (stream := this()) is not None:
                stream._deferred = exc if isinstance(exc, LLMError) else None
                stream._drop_response()

        total = timeouts.stream_total
        if total is not None and self._started is not None:  # a re-open (retry) keeps the first start
            total = max(total - (asyncio.get_running_loop().time() - self._started), 0.0)
        # The body's `read` watch (a session the library owns) is checked by the same timer, before the others.
        self._watch = StreamWatch(timeouts.idle, total, fail, self._owner.plan.name,
                                  getattr(self._response, "read_watch", None))

    async def __anext__(self) -> ChatCompletionChunk:
        while not self._pending:
            if self._finished:
                self._stop_watch()
                raise StopAsyncIteration
            if self._response is None:
                try:
                    await self.open()
                except BaseException:
                    self._finished = True
                    raise
            watch = self._watch
            if watch is not None:
                watch.waiting = True  # the caller waits for the server from here
            try:
                await self._pump()
            except LLMError as err:
                self._drop_response()
                if self._delivered:
                    self._finished = True
                    self._stop_watch()
                    raise self._attempts.final(err) from None
                try:
                    await self._attempts.failed(err)  # raises unless this failure may be retried
                except BaseException:
                    self._finished = True
                    self._stop_watch()
                    raise
            except BaseException:
                self.close()
                raise
        watch = self._watch
        if watch is not None:
            watch.waiting = False
            watch.progress += 1
        self._delivered = True
        return self._pending.popleft()

    def _stop_watch(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.stop()

    def ready(self) -> ChatCompletionChunk | None:
        pending = self._pending
        if not pending:
            return None
        self._delivered = True
        return pending.popleft()

    async def _pump(self) -> None:
        """Decode the next frames held from the last read (`DECODE_BATCH` of them), or read one piece of the
        body and decode the first frames it completes.

        An error decoded after good chunks is held back until those chunks are handed out, so the caller sees
        everything the provider sent before it failed; the frames after it are dropped."""
        if self._deferred is not None:
            err, self._deferred = self._deferred, None
            raise err
        frames, start = self._frames, self._next
        if start >= len(frames):  # nothing held: read
            assert self._response is not None
            data = await self._response.read_chunk()
            self._frames = frames = self._framer.feed(data) if data else self._framer.close()
            self._at_end = not data
            start = 0
        stop = self._next = start + DECODE_BATCH
        pending = self._pending
        redactor = self._owner._redactor
        token = activate(redactor) if redactor else None  # error previews redacted before they are cut
        try:
            try:
                if frames:  # each frame's chunks, appended to `pending`
                    self._feed_all(frames if not start and stop >= len(frames) else frames[start:stop], pending)
                if self._at_end and stop >= len(frames):
                    pending.extend(self._decoder.close())
                    found = self._decoder.warnings  # a mapping that gave nothing (engine/silent.py)
                    if found:
                        self.warnings.extend(found)  # (in place: a router's stream shares the list)
                    self._finished = True
                    self._response = None
                    self._stop_watch()
            except RecursionError:  # the JSON decoder's own depth limit (free per event; ours is for bodies)
                raise StreamError("a stream event is nested too deeply to decode") from None
        except LLMError as err:
            self._frames, self._next = (), 0
            if not pending:
                raise
            self._deferred = err
        finally:
            if token is not None:
                deactivate(token)

    def _drop_response(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            response.close()

    def close(self) -> None:
        self._stop_watch()
        self._drop_response()
        self._pending.clear()
        self._finished = True

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # best effort at garbage collection (the loop may be gone)
            self.close()

    @staticmethod
    def _feed_each(decoder: StreamDecoder, frames: Sequence[Any], out: deque[ChatCompletionChunk]) -> None:
        """`feed_all` for a decoder without one: `feed` per frame, its chunks appended in order."""
        for frame in frames:
            out.extend(decoder.feed(frame))
