"""Server-sent events (WHATWG "text/event-stream") as a push parser: bytes in, events out, no I/O.

Why not aiohttp's line iterator or ``str.splitlines``: lines end at CR, LF or CRLF *only*. U+2028 and U+2029
are legal inside JSON and must stay inside ``data``, and a CRLF may be split across two network reads.
The parser keeps a ``bytearray`` of the unfinished last line and decodes each run of complete lines as UTF-8
(``errors="replace"``, so it never raises on bad input) before splitting it in C: at once and then at LF, or,
when it holds a CR, split by ``bytes.splitlines`` (it breaks at CR, LF and CRLF only) and decoded per line.

Deliberate departures from the WHATWG algorithm, all lenient:

- an event with an ``event:`` field but no ``data:`` is dispatched too (``data=""``); the standard drops it;
- :meth:`SSEParser.close` delivers a last event that had no closing blank line; the standard drops it;
- ``retry`` is reported on the event whose block carried it (and kept in :attr:`SSEParser.retry`);
- with ``stray_lines_as_data=True``, lines that are not a known field (some providers write a bare JSON error
  object without ``data:``) become an event with ``event=""`` and the raw lines as ``data``.

Bounded: a line, or an event's data, longer than ``max_event_bytes`` (default 16 MiB) raises
:class:`StreamError` as soon as it passes the bound, so a server cannot make the parser hold an endless line.
A ``retry`` longer than ten digits is ignored like any other invalid value.

``id`` follows the standard: it is the *last event ID*, which persists until another ``id:`` line changes it.
"""

from __future__ import annotations

import operator
from typing import ClassVar

import msgspec

from vllora_llm.engine.errors import StreamError
from vllora_llm.engine.frames import DATA

__all__ = ["SSEEvent", "SSEParser"]

_BOM = b"\xef\xbb\xbf"
MAX_EVENT_BYTES = 16 * 1024 * 1024


class SSEEvent(msgspec.Struct, frozen=True, gc=False):
    """One dispatched event. ``event`` is ``"message"`` when the block had no ``event:`` field.

    A frozen msgspec Struct rather than a frozen dataclass: it is made once per event, and its constructor
    (in C, ~0.05 us) costs a sixth of a frozen dataclass's. Same fields, positional order, defaults, repr and
    equality; immutable (assigning raises AttributeError). `gc=False`: it holds only str, int and None."""

    event: str
    data: str
    id: str | None = None
    retry: int | None = None

    kind: ClassVar[str] = DATA
    """What the engine reads of a frame (engine/frames.py): every SSE event is data, with no error message."""
    message: ClassVar[str | None] = None

    name = property(operator.attrgetter("event"), doc="The event's name, as the engine reads a frame (`event`).")
    payload = property(operator.attrgetter("data"), doc="The event's data, as the engine reads a frame (`data`).")
    # (properties over C getters: the stream decoders read them once per event, without a Python call)


