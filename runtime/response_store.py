"""Where `previous_response_id` finds the conversation of an earlier response (translated providers).

The interface is two async methods, so an application can keep conversations in its own database:
`put(response_id, items)` stores a response's whole conversation (its input items, earlier turns included, then
its output items, as plain dicts in OpenAI's shape) and `get(response_id)` returns it, or None when unknown.
`InMemoryResponseStore` is the default: bounded by count and bytes (least recently used first out) and by age.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

__all__ = ["InMemoryResponseStore", "ResponseStore"]


class ResponseStore(Protocol):
    """A store of response conversations (see the module docstring)."""

    async def get(self, response_id: str) -> list[dict[str, Any]] | None: ...

    async def put(self, response_id: str, items: list[dict[str, Any]]) -> None: ...


class InMemoryResponseStore:
    """An LRU of conversations in this process: at most `max_entries`, `max_bytes` (their JSON size) and, when
    `ttl` (seconds) is given, no older than that. A conversation larger than `max_bytes` is not kept."""

    def __init__(
        self,
        max_entries: int = 1000,
        max_bytes: int = 64 * 1024 * 1024,
        ttl: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("max_entries and max_bytes must be at least 1")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    async def get(self, response_id: str) -> list[dict[str, Any]] | None:
        entry = self._entries.get(response_id)
        if entry is None:
            return None
        data, stored_at = entry
        if self.ttl is not None and self._clock() - stored_at > self.ttl:
            self._drop(response_id)
            return None
        self._entries.move_to_end(response_id)
        items: list[dict[str, Any]] = msgspec.json.decode(data)  # a fresh copy: callers may change it
        return items

    async def put(self, response_id: str, items: list[dict[str, Any]]) -> None:
        data = msgspec.json.encode(items)
        if response_id in self._entries:
            self._drop(response_id)
        if len(data) > self.max_bytes:
            return
        self._entries[response_id] = (data, self._clock())
        self._bytes += len(data)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, response_id: str) -> None:
        data, _ = self._entries.pop(response_id)
        self._bytes -= len(data)
