"""Server-sent events (WHATWG "text/event-stream") as a push parser: bytes in, events out, no I/O.

Why not aiohttp's line iterator or ``str.splitlines``: lines end at CR, LF or CRLF *only*. U+2028 and U+2029
are legal inside JSON and must stay inside ``data``, and a CRLF may be split across two network reads.
The parser keeps a ``bytearray`` of the unfinished last line and decodes each run of complete lines as UTF-8
(``errors="replace"``, so it never raises on bad input) at once, then splits it in C into events where a blank
line is followed by a data line (or, in blocks of events named by ``event:`` lines, by an event line), a
one-line ``data:`` event (or an event line and a data line) made whole from its piece (pieces holding anything
else are split at CR, LF and CRLF and read line by line).

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

With ``plain_data=True`` (the runtime's framer, runtime/provider_stream.py) the parser returns frames as the
engine reads them (engine/frames.py): an event named ``message`` (no ``event:`` field, or ``event: message``) as its
data, a ``str`` (no object made per event, nor read back), any other event as a ``Frame`` (its name and data; the
decoders read a Frame's fields directly, an `SSEEvent`'s through properties). Without it, every event is an
:class:`SSEEvent`.
"""

from __future__ import annotations

import operator
from typing import ClassVar

import msgspec

from vllora_llm.engine.errors import StreamError
from vllora_llm.engine.frames import DATA, MESSAGE, Frame

__all__ = ["SSEEvent", "SSEParser"]

