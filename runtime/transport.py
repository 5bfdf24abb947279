"""How a `WireRequest` becomes bytes on a socket: the one narrow seam between "what to send" and "how".

Everything above this module (auth, retries, framing, decoding) works on `WireRequest` in and status, headers
and body bytes out, so a test or an alternative HTTP stack plugs in by implementing `Transport`
(the idea of httpx's ``_transports/base.py``). `AiohttpTransport` is the real one: one `aiohttp.ClientSession`
per client, created lazily inside the running loop and reused (keep-alive); gzip is aiohttp's job.

Failures leave here as our error classes only: timeouts → `TimeoutError`, connection failures before a
response → `ConnectionError`, a connection lost while a streamed body is being read → `StreamError`.
Messages name the method and origin, never the query string (a key may live there).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from yarl import URL

if TYPE_CHECKING:
    from aiohttp.client_reqrep import ClientRequest
    from aiohttp.connector import Connection
    from aiohttp.tracing import Trace

from vllora_llm.engine.errors import ConnectionError as LLMConnectionError
from vllora_llm.engine.errors import StreamError
from vllora_llm.engine.errors import TimeoutError as LLMTimeoutError
from vllora_llm.engine.wire import WireRequest

__all__ = [
    "AiohttpStreamResponse",
    "AiohttpTransport",
    "Response",
    "StreamResponse",
    "Timeouts",
    "Transport",
    "call_timeouts",
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
    """

    connect: float | None = _CONNECT
    read: float | None = _READ
    total: float | None = _TOTAL

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


