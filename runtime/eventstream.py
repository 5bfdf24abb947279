"""AWS event-stream (``application/vnd.amazon.eventstream``) frames as a push parser: bytes in, messages out.

Each frame is checked before anything is read from it, so a corrupted or truncated body fails loudly with
:class:`StreamError` (which check, at which byte offset) instead of yielding garbage. Frame layout::

    total length u32 | headers length u32 | prelude CRC32 | headers | payload | message CRC32
    `------------- prelude (12 bytes) ----------------'                        (CRC of all bytes before it)

Header values decode as botocore's ``EventStreamBuffer`` does: bool, int8/16/32/64, bytes, str, timestamp
(int milliseconds) and uuid (16 raw bytes). :func:`encode_message` writes string-header frames, for tests
and local servers.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Callable
from typing import Any

import msgspec

from vllora_llm.engine.errors import StreamError
from vllora_llm.engine.frames import DATA, ERROR, EXCEPTION, Frame

__all__ = [
    "MAX_HEADERS_LENGTH",
    "MAX_PAYLOAD_LENGTH",
    "EventStreamFramer",
    "EventStreamMessage",
    "EventStreamParser",
    "encode_message",
    "frame_of",
]

MAX_HEADERS_LENGTH = 128 * 1024
MAX_PAYLOAD_LENGTH = 24 * 1024 * 1024
_PRELUDE_LENGTH = 12
_MIN_LENGTH = 16  # a prelude and a message CRC, nothing else
_MAX_TOTAL = _MIN_LENGTH + MAX_HEADERS_LENGTH + MAX_PAYLOAD_LENGTH
_MAX_BODY = _MIN_LENGTH + MAX_PAYLOAD_LENGTH  # a frame's total length less its headers' at most

_PRELUDE = struct.Struct(">III")
_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")
_U32_AT_4 = struct.Struct(">4xI")  # the headers length, read from the start of a frame
# header type code -> struct of the fixed-size integer types; 8 is a timestamp (ms since the epoch)
_FIXED: dict[int, struct.Struct] = {
    2: struct.Struct(">b"),
    3: struct.Struct(">h"),
    4: struct.Struct(">i"),
    5: struct.Struct(">q"),
    8: struct.Struct(">q"),
}
_TYPE_BYTES = 6
_TYPE_STRING = 7
_TYPE_UUID = 9


class EventStreamMessage(msgspec.Struct, frozen=True):
    """One checked frame: its decoded headers and its raw payload.

    A frozen msgspec Struct rather than a frozen dataclass: one is made per frame, and its constructor (in C)
    costs a fraction of a frozen dataclass's. Same fields, positional order, repr and equality; immutable."""

    headers: dict[str, object]
    payload: bytes


_KINDS = {"event": DATA, "exception": EXCEPTION, "error": ERROR}


def _naming(headers: dict[str, object], header: str | None) -> tuple[str, str, str | None]:
    """(name, kind, error message) of a message with these headers (see `frame_of`)."""
    kind = _KINDS.get(str(headers.get(":message-type", "event")), DATA)
    if kind == DATA and header is not None:
        name = headers.get(header, "")
    else:
        name = headers.get(":event-type") or headers.get(":exception-type") or headers.get(":error-code") or ""
    error = headers.get(":error-message") if kind == ERROR else None
    return name if type(name) is str else str(name), kind, None if error is None else str(error)


def frame_of(message: EventStreamMessage, header: str | None = None) -> Frame:
    """The engine's frame of a message (engine/frames.py): an `event` message is data named by its `header`
    (the one the spec names; None: `:event-type`); an `exception` message is named by its `:exception-type`,
    an `error` message by its `:error-code`, with its `:error-message`. Another message type (none is defined)
    is read as data, as it always was."""
    name, kind, error = _naming(message.headers, header)
    return Frame(name, message.payload, kind, error)


class _EventFrame(msgspec.Struct, frozen=True, gc=False):
    """A frame as the framer makes it: `Frame`'s attributes, in an order that lets one constructor prepared per
    header block (its name, kind and message bound: `functools.partial`, in C) make each frame from its
    payload, with no Python call per frame."""

    name: str
    kind: str
    message: str | None
    payload: bytes


