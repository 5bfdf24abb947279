"""Faults the local provider server injects, so a client's retry, timeout and stream-error paths can be
tested offline and deterministically.

A `Fault` describes one misbehaviour of a provider; a `FaultQueue` hands faults out to the next requests in
order (FIFO, each entry used `times` times). A request may instead carry its own fault in the
`x-vllora-fault` header (a JSON object of `Fault` fields), which lets end-to-end tests inject a fault through
the real client without a handle on the server. `replay()` builds the fault that answers with recorded bytes.
"""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FAULT_HEADER = "x-vllora-fault"


class FaultSpecError(ValueError):
    """A fault description (e.g. the `x-vllora-fault` header) that cannot be understood."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """One way for the next response to go wrong. All fields are optional and combine where they make sense.

    Before anything is sent:
      delay_s               sleep this long before answering (ends early if the client goes away).
      reset_before_headers  abort the TCP connection (RST) without sending a byte.
      replay_body           answer with these bytes verbatim (`status`, `content_type`, `headers` apply);
                            the request is not validated. See `replay()`.
      html_error            answer `status` (default 502) with an HTML page, like a proxy in front of the API.
      status                answer this status with `body` (dict → JSON; str/bytes verbatim) or, if no body,
                            the wire format's own error JSON for that status; `headers` are added (e.g.
                            `{"retry-after": "1"}`). The request is not validated.
    While answering normally:
      malformed_json        a 200 body that is not JSON (non-stream), or one broken event after the first one
                            (stream).
      gzip                  `Content-Encoding: gzip` body (streams: sync-flushed gzip, one flush per write).
      chunk_size            write the body in pieces of this many bytes (replays: the recorded bytes).
      drip_s                sleep this long between stream chunks.
      big_event_bytes       stream: add one event of exactly this many bytes (a content delta of "x" * k)
                            right after the first chunk.
      cut_after_chunks      stream: send N chunks, then abort the connection (no [DONE], no final chunk).
      truncate_without_done stream: send every chunk but not the terminator ([DONE]), then end cleanly.
      stall_after_chunks    stream: send N chunks, then hang until the client disconnects.
    Queue control:
      times                 how many consecutive requests this fault applies to (queue only).
    """

    status: int | None = None
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None
    delay_s: float = 0.0
    reset_before_headers: bool = False
    replay_body: bytes | None = None
    html_error: bool = False
    malformed_json: bool = False
    gzip: bool = False
    chunk_size: int | None = None
    drip_s: float = 0.0
    big_event_bytes: int | None = None
    cut_after_chunks: int | None = None
    truncate_without_done: bool = False
    stall_after_chunks: int | None = None
    times: int = 1

    def __post_init__(self) -> None:
        if self.status is not None and not 100 <= self.status <= 599:
            raise FaultSpecError(f"status must be an HTTP status (100-599), got {self.status}")
        for name in ("delay_s", "drip_s"):
            if getattr(self, name) < 0:
                raise FaultSpecError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("cut_after_chunks", "stall_after_chunks", "big_event_bytes"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise FaultSpecError(f"{name} must be >= 0, got {value}")
        if self.chunk_size is not None and self.chunk_size < 1:
            raise FaultSpecError(f"chunk_size must be >= 1, got {self.chunk_size}")
        if self.times < 1:
            raise FaultSpecError(f"times must be >= 1, got {self.times}")

    @classmethod
    def from_json(cls, text: str | bytes) -> Fault:
        """Parse a JSON object of `Fault` fields (the `x-vllora-fault` header); `replay_body` may be text."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise FaultSpecError(f"{FAULT_HEADER} is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise FaultSpecError(f"{FAULT_HEADER} must be a JSON object of Fault fields")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        """Build a fault from plain data, checking field names and value types."""
        unknown = sorted(set(data) - _FIELD_TYPES.keys())
        if unknown:
            raise FaultSpecError(f"unknown fault field(s) {unknown}; known: {sorted(_FIELD_TYPES)}")
        values = dict(data)
        if isinstance(values.get("replay_body"), str):
            values["replay_body"] = values["replay_body"].encode()
        for name, value in values.items():
            expected = _FIELD_TYPES[name]
            if value is not None and not _has_type(value, expected):
                raise FaultSpecError(f"fault field {name!r} must be {expected}, got {value!r}")
        return cls(**values)


_FIELD_TYPES: dict[str, str] = {f.name: str(f.type).replace(" | None", "") for f in dataclasses.fields(Fault)}
_CHECKS: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "bytes": (bytes,),
    "Mapping[str, str]": (dict,),
}


def _has_type(value: object, expected: str) -> bool:
    allowed = _CHECKS.get(expected)
    if allowed is None:  # `body: Any`
        return True
    if isinstance(value, bool) and bool not in allowed:
        return False
    return isinstance(value, allowed)


def replay(
    source: Path | str | bytes,
    *,
    content_type: str,
    status: int = 200,
    chunk_size: int | None = None,
    headers: Mapping[str, str] | None = None,
    drip_s: float = 0.0,
    times: int = 1,
) -> Fault:
    """A fault that answers with recorded bytes verbatim, written `chunk_size` bytes at a time.

    `source` is a file path or the bytes themselves. Stream faults (`cut_after_chunks`, `drip_s`, …) count
    each written piece as one chunk.
    """
    body = source if isinstance(source, bytes) else Path(source).read_bytes()
    return Fault(
        replay_body=body,
        content_type=content_type,
        status=status,
        chunk_size=chunk_size,
        headers=dict(headers or {}),
        drip_s=drip_s,
        times=times,
    )


@dataclass(slots=True)
class _Entry:
    fault: Fault
    remaining: int


class FaultQueue:
    """FIFO of faults consumed by the next requests; a fault with `times=N` serves N requests in a row."""

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self._entries: deque[_Entry] = deque()
        self.push(*faults)

    def push(self, *faults: Fault) -> None:
        """Append faults; they apply after the ones already queued."""
        self._entries.extend(_Entry(fault, fault.times) for fault in faults)

    def pop(self) -> Fault | None:
        """The fault for the next request (using up one of its `times`), or None when the queue is empty."""
        if not self._entries:
            return None
        entry = self._entries[0]
        entry.remaining -= 1
        if entry.remaining <= 0:
            self._entries.popleft()
        return entry.fault

    def clear(self) -> None:
        self._entries.clear()

    @property
    def pending(self) -> int:
        """How many requests the queued faults will still affect."""
        return sum(entry.remaining for entry in self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Fault]:
        return (entry.fault for entry in self._entries)

    def __repr__(self) -> str:
        return f"FaultQueue({[entry.fault for entry in self._entries]!r})"