@dataclass(slots=True)
class Response:
    """A whole answer: status, headers (case-insensitive when they come from aiohttp) and body bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes


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


def _origin(wire: WireRequest) -> str:
    """`POST https://host:port/path` without the query string (which may hold a key)."""
    try:
        url = URL(wire.url)
        return f"{wire.method} {url.with_query(None).with_fragment(None)}"
    except (ValueError, TypeError):
        return wire.method


def _timeout_text(what: str, t: Timeouts) -> str:
    """How a timeout is named in messages, by which limit passed (`connect`, `read` or `total`)."""
    if what == "connect":
        return f"connect timeout ({t.connect} s)"
    if what == "read":
        return f"no data for {t.read} s (read timeout)"
    return f"total timeout ({t.total} s)"


def _timeout_error(exc: BaseException, wire: WireRequest, timeouts: Timeouts, *, reading: bool) -> LLMTimeoutError:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        what = "connect"
    elif isinstance(exc, aiohttp.SocketTimeoutError) or reading:
        what = "read"
    else:
        what = "total"
    return LLMTimeoutError(f"{_origin(wire)}: {_timeout_text(what, timeouts)}")


class AiohttpStreamResponse:
    """A streamed aiohttp response: bytes via `content.iter_any()` (never the line iterator, which fails on
    long lines), released for reuse at the end of the body, closed at once on early exit."""

    __slots__ = ("_chunks", "_done", "_response", "_timeouts", "_wire", "headers", "status")

    def __init__(self, response: aiohttp.ClientResponse, wire: WireRequest, timeouts: Timeouts) -> None:
        self._response = response
        self._wire = wire
        self._timeouts = timeouts
        self._chunks = response.content.iter_any()
        self._done = False
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    async def read_chunk(self) -> bytes:
        if self._done:
            return b""
        try:
            data = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._done = True
            self._response.release()
            return b""
        except TimeoutError as exc:
            self.close()
            raise _timeout_error(exc, self._wire, self._timeouts, reading=True) from None
        except aiohttp.ClientError as exc:
            self.close()
            what = f"connection lost mid-stream ({type(exc).__name__})"
            raise StreamError(f"{_origin(self._wire)}: {what}", retryable=True) from None
        except BaseException:
            self.close()
            raise
        return data

    async def read(self) -> bytes:
        parts: list[bytes] = []
        while chunk := await self.read_chunk():
            parts.append(chunk)
        return b"".join(parts)

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """The body as raw chunks; leaving the loop early closes the connection."""
        try:
            while chunk := await self.read_chunk():
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        if not self._done:
            self._done = True
            self._response.close()

    def __del__(self) -> None:
        if not self._done:
            with contextlib.suppress(Exception):  # best effort at garbage collection (the loop may be gone)
                self.close()


class _CallWatch:
    """One timer for a whole (non-streamed) call's `total` and `read` limits, where aiohttp would use three:
    its total timer, and a read timer armed when the request is out and re-armed on every piece of data
    (a cancelled timer handle each time, several microseconds per call when many calls are in flight).

    The timer fires at the earliest time a limit could have passed and only then looks at the call:
    past `total` since the start, past `read` since the connection was ready with no response headers,
    or (reading the body) no new bytes for `read` since the headers or the last check that saw some (checks
    come at quarter-`read` steps while bytes flow, so a stalled body is noticed at most a quarter of `read`
    after the limit). A limit that passed cancels the task, as `asyncio.timeout` does;
    `AiohttpTransport.send` turns that cancellation into our `TimeoutError`.
    """

    __slots__ = ("cancelling", "connected", "fired", "handle", "loop", "quiet_since", "read", "response", "seen",
                 "start", "task", "total")

    def __init__(self, timeouts: Timeouts) -> None:
        self.loop = loop = asyncio.get_running_loop()
        self.task = task = asyncio.current_task()
        self.cancelling = task.cancelling() if task is not None else 0
        self.start = start = loop.time()
        self.read, self.total = read, total = timeouts.read, timeouts.total
        self.connected: float | None = None
        """When the request got its connection (`_WatchedConnector`): the read clock starts there."""
        self.response: aiohttp.ClientResponse | None = None
        self.seen = -1
        self.quiet_since = 0.0
        self.fired: str | None = None
        first = total if read is None else read if total is None or read < total else total
        self.handle = loop.call_at(start + first, self._check) if first is not None and task is not None else None

    def _check(self) -> None:
        now = self.loop.time()
        total, read = self.total, self.read
        next_at = self.start + total if total is not None else now + 3600.0
        if now >= next_at:
            return self._fire("total")
        if read is not None:
            if self.connected is None:  # waiting for a pooled connection (or connecting): not the server's silence
                next_at = min(next_at, now + read / 4)
            elif self.response is None:  # the request is out, no response headers yet
                if now >= self.connected + read:
                    return self._fire("read")
                next_at = min(next_at, self.connected + read)
            else:
                got = self.response.content.total_bytes
                if got != self.seen:
                    self.seen, self.quiet_since = got, now
                elif now >= self.quiet_since + read:
                    return self._fire("read")
                next_at = min(next_at, self.quiet_since + read, now + read / 4)
        self.handle = self.loop.call_at(next_at, self._check)

    def headers_arrived(self, response: aiohttp.ClientResponse) -> None:
        """The body's silence is measured from here (bytes already read with the headers count as seen)."""
        self.response = response
        self.seen = response.content.total_bytes
        self.quiet_since = self.loop.time()

    def _fire(self, what: str) -> None:
        self.fired = what
        self.handle = None
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    def timed_out(self) -> bool:
        """Whether the cancellation being handled is this watch's (not the caller's own)."""
        return self.fired is not None and self.task is not None and self.task.uncancel() <= self.cancelling


