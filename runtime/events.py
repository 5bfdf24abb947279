"""Model events, the crate's shape: typed, in order, delivered synchronously to a callback while a call runs.

The crate hands `ModelEvent`s to a channel on the client; here a callback (any `Callable[[ModelEvent], None]`)
receives them, given to the client (`from_provider(..., events=cb)`) or to one call (`create(req, events=cb)`).
Callbacks run inline, so they must be quick; one that raises is logged and the call goes on. `EventQueue` is
the async-iterator form for UIs: it is itself a callback that queues events for an `async for` elsewhere.

Per call the order is: `LlmStart`, then any `Retry` / `Fallback`, then (streams) `LlmFirstToken` and one
`LlmContent` per text delta, or (whole calls) one `LlmContent` with the whole text; then `LlmStop` or
`LlmError`. `ToolStart` / `ToolResult` are for tools the library runs itself (the MCP tool loop).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from vllora_llm.engine.gateway import ToolCall, Usage

__all__ = [
    "EventCallback",
    "EventQueue",
    "Fallback",
    "LlmContent",
    "LlmError",
    "LlmFirstToken",
    "LlmStart",
    "LlmStop",
    "ModelEvent",
    "Retry",
    "ToolResult",
    "ToolStart",
    "emit",
]

logger = logging.getLogger("vllora_llm")


@dataclass(frozen=True, slots=True)
class LlmStart:
    """A call began. `provider_name` is None until a router picked its target."""

    operation: str
    model_name: str
    provider_name: str | None
    input: Any = None
    """The request as the caller gave it (the typed request for chat)."""


@dataclass(frozen=True, slots=True)
class LlmFirstToken:
    """The first chunk of a stream arrived, `ttft` seconds after the call began."""

    ttft: float


@dataclass(frozen=True, slots=True)
class LlmContent:
    """Text the model produced: one delta of a stream, or the whole text of a non-streamed answer."""

    content: str


@dataclass(frozen=True, slots=True)
class LlmStop:
    """A call ended well (or a stream was left early: then `finish_reason` may be None)."""

    provider_name: str | None
    model_name: str | None
    usage: Usage | None
    finish_reason: str | None
    cost: float | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LlmError:
    """A call failed (or its task was cancelled); the exception is raised to the caller right after."""

    error: BaseException


@dataclass(frozen=True, slots=True)
class Retry:
    """An attempt failed and the same target is tried again after `delay` seconds."""

    provider_name: str
    attempt: int
    """The number of the attempt about to be made (2 for the first retry)."""
    error: BaseException
    delay: float


@dataclass(frozen=True, slots=True)
class Fallback:
    """A target failed for good and the router hands the request to the next one."""

    from_provider: str
    from_model: str
    to_provider: str
    to_model: str
    error: BaseException


@dataclass(frozen=True, slots=True)
class ToolStart:
    """The library is about to run a tool call itself (the MCP tool loop)."""

    tool_name: str
    call_id: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool the library ran returned (`is_error` when it failed; the failure is the output)."""

    tool_name: str
    call_id: str
    output: str
    is_error: bool = False


ModelEvent: TypeAlias = (
    LlmStart | LlmFirstToken | LlmContent | LlmStop | LlmError | Retry | Fallback | ToolStart | ToolResult
)
EventCallback: TypeAlias = Callable[[ModelEvent], None]


def emit(listeners: tuple[EventCallback, ...], event: ModelEvent) -> None:
    """Hand `event` to each listener; a listener that raises is logged, never allowed to break the call."""
    for listener in listeners:
        try:
            listener(event)
        except Exception:
            logger.exception("model event callback %r failed on %s", listener, type(event).__name__)


class EventQueue:
    """A callback that queues events for `async for event in queue` (a UI task reading while a call runs).

    Iteration ends after `close()`; with `until_done=True` it also ends after the first `LlmStop` /
    `LlmError` (one call's events). Unbounded: a reader that stops reading should `close()` it."""

    __slots__ = ("_closed", "_events", "_until_done", "_waiter")

    def __init__(self, *, until_done: bool = False) -> None:
        self._events: deque[ModelEvent] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._until_done = until_done
        self._closed = False

    def __call__(self, event: ModelEvent) -> None:
        if self._closed:
            return
        self._events.append(event)
        if self._until_done and isinstance(event, LlmStop | LlmError):
            self._closed = True
        self._wake()

    def close(self) -> None:
        """End the iteration once the queued events are read."""
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> EventQueue:
        return self

    async def __anext__(self) -> ModelEvent:
        while not self._events:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._events.popleft()
