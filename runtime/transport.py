"""How a `WireRequest` becomes bytes on a socket: the one narrow seam between "what to send" and "how".

Everything above this module (auth, retries, framing, decoding) works on `WireRequest` in and status, headers
and body bytes out, so a test or an alternative HTTP stack plugs in by implementing `Transport`
(the idea of httpx's ``_transports/base.py``). `AiohttpTransport` is the real one: one `aiohttp.ClientSession`
per client, created lazily inside the running loop and reused (keep-alive); gzip and deflate are decoded here.

Redirects are never followed (aiohttp would resend every header but `Authorization` to the new host): a 3xx
comes back as an answer, and the model instance turns it into a `ProviderError`. Bodies are bounded by
`Limits` (see `limits.py`).

Failures leave here as our error classes only: timeouts → `TimeoutError`, connection failures before a
response → `ConnectionError`, a connection lost while a streamed body is being read → `StreamError`.
Messages name the method and origin, never the query string (a key may live there).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal, Protocol

import aiohttp
import msgspec
from yarl import URL

from vllora_llm.engine.errors import ConnectionError as LLMConnectionError
from vllora_llm.engine.errors import ProviderError
from vllora_llm.engine.errors import TimeoutError as LLMTimeoutError
from vllora_llm.engine.wire import WireRequest

from .aiohttp_stream import AiohttpStreamResponse
from .call_watch import CallWatches, WatchedConnector
from .limits import ACCEPT_ENCODING, BodyDecoder, Limits, body_decoder
from .transport_errors import origin as _origin
from .transport_errors import timeout_error as _timeout_error
from .transport_errors import timeout_text as _timeout_text

__all__ = [
    "AiohttpStreamResponse",
    "AiohttpTransport",
    "Response",
    "StreamResponse",
    "Timeouts",
    "Transport",
    "call_timeouts",
    "unkept_stream",
]


_CONNECT, _READ, _TOTAL = 10.0, 120.0, 600.0


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds; `None` disables one.

    `connect`: to open a new connection (the socket connect; a wait for a free pooled connection counts
    towards `total`). `read`: the longest silence from the server once the request has its connection: the
    wait for the response headers, then between pieces of the body (the idle timeout that catches a stalled
    stream). `total`: a whole non-streamed call, or a streamed call up to its response headers (a long stream
    is bounded by `read`, not by its length).
    `stream_idle`: the longest a stream may go without producing a chunk while the caller waits for one
    (keep-alive comments, pings and bytes that complete no event do not count); `"read"`, the default, is the
    same as `read`. `stream_total`: a whole streamed call, from the request to the last chunk (off by default).
    """

    connect: float | None = _CONNECT
    read: float | None = _READ
    total: float | None = _TOTAL
    stream_idle: float | Literal["read"] | None = "read"
    stream_total: float | None = None

    @property
    def idle(self) -> float | None:
        """`stream_idle` in seconds (None: no limit)."""
        return self.read if self.stream_idle == "read" else self.stream_idle

    @classmethod
    def coerce(cls, value: Timeouts | float | None) -> Timeouts:
        """Accept a `Timeouts`, a number (the total; the other limits never exceed it) or None (defaults)."""
        if value is None:
            return cls()
        if isinstance(value, Timeouts):
            return value
        total = float(value)
        return cls(connect=min(_CONNECT, total), read=min(_READ, total), total=total)


_CALL_TIMEOUTS: ContextVar[Timeouts | None] = ContextVar("vllora_llm_call_timeouts", default=None)


@contextlib.contextmanager
def call_timeouts(value: Timeouts | float | None) -> Iterator[None]:
    """Requests sent inside the block (retries included) use `value` instead of the client's timeouts:
    how a per-call ``timeout=`` reaches the transport without widening every signature in between."""
    if value is None:
        yield
        return
    token = _CALL_TIMEOUTS.set(Timeouts.coerce(value))
    try:
        yield
    finally:
        _CALL_TIMEOUTS.reset(token)


_UNKEPT: ContextVar[bool] = ContextVar("vllora_llm_unkept_stream", default=False)


@contextlib.contextmanager
def unkept_stream() -> Iterator[None]:
    """A stream opened inside the block keeps nothing (it is not aggregated), so its body has no total size
    limit (`Limits.max_response_bytes`); its lines, events and frames are still bounded."""
    token = _UNKEPT.set(True)
    try:
        yield
    finally:
        _UNKEPT.reset(token)