_BOM = b"\xef\xbb\xbf"
CUTS = ("\n\ndata: ", "\r\n\r\ndata: ")
"""Where a block is cut into events (`SSEParser._events`), by whether it holds CRs: a blank line, then a data
line ("\r\n\r\n" and "\n\n" are always two line ends, whatever precedes them; a block holding no CR has no CRLF)."""
NAMED_CUTS = ("\n\nevent: ", "\r\n\r\nevent: ")
"""Where a block of named events is cut (`SSEParser._events`): a blank line, then an event line."""
PROBE = 4096
"""A block is cut into events when a cut comes within its first `PROBE` characters."""
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
        "plain_data",
        "retry",
        "stray_lines_as_data",
    )

    def __init__(self, stray_lines_as_data: bool = False, max_event_bytes: int | None = MAX_EVENT_BYTES,
                 plain_data: bool = False) -> None:
        self.stray_lines_as_data = stray_lines_as_data
        self.plain_data = plain_data
        """An event named ``message`` comes as its data (a str), not an `SSEEvent` (see the module docstring)."""
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

    def feed(self, chunk: bytes) -> list[SSEEvent | Frame | str]:
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
        cr = chunk.rfind(b"\r")
        end = max(chunk.rfind(b"\n"), cr) + 1
        if not end:
            buf += chunk
            if len(buf) > self._max:
                self._too_long("a line")
            return []
        # The block is copied once: the held line and the chunk's complete lines joined (a memoryview slices
        # without a copy); appending the chunk to `buf` and slicing it out copied a read three times.
        whole = end == len(chunk)
        if buf:
            block = b"".join((buf, chunk if whole else memoryview(chunk)[:end]))
            buf.clear()
        else:
            block = bytes(chunk if whole else chunk[:end])
        if not whole:
            buf += memoryview(chunk)[end:]
            if len(buf) > self._max:
                self._too_long("a line")
        if cr < 0:
            return self._lines(block, False)
        if not buf and cr == end - 1:
            self._skip_lf = True
        return self._lines(block, True)

    def close(self) -> list[SSEEvent | Frame | str]:
        """End of stream: parse a last line without a line end and deliver a last event without a blank line.

        Then the parser is ready for a new stream; it keeps ``ignored_lines``, ``last_event_id``, ``retry``.
        """
        block = bytes(self._buf) + b"\n\n" if self._buf else b"\n"  # the blank line dispatches
        self._buf.clear()
        out = self._lines(block, False)
        self._skip_lf = False
        self._at_start = True
        return out

    def _lines(self, block: bytes, has_cr: bool) -> list[SSEEvent | Frame | str]:
        """Process ``block``, a run of complete lines (it ends with a line end)."""
        if self._at_start:
            self._at_start = False
            if block.startswith(_BOM):
                block = block[3:]
        if len(block) > self._max:  # (never with network-sized reads and the default bound)
            self._check_block(block.splitlines() if has_cr else block.split(b"\n"))
        # The lines are decoded before they are read (a line end is ASCII: no character spans two lines, so this
        # is what decoding each value gives), the whole block at once, then cut into events (`_events`).
        return self._events(block.decode("utf-8", "replace"), has_cr)

    def _events(self, text: str, has_cr: bool) -> list[SSEEvent | Frame | str]:
        """The events of `text`, complete lines (`has_cr`: holding CRs), cut where a blank line is followed by a
        data line (`CUTS`: two line ends, whatever precedes them, then "data: "), or, in a block with no such cut
        in its first `PROBE` characters, by an event line (`NAMED_CUTS`: events named by `event:` lines). A piece
        between two data cuts that holds no CR or LF is the value of one whole data line, followed by a blank
        line: its event, made here, one step per event (no line to split, test and slice; the long cut is also
        found faster than a line end of two characters); as plain data, when no piece holds one (their join
        tested once), the pieces are the events as they are. A piece between two event cuts is read the same way
        when it is one event line and one data line (`_named`). Any other piece (more lines, a comment, other
        line ends), the text before the first cut and the one after the last go through the line reader, and so
        does a block with no cut in its first `PROBE` characters."""
        cut = CUTS[has_cr]
        out: list[SSEEvent | Frame | str] = []
        if text.find(cut, 0, PROBE) < 0:
            cut = NAMED_CUTS[has_cr]
            if text.find(cut, 0, PROBE) < 0:
                lines = _split_lines(text) if has_cr else text.split("\n")
                lines.pop()  # the empty tail after the final line end
                self._run(lines, out)
                return out
        field = cut.lstrip("\r\n")  # the field the cut ends with: "data: " or "event: "
        pieces = text.split(cut)
        tail = pieces.pop()
        lines = _split_lines(pieces[0])  # (its last line is ended by the cut's first line end)
        lines.append("")  # the blank line
        self._run(lines, out)
        del pieces[0]
        if field == "event: ":
            self._named(pieces, has_cr, out)
        else:
            self._unnamed(pieces, has_cr, out)
        lines = _split_lines(field + tail)
        lines.pop()
        self._run(lines, out)
        return out

    def _unnamed(self, pieces: list[str], has_cr: bool, out: list[SSEEvent | Frame | str]) -> None:
        """The events of the pieces between data cuts (`_events`)."""
        last_id = self.last_event_id
        if self.plain_data:  # (pieces usually all hold one data line: tested at once, in C, over their join)
            joined = "".join(pieces)
            if "\n" not in joined and not (has_cr and "\r" in joined):
                out += pieces
                return
        for piece in pieces:  # (the blank line before each one dispatched whatever was pending)
            if "\n" in piece or (has_cr and "\r" in piece):
                lines = _split_lines("data: " + piece)
                lines.append("")
                self._run(lines, out)
                last_id = self.last_event_id
            else:
                out.append(piece if self.plain_data else SSEEvent(MESSAGE, piece, last_id))

    def _named(self, pieces: list[str], has_cr: bool, out: list[SSEEvent | Frame | str]) -> None:
        """The events of the pieces between event cuts (`_events`): a piece that is the rest of an event line,
        a line end and a data line (its name, then its data: no other CR or LF) is made here; any other goes
        through the line reader."""
        data_line = "\r\ndata: " if has_cr else "\ndata: "
        plain = self.plain_data
        for piece in pieces:  # (the blank line before each one dispatched whatever was pending)
            name, found, data = piece.partition(data_line)
            if not found or "\n" in name or "\n" in data or (has_cr and ("\r" in name or "\r" in data)):
                lines = _split_lines("event: " + piece)
                lines.append("")
                self._run(lines, out)
            elif plain:
                out.append(data if not name or name == MESSAGE else Frame(name, data))
            else:
                out.append(SSEEvent(name or MESSAGE, data, self.last_event_id))

    def _run(self, lines: list[str], out: list[SSEEvent | Frame | str]) -> None:
        """Read `lines` (decoded, without their line ends), appending the events they dispatch to `out`; an
        event not dispatched yet is kept on the parser."""
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
                    if not self.plain_data:
                        out.append(SSEEvent(event or MESSAGE, one, last_id, retry))
                    else:
                        out.append(one if not event or event == MESSAGE else Frame(event, one))
                    one = None
                    event = ""
                elif event:
                    if not self.plain_data:
                        out.append(SSEEvent(event, "", last_id, retry))
                    else:
                        out.append("" if event == MESSAGE else Frame(event, ""))
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

    def _flush_stray(self, out: list[SSEEvent | Frame | str]) -> None:
        """Deliver the block's stray lines as one event with ``event=""`` (before the block's own event)."""
        data = "\n".join(self._stray)
        out.append(Frame("", data) if self.plain_data else SSEEvent("", data))
        self._stray.clear()


def _split_lines(text: str) -> list[str]:
    """`text` cut at CR, LF and CRLF only (`str.splitlines` breaks at more); the piece after the last line end
    too (empty when `text` ends with one)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def _utf8_length(text: str) -> int:
    """The length in bytes of a decoded value (what the bounds count)."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))
