"""The `read` limit of a streamed body on a session the library owns: one timer per stream, none per read.

aiohttp's `sock_read` re-arms a timer handle (a `call_later` and a `cancel`) on every piece of data, which is
most of what a read costs beyond the floor when a server sends one event per read (a model generating slowly).
Here the stream's timer wakes at quarter-`read` steps and only then looks at the body's byte count
(`content.total_bytes`): no new bytes for `read` seconds fails the read in progress, or the next one, with the
read timeout's `TimeoutError` (checks come at quarter steps, so a stall is noticed at most a quarter of `read`
after the limit). As with aiohttp, whose timer stops while the caller has a full buffer unread (reading paused),
bytes that arrived and are not read yet mean the wait is the caller's, not the server's silence: the stream
counts the raw bytes it took (`taken`), and silence is only counted once it took all that arrived.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import aiohttp

from vllora_llm.engine.errors import TimeoutError as LLMTimeoutError
from vllora_llm.engine.wire import WireRequest

from .transport_errors import origin, timeout_text

if TYPE_CHECKING:
    from .transport import Timeouts

__all__ = ["ReadWatch"]


class ReadWatch:
    """Watches one streamed body; `taken` is bumped by the stream per read, `stop()` when it ends. Holds the
    aiohttp response, not the stream, so a stream dropped without `close()` is still collected (and closes)."""

    __slots__ = ("_done", "_handle", "_loop", "_quiet_since", "_response", "_seen", "_timeouts", "_wire", "fired",
                 "read", "taken")

    def __init__(self, response: aiohttp.ClientResponse, read: float, wire: WireRequest, timeouts: Timeouts) -> None:
        self._loop = loop = asyncio.get_running_loop()
        self._response = response
        self.read = read
        self._wire, self._timeouts = wire, timeouts
        """What the error names (its message is made only if it fires)."""
        self.taken = 0
        """Raw body bytes the stream has read from aiohttp (the rest of `total_bytes` is waiting in its buffer)."""
        self._seen = response.content.total_bytes
        now = loop.time()
        self._quiet_since = now
        self._done = False
        self.fired = False
        self._handle: asyncio.TimerHandle | None = loop.call_at(now + read / 4, self._wake)

    def check(self, now: float) -> float | None:
        """Fail the body if it was silent for `read`; else the next time to look (None: nothing left to watch)."""
        response = self._response
        if self._done or response.closed:
            self._done = True
            return None
        got = response.content.total_bytes
        if got != self._seen or self.taken < got:  # new bytes, or bytes the caller has not read yet
            self._seen, self._quiet_since = got, now
        elif now >= self._quiet_since + self.read:
            self._done = self.fired = True
            error = LLMTimeoutError(f"{origin(self._wire)}: {timeout_text('read', self._timeouts)}")
            response.content.set_exception(error)  # wakes the read in progress; a later read raises it too
            response.close()
            return None
        return min(self._quiet_since + self.read, now + self.read / 4)

    def _wake(self) -> None:
        self._handle = None
        at = self.check(self._loop.time())
        if at is not None:
            self._handle = self._loop.call_at(at, self._wake)

    def hand_over(self) -> None:
        """Another timer calls `check` from now on (a stream's `StreamWatch`: one timer per stream, and at equal
        limits `read` is looked at first, so a silent body is always the read timeout)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def stop(self) -> None:
        self._done = True
        self.hand_over()