class EventStreamFramer:
    """A stream's framer: the parser's messages as the engine's frames (what `frame_of` gives, named by
    `header`), each header block's naming worked out once, when the parser first sees the block."""

    __slots__ = ("_parser", "header")

    def __init__(self, header: str | None = None, max_frame_bytes: int | None = None) -> None:
        self.header = header
        self._parser = EventStreamParser(max_frame_bytes=max_frame_bytes, prepare=self._maker)

    def _maker(self, headers: dict[str, object]) -> Callable[[bytes], Any]:
        name, kind, error = _naming(headers, self.header)
        return functools.partial(_EventFrame, name, kind, error)

    def feed(self, data: bytes) -> list[Any]:
        return self._parser.feed(data)

    def close(self) -> list[Any]:
        return self._parser.close()


def _own_message(headers: dict[str, object], payload: bytes) -> EventStreamMessage:
    return EventStreamMessage(dict(headers), payload)  # a dict of its own per message


class EventStreamParser:
    """Feed it bytes as they arrive; it returns the frames completed by each chunk.

    A bad frame raises :class:`StreamError` at once, or, when good messages came before it in the same
    chunk, those are returned first and the error is raised by the next :meth:`feed` or :meth:`close`.
    The parser is unusable after an error.
    """

    __slots__ = ("_block", "_buf", "_error", "_frame_length", "_known_headers", "_make", "_max_total", "_offset",
                 "_prepare")

    def __init__(
        self, message: Callable[[dict[str, object], bytes], Any] = _own_message, max_frame_bytes: int | None = None,
        prepare: Callable[[dict[str, object]], Callable[[bytes], Any]] | None = None,
    ) -> None:
        """`max_frame_bytes` bounds a whole frame (`Limits.max_event_bytes`) below the format's own maximum.

        What `feed` returns of a message is made of its headers (a block shared between messages, never to be
        changed) and its payload: `message(headers, payload)`, an `EventStreamMessage` with a headers dict of
        its own by default; or, given `prepare`, `prepare(headers)(payload)`, where `prepare` runs once per
        distinct header block (a stream repeats a few)."""
        self._prepare = prepare or (lambda headers: functools.partial(message, headers))
        self._max_total = _MAX_TOTAL if max_frame_bytes is None else min(max_frame_bytes, _MAX_TOTAL)
        self._buf = bytearray()
        self._known_headers: dict[bytes, Callable[[bytes], Any]] = {}  # header block → what makes its messages
        self._offset = 0  # stream offset of _buf[0], for error messages
        self._frame_length = 0  # total length of the frame at _buf[0] once its prelude is read (0: not read)
        self._block = b""  # the header block of the last frame, and what makes its messages
        self._make: Callable[[bytes], Any] | None = None
        self._error: StreamError | None = None

    def feed(self, chunk: bytes) -> list[Any]:
        """Consume ``chunk`` and return the messages it completed (possibly none)."""
        if self._error is not None:
            raise self._error
        buf = self._buf
        out: list[Any] = []
        pos = 0
        size = len(buf) + len(chunk)
        if size < (self._frame_length or _PRELUDE_LENGTH):
            buf += chunk
            return out  # nothing to check yet (a large frame arriving in pieces is not copied per piece)
        known = self._known_headers
        # One copy per read (the bytes held and the chunk joined; none when nothing was held): its slices are
        # the header keys and payloads, and what is left after the last whole frame goes back to `buf`.
        data = b"".join((buf, chunk)) if buf else bytes(chunk)
        # (CRCs over bytes slices: for frames of a few hundred bytes a copy costs less than a memoryview slice;
        # a frame's size is bounded by `max_frame_bytes`)
        unpack, crc32, u32, max_total = _PRELUDE.unpack_from, zlib.crc32, _U32.unpack_from, self._max_total
        block, make = self._block, self._make  # the header block of the frame before, and its maker
        try:
            while size - pos >= _PRELUDE_LENGTH:
                total, headers_length, crc = unpack(data, pos)
                if not (crc32(data[pos : pos + 8]) == crc and _MIN_LENGTH + headers_length <= total <= max_total
                        and headers_length <= MAX_HEADERS_LENGTH and total - headers_length <= _MAX_BODY):
                    self._check_prelude(data, pos)  # raises, saying which check failed
                end = pos + total
                if end > size:
                    self._frame_length = total  # the rest of the frame comes with later chunks
                    break
                # The frame is whole: check its CRC and cut it (what _decode does, inlined for a header block
                # seen before; a new or bad one goes through _decode). A stream sends runs of one header block:
                # it is compared with the one before, and looked up only when it differs (a slice and `!=` cost
                # less than `startswith` at an offset, whose arguments are parsed from a tuple).
                headers = pos + _PRELUDE_LENGTH
                payload = headers + headers_length
                head = data[headers:payload]
                if head != block:
                    block = head
                    make = known.get(block)
                end -= 4
                if make is None or crc32(data[pos:end]) != u32(data, end)[0]:
                    out.append(self._decode(data, pos, total))
                    make = known.get(block)
                else:
                    out.append(make(data[payload:end]))
                pos += total
            else:
                self._frame_length = 0
        except StreamError as exc:
            self._error = exc
            if not out:
                raise
        finally:
            self._block, self._make = block, make
            self._offset += pos
            buf.clear()
            buf += memoryview(data)[pos:]
        return out

    def close(self) -> list[Any]:
        """End of stream: raise :class:`StreamError` if a pending error or a partial frame is left."""
        if self._error is not None:
            raise self._error
        if self._buf:
            need = self._frame_length or _PRELUDE_LENGTH
            raise StreamError(
                f"event-stream ended inside a frame: {len(self._buf)} bytes buffered at byte offset "
                f"{self._offset}, the frame needs {need}"
            )
        return []

    def _check_prelude(self, buf: bytes, pos: int) -> int:
        """Check the prelude at ``pos`` of ``buf`` (CRC first, then lengths) and return the frame's total length."""
        at = self._offset + pos
        total, headers_length, crc = _PRELUDE.unpack_from(buf, pos)
        computed = zlib.crc32(buf[pos : pos + 8])
        if computed != crc:
            raise StreamError(
                f"event-stream prelude checksum mismatch at byte offset {at}: the frame says 0x{crc:08x}, "
                f"its first 8 bytes give 0x{computed:08x}"
            )
        if total < _MIN_LENGTH:
            raise StreamError(
                f"event-stream frame at byte offset {at} has total length {total}, below the minimum of {_MIN_LENGTH}"
            )
        if headers_length > total - _MIN_LENGTH:
            raise StreamError(
                f"event-stream frame at byte offset {at}: headers length {headers_length} does not fit in "
                f"total length {total}"
            )
        if headers_length > MAX_HEADERS_LENGTH:
            raise StreamError(
                f"event-stream frame at byte offset {at}: headers length {headers_length} exceeds the "
                f"maximum of {MAX_HEADERS_LENGTH}"
            )
        payload_length = total - _MIN_LENGTH - headers_length
        if payload_length > MAX_PAYLOAD_LENGTH:
            raise StreamError(
                f"event-stream frame at byte offset {at}: payload length {payload_length} exceeds the "
                f"maximum of {MAX_PAYLOAD_LENGTH}"
            )
        if total > self._max_total:
            raise StreamError(
                f"event-stream frame at byte offset {at}: total length {total} is over {self._max_total} bytes "
                "(Limits.max_event_bytes)"
            )
        return int(total)

    def _decode(self, buf: bytes, pos: int, total: int) -> Any:
        """Check the message CRC of the complete frame at ``pos`` of ``buf`` and decode it."""
        at = self._offset + pos
        end = pos + total - 4
        (crc,) = _U32.unpack_from(buf, end)
        frame = buf[pos:end]  # one copy of the frame; cheaper than a memoryview for frames this small
        computed = zlib.crc32(frame)
        headers_end = _PRELUDE_LENGTH + _U32.unpack_from(frame, 4)[0]
        header_bytes = bytes(frame[_PRELUDE_LENGTH:headers_end])
        payload = bytes(frame[headers_end:])
        if computed != crc:
            raise StreamError(
                f"event-stream message checksum mismatch in the frame at byte offset {at}: the frame says "
                f"0x{crc:08x}, its bytes give 0x{computed:08x}"
            )
        make = self._known_headers.get(header_bytes)
        if make is None:
            make = self._prepare(_decode_headers(header_bytes, at + _PRELUDE_LENGTH))
            if len(self._known_headers) < 64:
                self._known_headers[header_bytes] = make
        return make(payload)