class _WatchedConnector(aiohttp.TCPConnector):
    """Tells the call being watched when its connection is ready, so a wait for a pooled connection does not
    count as silence from the server (as with aiohttp's `sock_read`, which starts once the request is sent).
    Calls are found by their task (`watches`, filled by `AiohttpTransport.send`): a task sends one request
    at a time, and a dict entry costs less per call than a context variable."""

    def __init__(self, *, limit: int, watches: dict[asyncio.Task[Any], _CallWatch]) -> None:
        super().__init__(limit=limit)
        self.watches = watches

    async def connect(self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout) -> Connection:
        conn = await super().connect(req, traces, timeout)
        task = asyncio.current_task()
        watch = self.watches.get(task) if task is not None else None
        if watch is not None:
            watch.connected = watch.loop.time()
        return conn


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

    `whole`: a non-streamed call timed by aiohttp; `stream`: a streamed one (its `total` is ours, up to the
    headers); `watched`: a non-streamed call timed by a `_CallWatch` (aiohttp keeps only the socket connect).
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
    ) -> None:
        self.timeouts = Timeouts.coerce(timeouts)
        t = self.timeouts
        self._own_timeouts = (t, {kind: _aiohttp_timeout(t, kind) for kind in ("whole", "stream", "watched")})
        """The client's timeouts with their aiohttp forms by kind; a `timeouts` set later is looked up."""
        self._limit = limit
        self._session = session
        self._owns_session = session is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closer: AsyncGenerator[None, None] | None = None
        self._watches: dict[asyncio.Task[Any], _CallWatch] = {}
        """The non-streamed calls in flight by task, for the connector to tell each when it is connected."""

    def __repr__(self) -> str:
        return f"AiohttpTransport(timeouts={self.timeouts!r})"

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
            connector=_WatchedConnector(limit=self._limit, watches=self._watches),
            timeout=self._client_timeout("whole"),
            auto_decompress=True,
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

    @staticmethod
    def _headers(wire: WireRequest) -> Mapping[str, str]:
        headers = wire.headers
        if wire.body and "content-type" not in headers and not any(k.lower() == "content-type" for k in headers):
            headers = {**headers, "content-type": "application/json"}
        return headers

    async def _request(self, wire: WireRequest, timeouts: Timeouts, kind: str) -> aiohttp.ClientResponse:
        session = self._session_now() or await self._client()
        timeout = self._client_timeout(kind, timeouts)
        # The plan already percent-encoded the URL: send it byte for byte (re-quoting would turn `%3A` back into
        # `:`, and a request signature covers the path exactly as it was signed).
        url = URL(wire.url, encoded=True)
        try:
            if kind == "stream" and timeouts.total is not None:
                async with asyncio.timeout(timeouts.total):
                    return await session.request(wire.method, url, data=wire.body, headers=self._headers(wire),
                                                 timeout=timeout)
            return await session.request(wire.method, url, data=wire.body, headers=self._headers(wire),
                                         timeout=timeout)
        except TimeoutError as exc:
            raise _timeout_error(exc, wire, timeouts, reading=False) from None
        except aiohttp.ClientError as exc:
            raise LLMConnectionError(f"{_origin(wire)}: {type(exc).__name__}: {exc}") from None

    async def send(self, wire: WireRequest) -> Response:
        # One coroutine from here to aiohttp (no nested ones of ours): every suspension of a call passes through
        # each frame of its chain, and with many calls in flight those frames add up.
        timeouts = _CALL_TIMEOUTS.get() or self.timeouts  # (current_timeouts, inline: once per call)
        # A session of the caller's has a connector that tells no watch: aiohttp then times the call.
        watch = _CallWatch(timeouts) if self._owns_session else None
        task = None
        if watch is not None and watch.task is not None:
            task = watch.task
            self._watches[task] = watch  # (the connector finds it by its task)
        response: aiohttp.ClientResponse | None = None
        try:
            session = self._session_now() or await self._client()
            try:
                response = await session.request(
                    wire.method, URL(wire.url, encoded=True),  # (as in `_request`: sent byte for byte)
                    data=wire.body, headers=self._headers(wire),
                    timeout=self._client_timeout("whole" if watch is None else "watched", timeouts),
                )
            except TimeoutError as exc:
                raise _timeout_error(exc, wire, timeouts, reading=False) from None
            except aiohttp.ClientError as exc:
                raise LLMConnectionError(f"{_origin(wire)}: {type(exc).__name__}: {exc}") from None
            if watch is not None:
                watch.headers_arrived(response)
            try:
                body = await response.read()
            except TimeoutError as exc:  # a read timeout is a SocketTimeoutError; a plain one is the total
                raise _timeout_error(exc, wire, timeouts, reading=False) from None
            except aiohttp.ClientError as exc:
                what = f"connection lost reading the body ({type(exc).__name__})"
                raise LLMConnectionError(f"{_origin(wire)}: {what}") from None
        except BaseException as exc:
            if response is not None:
                response.close()
            if watch is not None and isinstance(exc, asyncio.CancelledError) and watch.timed_out():
                raise LLMTimeoutError(f"{_origin(wire)}: {_timeout_text(watch.fired or 'total', timeouts)}") from None
            raise
        finally:
            if watch is not None:
                watch.stop()
                if task is not None:
                    del self._watches[task]
        response.release()
        return Response(response.status, response.headers, body)

    async def open_stream(self, wire: WireRequest) -> AiohttpStreamResponse:
        timeouts = self.current_timeouts()
        response = await self._request(wire, timeouts, "stream")
        return AiohttpStreamResponse(response, wire, timeouts)

    async def aclose(self) -> None:
        session, self._session = self._session, None
        closer, self._closer = self._closer, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()
        if closer is not None:
            await closer.aclose()
