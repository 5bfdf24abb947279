"""The `total` and `read` limits of non-streamed calls (and of streamed ones up to their response headers: the body
is then `read_watch.ReadWatch`'s): one timer per transport for all its calls in flight.

aiohttp would schedule three timers per call (its total, and a read timer armed when the request is out and
re-armed on every piece of data: a timer handle made and cancelled each time). Here a call only records when it
started (`CallWatch`); one timer (`CallWatches`) wakes at the earliest time a limit of any call in flight could
have passed and only then looks at the calls: past `total` since the start, past `read` since the connection
was ready with no response headers, or (reading the body) no new bytes for `read` since the headers or the last
check that saw some (checks come at quarter-`read` steps while bytes flow, so a stalled body is noticed at most
a quarter of `read` after the limit). A limit that passed cancels the call's task, as `asyncio.timeout` does;
`AiohttpTransport.send` turns that cancellation into our `TimeoutError`. A call that ends only leaves the
table: the timer is not touched (it finds fewer calls when it wakes, and sleeps until the next one's limit).

The read clock starts when the call has its connection: at once for a pooled one (the usual call), and when
`WatchedConnector` has opened a new one or the pool had one free for a call that had to wait, so neither a
connect nor a wait for a busy pool counts as silence from the server (as with aiohttp's `sock_read`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from aiohttp.client_proto import ResponseHandler
    from aiohttp.client_reqrep import ClientRequest, ConnectionKey
    from aiohttp.tracing import Trace

    from .transport import Timeouts

__all__ = ["CallWatch", "CallWatches", "WatchedConnector"]

_NEVER = float("inf")


class CallWatch:
    """One non-streamed call's limits, as seen by `CallWatches` (no timer of its own)."""

    __slots__ = ("cancelling", "connected", "due", "fired", "quiet_since", "read", "response", "seen", "start",
                 "task", "total")

    def __init__(self, task: asyncio.Task[Any], start: float, read: float | None, total: float | None) -> None:
        self.task = task
        self.cancelling = task.cancelling()
        self.start = start
        self.read, self.total = read, total
        self.connected: float | None = start
        """When the request got its connection (None: still waiting for one); the read clock starts there."""
        self.response: aiohttp.ClientResponse | None = None
        self.seen = -1
        self.quiet_since = 0.0
        self.fired: str | None = None
        first = total if read is None else read if total is None or read < total else total
        self.due = _NEVER if first is None else start + first
        """The earliest time one of the limits could have passed (when the timer must look at this call)."""

    def check(self, now: float) -> float:
        """Cancel the call if a limit passed; else the next time to look at it."""
        total, read = self.total, self.read
        next_at = self.start + total if total is not None else _NEVER
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
        return next_at

    def headers_arrived(self, response: aiohttp.ClientResponse, now: float) -> None:
        """The body's silence is measured from here (bytes already read with the headers count as seen)."""
        self.response = response
        self.seen = response.content.total_bytes
        self.quiet_since = now

    def _fire(self, what: str) -> float:
        self.fired = what
        if not self.task.done():
            self.task.cancel()
        return _NEVER

    def timed_out(self) -> bool:
        """Whether the cancellation being handled is this watch's (not the caller's own)."""
        return self.fired is not None and self.task.uncancel() <= self.cancelling


class CallWatches:
    """A transport's calls in flight, by task (a task sends one request at a time), and the one timer that
    looks at them (armed on the loop of the calls; a transport serves one loop at a time)."""

    __slots__ = ("_due", "_handle", "_loop", "calls")

    def __init__(self) -> None:
        self.calls: dict[asyncio.Task[Any], CallWatch] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._due = _NEVER
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, timeouts: Timeouts, loop: asyncio.AbstractEventLoop) -> CallWatch | None:
        """Watch the current task's call (None: nothing to time, or no task to cancel)."""
        read, total = timeouts.read, timeouts.total
        task = asyncio.current_task(loop)
        if task is None or (read is None and total is None):
            return None
        watch = CallWatch(task, loop.time(), read, total)
        self.calls[task] = watch
        if watch.due < self._due or loop is not self._loop:  # (usually later than the timer: nothing to do)
            self._arm(loop, watch.due)
        return watch

    def stop(self, watch: CallWatch) -> None:
        """The call ended (the timer is left as it is: it finds one call fewer when it wakes)."""
        if self.calls.get(watch.task) is watch:
            del self.calls[watch.task]

    def close(self) -> None:
        """The transport is closed: its timer goes too (unless a call is still in flight: it keeps its limits)."""
        if not self.calls and self._handle is not None:
            self._handle.cancel()
            self._handle, self._due = None, _NEVER

    def connecting(self) -> CallWatch | None:
        """The current task's call, now waiting for a connection (its read clock stopped until `connected`)."""
        task = asyncio.current_task()
        watch = self.calls.get(task) if task is not None else None
        if watch is not None:
            watch.connected = None
        return watch

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if loop is not self._loop:  # calls left by a loop that was closed mid-call will never end: drop them
            self.calls = {task: watch for task, watch in self.calls.items() if task.get_loop() is loop}
        self._loop, self._due = loop, when
        self._handle = loop.call_at(when, self._wake) if when != _NEVER else None

    def _wake(self) -> None:
        self._handle, self._due = None, _NEVER
        loop = self._loop
        if loop is None or not self.calls:
            return
        now = loop.time()
        due = _NEVER
        for watch in list(self.calls.values()):
            if watch.due <= now:
                watch.due = watch.check(now)
            due = min(due, watch.due)
        if due != _NEVER:
            self._arm(loop, due)


class WatchedConnector(aiohttp.TCPConnector):
    """Tells a watched call when it has its connection, on the slow paths only (a new connection, a wait for a
    busy pool): a pooled connection, the usual case, costs nothing here."""

    def __init__(self, *, limit: int, watches: CallWatches) -> None:
        super().__init__(limit=limit)
        self.watches = watches

    async def _wait_for_available_connection(self, key: ConnectionKey, traces: list[Trace]) -> None:
        watch = self.watches.connecting()
        await super()._wait_for_available_connection(key, traces)
        if watch is not None:  # (a connection is then taken from the pool, or opened: `_create_connection`)
            watch.connected = asyncio.get_running_loop().time()

    async def _create_connection(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> ResponseHandler:
        watch = self.watches.connecting()
        proto = await super()._create_connection(req, traces, timeout)
        if watch is not None:
            watch.connected = asyncio.get_running_loop().time()
        return proto