def _decode_headers(data: bytes, at: int) -> dict[str, object]:
    """Decode a frame's header block; ``at`` is its stream offset, for error messages."""
    headers: dict[str, object] = {}
    i = 0
    n = len(data)
    while i < n:
        start = i
        name_end = i + 1 + data[i]
        if name_end + 1 > n:
            raise _header_error("is truncated", at + start)
        name = _utf8(data[i + 1 : name_end], "name", at + start)
        kind = data[name_end]
        i = name_end + 1
        value: object
        if kind == 0:
            value = True
        elif kind == 1:
            value = False
        elif kind in _FIXED:
            fmt = _FIXED[kind]
            if i + fmt.size > n:
                raise _header_error(f"{name!r} is truncated", at + start)
            (value,) = fmt.unpack_from(data, i)
            i += fmt.size
        elif kind in (_TYPE_BYTES, _TYPE_STRING):
            if i + 2 > n:
                raise _header_error(f"{name!r} is truncated", at + start)
            (length,) = _U16.unpack_from(data, i)
            i += 2
            if i + length > n:
                raise _header_error(f"{name!r} is truncated", at + start)
            raw = data[i : i + length]
            value = raw if kind == _TYPE_BYTES else _utf8(raw, f"{name!r} value", at + start)
            i += length
        elif kind == _TYPE_UUID:
            if i + 16 > n:
                raise _header_error(f"{name!r} is truncated", at + start)
            value = data[i : i + 16]
            i += 16
        else:
            raise _header_error(f"{name!r} has unknown value type {kind} (known: 0..9)", at + start)
        if name in headers:
            raise _header_error(f"{name!r} appears twice", at + start)
        headers[name] = value
    return headers


