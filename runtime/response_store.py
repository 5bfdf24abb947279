"""Where `previous_response_id` finds the conversation of an earlier response (translated providers).

The interface is two async methods, so an application can keep conversations in its own database:
`put(response_id, items)` stores a response's whole conversation (its input items, earlier turns included, then
its output items, as plain dicts in OpenAI's shape) and `get(response_id)` returns it, or None when unknown.
`InMemoryResponseStore` is the default: bounded by count and bytes (least recently used first out) and by age.

The same interface keeps the prompt-cache registry (`runtime/prompt_cache.py`: a prefix's hash → the name and
expiry of the provider-side cache holding it), so one store an application plugs in can serve both: values
are plain JSON (lists or dicts), keys never collide (response ids; `prompt_cache:<hash>`). `delete(key)` is
optional; a store without it lets entries age out.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

__all__ = ["InMemoryResponseStore", "InMemoryStore", "KeyValueStore", "ResponseStore"]


class KeyValueStore(Protocol):
    """JSON values by key: response conversations, prompt-cache entries (see the module docstring)."""

    async def get(self, response_id: str) -> Any | None: ...

    async def put(self, response_id: str, items: Any) -> None: ...


class ResponseStore(Protocol):
    """A `KeyValueStore` as the Responses API uses it: conversations (lists of item dicts) by response id."""

    async def get(self, response_id: str) -> list[dict[str, Any]] | None: ...

    async def put(self, response_id: str, items: list[dict[str, Any]]) -> None: ...


class InMemoryStore:
    """An LRU of JSON values in this process: at most `max_entries`, `max_bytes` (their JSON size) and, when
    `ttl` (seconds) is given, no older than that. A value larger than `max_bytes` is not kept."""

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

    async def get(self, response_id: str) -> Any | None:
        entry = self._entries.get(response_id)
        if entry is None:
            return None
        data, stored_at = entry
        if self.ttl is not None and self._clock() - stored_at > self.ttl:
            self._drop(response_id)
            return None
        self._entries.move_to_end(response_id)
        return msgspec.json.decode(data)  # a fresh copy: callers may change it

    async def put(self, response_id: str, items: Any) -> None:
        data = msgspec.json.encode(items)
        if response_id in self._entries:
            self._drop(response_id)
        if len(data) > self.max_bytes:
            return
        self._entries[response_id] = (data, self._clock())
        self._bytes += len(data)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    async def delete(self, key: str) -> None:
        if key in self._entries:
            self._drop(key)

    def _drop(self, response_id: str) -> None:
        data, _ = self._entries.pop(response_id)
        self._bytes -= len(data)


InMemoryResponseStore = InMemoryStore
"""The Responses API's default store (the same class)."""