class Response(msgspec.Struct):
    """A whole answer: status, headers (case-insensitive when they come from aiohttp) and body bytes.
    `truncated`: an error body was over `Limits.max_error_bytes` and was not read (`body` is empty). A Struct:
    one is made per call, and its C constructor costs less than a dataclass's `__init__` (a Python frame)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    truncated: bool = False


class StreamResponse(Protocol):
    """An answer whose headers arrived and whose body is read piece by piece."""

    status: int
    headers: Mapping[str, str]

    async def read_chunk(self) -> bytes:
        """The next bytes as they arrive; `b""` at the end of the body (the connection is then reusable)."""
        ...

    async def read(self) -> bytes:
        """The rest of the body at once (used for error bodies)."""
        ...

    def close(self) -> None:
        """Drop the connection now (idempotent, synchronous so it is safe from `__del__` and cancellation)."""
        ...


class Transport(Protocol):
    """The seam: send a rendered request, get status, headers and bytes back."""

    async def send(self, wire: WireRequest) -> Response:
        """Send and read the whole body."""
        ...

    async def open_stream(self, wire: WireRequest) -> StreamResponse:
        """Send and return once the response headers arrived; the caller reads the body and closes."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections."""
        ...


async def _close_at_loop_shutdown(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    """Parked at its `yield` for the session's lifetime. A loop's `shutdown_asyncgens()` (which
    `asyncio.run` calls on exit) closes every parked async generator, so a client that was never closed
    still releases its sockets while the loop can run the cleanup."""
    try:
        yield
    finally:
        if not session.closed:
            await session.close()


_CLIENT_TIMEOUTS: dict[tuple[Timeouts, str], aiohttp.ClientTimeout] = {}


def _aiohttp_timeout(t: Timeouts, kind: str) -> aiohttp.ClientTimeout:
    """aiohttp's form of `t` for a call of `kind` (immutable: built once per (timeouts, kind), not per call).

    `whole`: a non-streamed call timed by aiohttp; `stream`: a streamed one on a caller's session (its `total` is
    ours, up to the headers); `watched`: a call timed by a `CallWatch` (and a stream's body by its `ReadWatch`):
    aiohttp keeps only the socket connect.
    `connect` is the socket connect (`sock_connect`), not aiohttp's `connect`, which also times the wait for a
    pooled connection and so schedules a timer on every call (that wait is bounded by `total`)."""
    found = _CLIENT_TIMEOUTS.get((t, kind))
    if found is None:
        if kind == "watched":
            found = aiohttp.ClientTimeout(total=None, sock_connect=t.connect)
        else:
            found = aiohttp.ClientTimeout(total=None if kind == "stream" else t.total, sock_connect=t.connect,
                                          sock_read=t.read)
        if len(_CLIENT_TIMEOUTS) < 256:
            _CLIENT_TIMEOUTS[t, kind] = found
    return found


class AiohttpTransport:
    """One `aiohttp.ClientSession` per client: created on first use inside the running loop, then reused."""

    def __init__(
        self,
        timeouts: Timeouts | float | None = None,
        *,
        limit: int = 100,
        session: aiohttp.ClientSession | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.timeouts = Timeouts.coerce(timeouts)
        self.limits = limits or Limits()
        t = self.timeouts
        self._own_timeouts = (t, {kind: _aiohttp_timeout(t, kind) for kind in ("whole", "stream", "watched")})
        """The client's timeouts with their aiohttp forms by kind; a `timeouts` set later is looked up."""
        self._limit = limit
        self._session = session
        self._owns_session = session is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closer: AsyncGenerator[None, None] | None = None
        self._urls: dict[str, URL] = {}
        """The URLs sent to, parsed once (`_url`): a client calls the same few endpoints again and again."""
        self._watches = CallWatches()
        """The non-streamed calls in flight and their one timer (`call_watch.py`)."""

    def __repr__(self) -> str:
        return f"AiohttpTransport(timeouts={self.timeouts!r}, limits={self.limits!r})"

    async def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is not None and not session.closed:
            if self._loop is loop or not self._owns_session:
                return session
            if self._loop is not None and not self._loop.is_closed():
                raise RuntimeError(
                    "this client's connection pool belongs to another running event loop; "
                    "create one client per loop (or use SyncVlloraLLMClient from threads)"
                )
            self._abandon(session)  # its loop was closed without shutting down async generators
        self._loop = loop
        session = self._session = aiohttp.ClientSession(
            connector=WatchedConnector(limit=self._limit, watches=self._watches),
            timeout=self._client_timeout("whole"),
            auto_decompress=False,  # bodies are decoded by `limits.body_decoder`, in bounded pieces
        )
        self._closer = _close_at_loop_shutdown(session)
        await self._closer.__anext__()  # registered with the loop: asyncio.run() will close the pool
        return session

    @staticmethod
    def _abandon(session: aiohttp.ClientSession) -> None:
        connector = session.connector
        if connector is not None:
            connector._close()  # synchronous; with a closed loop it only clears the pool
        session.detach()

    def current_timeouts(self) -> Timeouts:
        """The timeouts for a request sent now: a per-call override (`call_timeouts`), else the client's."""
        return _CALL_TIMEOUTS.get() or self.timeouts

    def _client_timeout(self, kind: str, timeouts: Timeouts | None = None) -> aiohttp.ClientTimeout:
        t = timeouts or self.timeouts
        own = self._own_timeouts
        if own[0] is t:  # the client's own timeouts, the usual call: no hashing of the (dataclass) key
            return own[1][kind]
        return _aiohttp_timeout(t, kind)

    def _session_now(self) -> aiohttp.ClientSession | None:
        """The pool for a call made now, or None when it must be opened (or replaced) first (`_client`)."""
        session = self._session
        if session is None or session.closed or (self._owns_session and self._loop is not asyncio.get_running_loop()):
            return None
        return session

    def _url(self, text: str) -> URL:
        """`text` as the URL sent, byte for byte: the plan already percent-encoded it (re-quoting would turn `%3A`
        back into `:`, and a request signature covers the path exactly as it was signed). Kept for the next
        call to the same URL (a bounded table: a URL that changes per call is parsed each time)."""
        url = URL(text, encoded=True)
        if len(self._urls) < 256:
            self._urls[text] = url
        return url

    @staticmethod
    def _headers(wire: WireRequest) -> Mapping[str, str]:
        headers = wire.headers
        if wire.body and "content-type" not in headers and not any(k.lower() == "content-type" for k in headers):
            headers = {**headers, "content-type": "application/json"}
        if "accept-encoding" not in headers and "Accept-Encoding" not in headers:
            headers = {**headers, "accept-encoding": ACCEPT_ENCODING}  # what we decode (aiohttp may offer br, zstd)
        return headers

    @staticmethod
    def _decoder(session: aiohttp.ClientSession | None, response: aiohttp.ClientResponse) -> BodyDecoder | None:
        """Our decoder for the body's Content-Encoding; None when identity, or when the session is one of the
        caller's that decompresses itself (aiohttp then decodes, and we count what it hands over)."""
        encoding = response.headers.get("content-encoding")
        if encoding is None or getattr(session, "auto_decompress", False):
            return None
        return body_decoder(encoding)

    async def _request(self, wire: WireRequest, timeouts: Timeouts) -> aiohttp.ClientResponse:
        """A streamed call up to its response headers. On a session the library owns, `total` and `read` (the
        wait for the headers) are timed by the transport's `CallWatches`, as for `send`, and the body's `read` by
        the stream's `ReadWatch`: aiohttp keeps only the socket connect. A caller's session: aiohttp's timers."""
        loop = asyncio.get_running_loop()
        session = self._session_now() or await self._client()
        watch = self._watches.start(timeouts, loop) if self._owns_session else None
        timeout = self._client_timeout("watched" if self._owns_session else "stream", timeouts)
        url = self._urls.get(wire.url) or self._url(wire.url)
        try:
            if not self._owns_session and timeouts.total is not None:
                async with asyncio.timeout(timeouts.total):
                    return await session.request(wire.method, url, data=wire.body, headers=self._headers(wire),
                                                 timeout=timeout, allow_redirects=False)
            return await session.request(wire.method, url, data=wire.body, headers=self._headers(wire),
                                         timeout=timeout, allow_redirects=False)
        except TimeoutError as exc:
            raise _timeout_error(exc, wire, timeouts, reading=False) from None
        except aiohttp.ClientError as exc:
            raise LLMConnectionError(f"{_origin(wire)}: {type(exc).__name__}: {exc}") from None
        except asyncio.CancelledError:
            if watch is not None and watch.timed_out():
                raise LLMTimeoutError(f"{_origin(wire)}: {_timeout_text(watch.fired or 'total', timeouts)}") from None
            raise
        finally:
            if watch is not None:
                self._watches.stop(watch)

    async def send(self, wire: WireRequest) -> Response:
        # One coroutine from here to aiohttp (no nested ones of ours): every suspension of a call passes through
        # each frame of its chain, and with many calls in flight those frames add up.
        timeouts = _CALL_TIMEOUTS.get() or self.timeouts  # (current_timeouts, inline: once per call)
        loop = asyncio.get_running_loop()
        session = self._session  # (`_session_now`, inline)
        if session is None or session.closed or (self._owns_session and self._loop is not loop):
            session = await self._client()
        # A session of the caller's has a connector that tells no watch: aiohttp then times the call.
        watches = self._watches
        watch = watches.start(timeouts, loop) if self._owns_session else None
        kind = "whole" if watch is None else "watched"
        own = self._own_timeouts
        response: aiohttp.ClientResponse | None = None
        try:
            try:
                response = await session.request(
                    wire.method, self._urls.get(wire.url) or self._url(wire.url),
                    data=wire.body, headers=self._headers(wire),
                    timeout=own[1][kind] if own[0] is timeouts else _aiohttp_timeout(timeouts, kind),
                    allow_redirects=False,  # a provider API never redirects; following one resends the key
                )
            except TimeoutError as exc:
                raise _timeout_error(exc, wire, timeouts, reading=False) from None
            except aiohttp.ClientError as exc:
                raise LLMConnectionError(f"{_origin(wire)}: {type(exc).__name__}: {exc}") from None
            if watch is not None:
                watch.headers_arrived(response, loop.time())
            status = response.status
            if 300 <= status < 400:  # never followed (the instance says so): the body is not worth reading
                response.close()
                return Response(status, response.headers, b"")
            limits = self.limits
            limit = limits.max_response_bytes if status < 300 else limits.max_error_bytes
            try:
                length = response.content_length
                if "content-encoding" not in response.headers and (
                        limit is None or (length is not None and length <= limit)):
                    body: bytes | None = await response.read()  # the usual answer: known length, allowed
                else:
                    body = await self._read_limited(response, session, limit)
            except TimeoutError as exc:  # a read timeout is a SocketTimeoutError; a plain one is the total
                raise _timeout_error(exc, wire, timeouts, reading=False) from None
            except aiohttp.ClientError as exc:
                what = f"connection lost reading the body ({type(exc).__name__})"
                raise LLMConnectionError(f"{_origin(wire)}: {what}") from None
            except ProviderError as err:
                err.status = status
                raise
            if body is None:
                if status < 300:
                    raise ProviderError(f"{_origin(wire)}: response body over {limit} bytes "
                                        "(Limits.max_response_bytes)", status=status)
                response.close()
                return Response(status, response.headers, b"", truncated=True)
        except BaseException as exc:
            if response is not None:
                response.close()
            if watch is not None and isinstance(exc, asyncio.CancelledError) and watch.timed_out():
                raise LLMTimeoutError(f"{_origin(wire)}: {_timeout_text(watch.fired or 'total', timeouts)}") from None
            raise
        finally:
            if watch is not None:
                watches.stop(watch)
        response.release()
        return Response(status, response.headers, body)

    @classmethod
    async def _read_limited(
        cls, response: aiohttp.ClientResponse, session: aiohttp.ClientSession, limit: int | None
    ) -> bytes | None:
        """The body, decoded in bounded pieces and counted as it comes; None once it passes `limit`."""
        length = response.content_length
        if limit is not None and length is not None and length > limit:
            return None
        decoder = cls._decoder(session, response)
        content = response.content
        parts: list[bytes] = []
        size = 0
        while raw := await content.readany():
            data = decoder.decode(raw) if decoder is not None else raw
            while data:
                size += len(data)
                if limit is not None and size > limit:
                    return None
                parts.append(data)
                data = decoder.more() if decoder is not None else b""
        return b"".join(parts)

    async def open_stream(self, wire: WireRequest) -> AiohttpStreamResponse:
        timeouts = self.current_timeouts()
        response = await self._request(wire, timeouts)
        decoder = None
        if 200 <= response.status < 300 or response.status >= 400:
            try:
                decoder = self._decoder(self._session, response)
            except ProviderError as err:
                response.close()
                err.status = response.status
                err.message = f"{_origin(wire)}: {err.message}"
                raise
        limits = self.limits
        return AiohttpStreamResponse(response, wire, timeouts, decoder,
                                     None if _UNKEPT.get() else limits.max_response_bytes, limits.max_error_bytes,
                                     watch_read=self._owns_session)

    async def aclose(self) -> None:
        self._watches.close()
        session, self._session = self._session, None
        closer, self._closer = self._closer, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()
        if closer is not None:
            await closer.aclose()
