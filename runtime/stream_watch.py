"""Streams that make no progress time out: the `stream_idle` and `stream_total` limits of `Timeouts`.

The `read` limit restarts on every byte, so a server that sends only keep-alive comments, pings (events
that produce no chunk) or one byte a second would hold a stream open forever. Progress here is a *chunk* for
the caller: the watch measures how long the caller has been waiting for one, and a server's bytes that produce
none do not reset it. Time the caller spends elsewhere (between two `__anext__` calls) is not the server's
silence and is not counted.

One timer per stream, like `call_watch.CallWatch`: it wakes at quarter-`stream_idle` steps and only then looks at
the stream (two counters the stream bumps per network read), so the per-chunk path costs two attribute writes.
The same timer runs the body's `read` watch (`read_watch.ReadWatch`, on a session the library owns), first.
A limit that passes fails the read in progress with `TimeoutError` (not retried: the server is up and
answering, it only makes no progress); `stream_idle` is noticed up to a quarter of itself late.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from vllora_llm.engine.errors import TimeoutError as LLMTimeoutError

from .read_watch import ReadWatch

__all__ = ["StreamWatch"]


class StreamWatch:
    """Watches one stream; `waiting` and `progress` are written by the stream, `stop()` when it ends."""

    __slots__ = ("_fail", "_handle", "_loop", "_quiet_since", "_read", "_seen", "deadline", "idle", "origin",
                 "progress", "total", "waiting")

    def __init__(
        self,
        idle: float | None,
        total: float | None,
        fail: Callable[[BaseException], None],
        origin: str = "stream",
        read: ReadWatch | None = None,
    ) -> None:
        """`read`: the body's `read` watch, checked by this timer from now on (before the limits here)."""
        self._loop = loop = asyncio.get_running_loop()
        self.idle = idle
        self.total = total
        self.deadline = None if total is None else loop.time() + total
        self.origin = origin
        self._fail = fail
        self.waiting = False
        """True while the caller waits for a chunk (set by the stream around its reads)."""
        self.progress = 0
        """Bumped by the stream each time a read produced chunks."""
        self._seen = 0
        self._quiet_since: float | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._read = read
        now = loop.time()
        if read is not None:
            read.hand_over()
            self._schedule(now, read.check(now))
        else:
            self._schedule(now, None)

    def _schedule(self, now: float, read_at: float | None) -> None:
        step = now + self.idle / 4 if self.idle is not None else None
        deadline = self.deadline
        at = step if deadline is None else deadline if step is None or deadline < step else step
        if read_at is not None and (at is None or read_at < at):
            at = read_at
        self._handle = self._loop.call_at(at, self._check) if at is not None else None

    def _check(self) -> None:
        now = self._loop.time()
        if self.deadline is not None and now >= self.deadline:
            return self._fire(f"the stream ran past its total of {self.total} s (stream_total timeout)")
        read_at = None
        if (read := self._read) is not None:
            read_at = read.check(now)
            if read_at is None:  # the body's read timeout failed the stream (or the body ended)
                self._read = None
                if read.fired:
                    self._handle = None
                    return None
        idle = self.idle
        if idle is not None:
            if not self.waiting or self.progress != self._seen:
                self._seen = self.progress
                self._quiet_since = now if self.waiting else None
            elif self._quiet_since is None:
                self._quiet_since = now
            elif now >= self._quiet_since + idle:
                return self._fire(f"no chunk for {idle} s: the server sent only keep-alives, pings or "
                                  "partial data (stream_idle timeout)")
        self._schedule(now, read_at)

    def _fire(self, why: str) -> None:
        self._handle = None
        self._fail(LLMTimeoutError(f"{self.origin}: {why}", retryable=False))

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