def _utf8(raw: bytes, what: str, at: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _header_error(f"{what} is not valid UTF-8", at) from None


def _header_error(problem: str, at: int) -> StreamError:
    return StreamError(f"event-stream header at byte offset {at} {problem}")


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """Encode one frame with string headers (type 7) and correct CRCs."""
    parts: list[bytes] = []
    for name, value in headers.items():
        raw_name = name.encode("utf-8")
        raw_value = value.encode("utf-8")
        if not 0 < len(raw_name) <= 255:
            raise ValueError(f"event-stream header name {name!r} must be 1..255 UTF-8 bytes")
        if len(raw_value) > 0xFFFF:
            raise ValueError(f"event-stream header {name!r}: value longer than 65535 UTF-8 bytes")
        parts += (bytes((len(raw_name), *raw_name, _TYPE_STRING)), _U16.pack(len(raw_value)), raw_value)
    header_block = b"".join(parts)
    if len(header_block) > MAX_HEADERS_LENGTH:
        raise ValueError(f"event-stream headers take {len(header_block)} bytes, over {MAX_HEADERS_LENGTH}")
    if len(payload) > MAX_PAYLOAD_LENGTH:
        raise ValueError(f"event-stream payload of {len(payload)} bytes is over {MAX_PAYLOAD_LENGTH}")
    lengths = struct.pack(">II", _MIN_LENGTH + len(header_block) + len(payload), len(header_block))
    body = b"".join((lengths, _U32.pack(zlib.crc32(lengths)), header_block, payload))
    return body + _U32.pack(zlib.crc32(body))