class SSEParser:
    """Feed it bytes as they arrive; it returns the events completed by each chunk.

    ``ignored_lines`` counts lines that were neither a known field (``data``, ``event``, ``id``, ``retry``)
    nor a ``:`` comment and were dropped (in ``stray_lines_as_data`` mode they are delivered, not counted).
    """

    __slots__ = (
        "_at_start",
        "_buf",
        "_counted",
        "_data",
        "_event",
        "_max",
        "_pending_bytes",
        "_retry",
        "_skip_lf",
        "_stray",
        "ignored_lines",
        "last_event_id",
        "retry",
        "stray_lines_as_data",
    )

    def __init__(self, stray_lines_as_data: bool = False, max_event_bytes: int | None = MAX_EVENT_BYTES) -> None:
        self.stray_lines_as_data = stray_lines_as_data
        self._max = max_event_bytes if max_event_bytes is not None else 1 << 62
        self.ignored_lines = 0
        self.last_event_id: str | None = None
        self.retry: int | None = None
        self._buf = bytearray()  # the unfinished last line
        self._skip_lf = False  # the last chunk ended in CR: an LF opening the next one ends the same line
        self._at_start = True  # a UTF-8 BOM is dropped from the first line only
        self._data: list[str] = []  # the data lines of an event not dispatched yet (between two blocks)
        self._event = ""
        self._retry: int | None = None
        self._stray: list[str] = []
        self._counted = 0  # data lines of the pending event already counted in `_pending_bytes`
        self._pending_bytes = 0

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume ``chunk`` and return the events it completed (possibly none)."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == 0x0A:
                chunk = chunk[1:]
                if not chunk:
                    return []
        buf = self._buf  # holds no CR or LF: it is the unfinished last line
        if buf:
            start = len(buf)
            buf += chunk
            cr = buf.rfind(b"\r", start)
            end = max(buf.rfind(b"\n", start), cr) + 1
            if not end:
                if len(buf) > self._max:
                    self._too_long("a line")
                return []
            block = bytes(buf[:end])
            del buf[:end]
        else:
            cr = chunk.rfind(b"\r")
            end = max(chunk.rfind(b"\n"), cr) + 1
            if not end:
                buf += chunk
                if len(buf) > self._max:
                    self._too_long("a line")
                return []
            if end == len(chunk):
                block = bytes(chunk)
            else:
                block = bytes(chunk[:end])
                buf += chunk[end:]
                if len(buf) > self._max:
                    self._too_long("a line")
        if cr < 0:
            return self._lines(block, False)
        if not buf and cr == end - 1:
            self._skip_lf = True
        return self._lines(block, True)

    def close(self) -> list[SSEEvent]:
        """End of stream: parse a last line without a line end and deliver a last event without a blank line.

        Then the parser is ready for a new stream; it keeps ``ignored_lines``, ``last_event_id``, ``retry``.
        """
        block = bytes(self._buf) + b"\n\n" if self._buf else b"\n"  # the blank line dispatches
        self._buf.clear()
        out = self._lines(block, False)
        self._skip_lf = False
        self._at_start = True
        return out

    def _lines(self, block: bytes, has_cr: bool) -> list[SSEEvent]:
        """Process ``block``, a run of complete lines (it ends with a line end)."""
        if self._at_start:
            self._at_start = False
            if block.startswith(_BOM):
                block = block[3:]
        if len(block) > self._max:  # (never with network-sized reads and the default bound)
            self._check_block(block.splitlines() if has_cr else block.split(b"\n"))
        # The lines are decoded before they are read (a line end is ASCII: no character spans two lines, so this
        # is what decoding each value gives): a block of LF lines at once, then split as text (no decode call per
        # field); one with CRs split by `bytes.splitlines` (it breaks at CR, LF and CRLF only, in one C pass;
        # `str.splitlines` breaks at more, and splitting text at CRLF is slower), then each line decoded.
        if has_cr:
            lines = [line.decode("utf-8", "replace") for line in block.splitlines()]
        else:
            lines = block.decode("utf-8", "replace").split("\n")
            lines.pop()  # the empty tail after the final line end
        out: list[SSEEvent] = []
        data = self._data  # the event's data lines after the first (in the block), or all of them (between blocks)
        one = data.pop(0) if data else None  # its first: most events have one line, dispatched without the list
        event = self._event
        retry = self._retry
        last_id = self.last_event_id
        stray = self._stray
        for line in lines:
            if not line:  # blank line: dispatch
                if stray:
                    self._flush_stray(out)
                if one is not None:
                    if data:
                        one = "\n".join([one, *data])
                        data.clear()
                    out.append(SSEEvent(event or "message", one, last_id, retry))
                    one = None
                    event = ""
                elif event:
                    out.append(SSEEvent(event, "", last_id, retry))
                    event = ""
                retry = None
                continue
            if line[:6] == "data: ":  # the hot path: one slice to test, one to keep
                if one is None:
                    one = line[6:]
                else:
                    data.append(line[6:])
                continue
            if line[:7] == "event: ":  # the other common line
                event = line[7:]
                continue
            name, _, value = line.partition(":")
            if not name:  # ":" comment
                continue
            if value[:1] == " ":
                value = value[1:]
            if name == "data":
                if one is None:
                    one = value
                else:
                    data.append(value)
            elif name == "event":
                event = value
            elif name == "id":
                if "\0" not in value:
                    last_id = value
            elif name == "retry":
                if value.isascii() and value.isdigit() and len(value) <= 10:  # (int() refuses 4,300+ digits)
                    retry = self.retry = int(value)
            elif self.stray_lines_as_data:
                stray.append(line)
            else:
                self.ignored_lines += 1
        if one is not None:
            data.insert(0, one)
            # The event goes on past this block: count what it holds (lines counted in an earlier block are
            # skipped, unless an event was dispatched here, in which case this one started here).
            counted = 0 if out else self._counted
            self._pending_bytes = (0 if out else self._pending_bytes) + sum(map(_utf8_length, data[counted:]))
            self._counted = len(data)
            if self._pending_bytes > self._max:
                self._too_long("an event's data")
        elif self._counted:
            self._counted = self._pending_bytes = 0
        if stray and sum(map(_utf8_length, stray)) > self._max:
            self._too_long("an event's lines")
        self._event = event
        self._retry = retry
        self.last_event_id = last_id
        return out

    def _check_block(self, lines: list[bytes]) -> None:
        """The bounds within one block larger than the bound itself: no line, and no event's data lines
        (with what the event held before this block), past it."""
        held = self._pending_bytes
        for line in lines:
            if len(line) > self._max:
                self._too_long("a line")
            if not line:
                held = 0
            elif line[:5] == b"data:" or line == b"data":
                held += len(line) - (6 if line[5:6] == b" " else min(len(line), 5))  # the value's length
                if held > self._max:
                    self._too_long("an event's data")

    def _too_long(self, what: str) -> None:
        self._buf.clear()
        self._data.clear()
        self._stray.clear()
        raise StreamError(f"SSE stream: {what} is over {self._max} bytes (Limits.max_event_bytes)")

    def _flush_stray(self, out: list[SSEEvent]) -> None:
        """Deliver the block's stray lines as one event with ``event=""`` (before the block's own event)."""
        out.append(SSEEvent("", "\n".join(self._stray)))
        self._stray.clear()


def _utf8_length(text: str) -> int:
    """The length in bytes of a decoded value (what the bounds count)."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))
