"""A streamed aiohttp response as the runtime reads it: bytes in bounded, decoded pieces, our errors only."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

import aiohttp

from vllora_llm.engine.errors import ProviderError, StreamError
from vllora_llm.engine.errors import TimeoutError as LLMTimeoutError
from vllora_llm.engine.wire import WireRequest

from .limits import BodyDecoder
from .read_watch import ReadWatch
from .transport_errors import origin as _origin
from .transport_errors import timeout_error as _timeout_error

if TYPE_CHECKING:
    from .transport import Timeouts

__all__ = ["AiohttpStreamResponse"]


class AiohttpStreamResponse:
    """A streamed aiohttp response: bytes via `content.iter_any()` (never the line iterator, which fails on
    long lines), decoded here in bounded pieces when compressed, released for reuse at the end of the body,
    closed at once on early exit. `max_total` bounds the whole (decoded) body; `max_error` an error body.
    `watch_read`: the body's `read` limit is timed by a `ReadWatch` (a session the library owns; aiohttp then has
    no `sock_read`), else by aiohttp's own timer."""

    __slots__ = ("_chunks", "_decoder", "_done", "_failure", "_left", "_max_error", "_response", "_timeouts",
                 "_wire", "headers", "read_watch", "status", "truncated")

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        wire: WireRequest,
        timeouts: Timeouts,
        decoder: BodyDecoder | None = None,
        max_total: int | None = None,
        max_error: int | None = None,
        watch_read: bool = False,
    ) -> None:
        self._response = response
        self._wire = wire
        self._timeouts = timeouts
        self._chunks = response.content.iter_any()
        self._decoder = decoder
        self._left = max_total
        self._max_error = max_error
        self._done = False
        self._failure: BaseException | None = None
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers
        self.truncated = False
        """`read()` stopped at `max_error` bytes and returned nothing."""
        read = timeouts.read
        self.read_watch = ReadWatch(response, read, wire, timeouts) if watch_read and read is not None else None
        """Times the body's `read` limit (None: aiohttp does); a `StreamWatch` may take its checks over."""

    async def read_chunk(self) -> bytes:
        decoder = self._decoder
        if decoder is not None and (held := decoder.more()):
            return self._counted(held)
        while True:
            if self._done:
                if self._failure is not None:
                    raise self._failure
                return b""
            try:
                data = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._done = True
                if self.read_watch is not None:
                    self.read_watch.stop()
                self._response.release()
                return b""
            except LLMTimeoutError as err:  # the `ReadWatch`'s: the body went silent for `read`
                self._failure = err
                self.close()
                raise
            except TimeoutError as exc:  # aiohttp's own read timer (a session of the caller's)
                self.close()
                raise _timeout_error(exc, self._wire, self._timeouts, reading=True) from None
            except aiohttp.ClientError as exc:
                self.close()
                what = f"connection lost mid-stream ({type(exc).__name__})"
                raise StreamError(f"{_origin(self._wire)}: {what}", retryable=True) from None
            except BaseException:
                self.close()
                raise
            if (watch := self.read_watch) is not None:
                watch.taken += len(data)
            if decoder is not None:
                try:
                    data = decoder.decode(data)
                except ProviderError as err:
                    self.close()
                    raise StreamError(f"{_origin(self._wire)}: {err.message}") from None
                if not data:
                    continue  # (a compressed piece that completed no output yet)
            return data if self._left is None else self._counted(data)

    def _counted(self, data: bytes) -> bytes:
        if self._left is not None:
            self._left -= len(data)
            if self._left < 0:
                self.close()
                raise StreamError(
                    f"{_origin(self._wire)}: streamed body over the response size limit "
                    "(Limits.max_response_bytes; create_stream(..., aggregate=False) keeps nothing and lifts it)"
                )
        return data

    async def read(self) -> bytes:
        """The rest of the body (an error body: at most `max_error` bytes, else `truncated` and b"")."""
        parts: list[bytes] = []
        size, limit = 0, self._max_error
        while chunk := await self.read_chunk():
            size += len(chunk)
            if limit is not None and size > limit:
                self.close()
                self.truncated = True
                return b""
            parts.append(chunk)
        return b"".join(parts)

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """The body as raw chunks; leaving the loop early closes the connection."""
        try:
            while chunk := await self.read_chunk():
                yield chunk
        finally:
            self.close()

    def abort(self, exc: BaseException) -> None:
        """Fail the read in progress (or the next one) with `exc` and drop the connection: how a stream
        watch (`stream_idle`, `stream_total`) stops a stream whose reader is parked in `read_chunk`."""
        if not self._done:
            self._failure = exc
            self._response.content.set_exception(exc)
            self.close()

    def close(self) -> None:
        if not self._done:
            self._done = True
            if self.read_watch is not None:
                self.read_watch.stop()
            self._response.close()

    def __del__(self) -> None:
        if not self._done:
            with contextlib.suppress(Exception):  # best effort at garbage collection (the loop may be gone)
                self.close()
