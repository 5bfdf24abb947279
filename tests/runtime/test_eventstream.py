"""EventStreamParser: the shared aws-sdk-go vectors, real recordings against botocore, and properties."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from pathlib import Path

import pytest
from botocore.eventstream import EventStreamBuffer
from hypothesis import given, settings
from hypothesis import strategies as st

from vllora_llm.engine.errors import StreamError
from vllora_llm.runtime.eventstream import (
    MAX_HEADERS_LENGTH,
    MAX_PAYLOAD_LENGTH,
    EventStreamMessage,
    EventStreamParser,
    encode_message,
)

CONFORMANCE = Path(__file__).resolve().parents[1] / "recordings"
VECTORS = CONFORMANCE / "eventstream" / "aws-sdk-go"
POSITIVE = sorted((VECTORS / "encoded" / "positive").iterdir())
NEGATIVE = sorted((VECTORS / "encoded" / "negative").iterdir())
RECORDINGS = sorted((CONFORMANCE / "bedrock").glob("*.eventstream"))


def parse(chunks: list[bytes] | bytes) -> list[EventStreamMessage]:
    parser = EventStreamParser()
    messages: list[EventStreamMessage] = []
    for chunk in [chunks] if isinstance(chunks, bytes) else chunks:
        messages += parser.feed(chunk)
    return messages + parser.close()


def botocore_messages(raw: bytes) -> list[tuple[dict[str, object], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    return [(m.headers, m.payload) for m in buffer]


def frame(header_block: bytes, payload: bytes = b"", *, total: int | None = None) -> bytes:
    """A frame with correct CRCs around raw header bytes (``total`` overrides the length field)."""
    length = 16 + len(header_block) + len(payload) if total is None else total
    lengths = struct.pack(">II", length, len(header_block))
    body = lengths + struct.pack(">I", zlib.crc32(lengths)) + header_block + payload
    return body + struct.pack(">I", zlib.crc32(body))


def prelude(total: int, headers_length: int) -> bytes:
    lengths = struct.pack(">II", total, headers_length)
    return lengths + struct.pack(">I", zlib.crc32(lengths))


# --- the shared test vectors ----------------------------------------------------------------------------


def expected_value(header: dict[str, object]) -> object:
    value = header["value"]
    if header["type"] in (6, 9):
        return base64.b64decode(str(value))
    if header["type"] == 7:
        return base64.b64decode(str(value)).decode()
    return value


@pytest.mark.parametrize("path", POSITIVE, ids=[p.name for p in POSITIVE])
def test_positive_vector(path: Path) -> None:
    raw = path.read_bytes()
    expected = json.loads((VECTORS / "decoded" / "positive" / path.name).read_text())
    assert len(raw) == expected["total_length"]
    assert struct.unpack(">I", raw[4:8])[0] == expected["headers_length"]
    assert parse(raw) == [
        EventStreamMessage(
            {h["name"]: expected_value(h) for h in expected["headers"]},
            base64.b64decode(expected["payload"]),
        )
    ]
    assert [(m.headers, m.payload) for m in parse(raw)] == botocore_messages(raw)
    if all(h["type"] == 7 for h in expected["headers"]):  # encode_message writes string headers only
        headers = {h["name"]: str(expected_value(h)) for h in expected["headers"]}
        assert encode_message(headers, base64.b64decode(expected["payload"])) == raw


@pytest.mark.parametrize("path", NEGATIVE, ids=[p.name for p in NEGATIVE])
def test_negative_vector(path: Path) -> None:
    expected = (VECTORS / "decoded" / "negative" / path.name).read_text().strip()
    with pytest.raises(StreamError, match=f"(?i){expected}.* byte offset 0:"):
        parse(path.read_bytes())
    with pytest.raises(StreamError, match=f"(?i){expected}"):
        parse([path.read_bytes()[i : i + 1] for i in range(len(path.read_bytes()))])


# --- real recordings, against botocore ------------------------------------------------------------------


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.name for p in RECORDINGS])
def test_recording_matches_botocore(path: Path) -> None:
    raw = path.read_bytes()
    messages = parse(raw)
    assert len(messages) > 3
    assert [(m.headers, m.payload) for m in messages] == botocore_messages(raw)
    assert parse([raw[i : i + 1] for i in range(len(raw))]) == messages
    for message in messages:
        assert message.headers[":message-type"] == "event"
        assert message.headers[":content-type"] == "application/json"
        json.loads(message.payload)


def test_flipped_payload_byte_names_the_message_crc_and_keeps_earlier_messages() -> None:
    raw = RECORDINGS[0].read_bytes()
    good = parse(raw)
    offsets = [0]
    for _ in good:
        offsets.append(offsets[-1] + struct.unpack(">I", raw[offsets[-1] : offsets[-1] + 4])[0])
    third = offsets[2]
    headers_length = struct.unpack(">I", raw[third + 4 : third + 8])[0]
    at = third + 12 + headers_length + 1  # a payload byte of the third frame
    broken = raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1 :]
    parser = EventStreamParser()
    assert parser.feed(broken) == good[:2]  # what came before the bad frame is delivered first
    with pytest.raises(StreamError, match=f"message checksum mismatch in the frame at byte offset {third}:"):
        parser.feed(b"")
    with pytest.raises(StreamError, match="message checksum mismatch"):
        parser.close()


def test_flipped_prelude_byte_names_the_prelude_crc() -> None:
    raw = RECORDINGS[0].read_bytes()
    second = struct.unpack(">I", raw[:4])[0]
    broken = raw[: second + 5] + bytes([raw[second + 5] ^ 0x80]) + raw[second + 6 :]
    parser = EventStreamParser()
    assert len(parser.feed(broken[: second + 12])) == 1
    with pytest.raises(StreamError, match=f"prelude checksum mismatch at byte offset {second}:"):
        parser.feed(broken[second + 12 :])


# --- bad frames, each with correct CRCs so the later checks are reached ---------------------------------

STRING_HEADER = b"\x01a\x07\x00\x01b"
BAD_FRAMES = [
    ("total-below-16", prelude(15, 0) + b"\x00" * 8, "total length 15, below the minimum of 16"),
    ("headers-do-not-fit", prelude(20, 5) + b"\x00" * 8, "headers length 5 does not fit in total length 20"),
    (
        "headers-over-limit",
        prelude(MAX_HEADERS_LENGTH + 17, MAX_HEADERS_LENGTH + 1),
        f"headers length {MAX_HEADERS_LENGTH + 1} exceeds the maximum",
    ),
    (
        "payload-over-limit",
        prelude(MAX_PAYLOAD_LENGTH + 17, 0),
        f"payload length {MAX_PAYLOAD_LENGTH + 1} exceeds",
    ),
    ("unknown-header-type", frame(b"\x01a\x0a"), "header at byte offset 12 'a' has unknown value type 10"),
    ("truncated-header-name", frame(b"\x05ab"), "header at byte offset 12 is truncated"),
    ("truncated-int-value", frame(b"\x01a\x04\x00\x00"), "'a' is truncated"),
    ("truncated-string-value", frame(b"\x01a\x07\x00\x09abc"), "'a' is truncated"),
    ("truncated-uuid", frame(b"\x01a\x09" + b"\x00" * 15), "'a' is truncated"),
    ("duplicate-header", frame(STRING_HEADER + STRING_HEADER), "header at byte offset 18 'a' appears twice"),
    ("invalid-utf8-name", frame(b"\x01\xff\x00"), "name is not valid UTF-8"),
    ("invalid-utf8-value", frame(b"\x01a\x07\x00\x01\xff"), "'a' value is not valid UTF-8"),
]


@pytest.mark.parametrize(("raw", "message"), [c[1:] for c in BAD_FRAMES], ids=[c[0] for c in BAD_FRAMES])
def test_bad_frame(raw: bytes, message: str) -> None:
    with pytest.raises(StreamError, match=f"^event-stream .*{message}"):
        EventStreamParser().feed(raw)


def test_truncated_stream_raises_at_close() -> None:
    raw = RECORDINGS[0].read_bytes()
    parser = EventStreamParser()
    messages = parser.feed(raw[:-5])
    assert messages == parse(raw)[:-1]
    with pytest.raises(StreamError, match="ended inside a frame"):
        parser.close()
    short = EventStreamParser()
    short.feed(b"abc")
    with pytest.raises(StreamError, match="3 bytes buffered at byte offset 0, the frame needs 12"):
        short.close()


def test_all_header_types_decode() -> None:
    block = (
        b"\x01t\x00"
        + b"\x01f\x01"
        + b"\x01b\x02\xff"
        + b"\x01s\x03\x80\x00"
        + b"\x01i\x04\x7f\xff\xff\xff"
        + b"\x01l\x05\x80"
        + b"\x00" * 7
        + b"\x01y\x06\x00\x02\x00\xff"
        + b"\x01S\x07\x00\x02\xc3\xa9"
        + b"\x01T\x08"
        + struct.pack(">q", 1_700_000_000_000)
        + b"\x01u\x09"
        + bytes(range(16))
    )
    raw = frame(block, b"payload")
    (message,) = parse(raw)
    assert message.headers == {
        "t": True,
        "f": False,
        "b": -1,
        "s": -32768,
        "i": 2**31 - 1,
        "l": -(2**63),
        "y": b"\x00\xff",
        "S": "é",
        "T": 1_700_000_000_000,
        "u": bytes(range(16)),
    }
    assert [(message.headers, message.payload)] == botocore_messages(raw)


# --- encode_message -------------------------------------------------------------------------------------

HEADER_NAMES = st.text(min_size=1, max_size=20).filter(lambda s: len(s.encode()) <= 255)


@settings(max_examples=100, deadline=None)
@given(
    headers=st.dictionaries(HEADER_NAMES, st.text(max_size=50), max_size=6), payload=st.binary(max_size=200)
)
def test_encode_message_round_trips(headers: dict[str, str], payload: bytes) -> None:
    raw = encode_message(headers, payload)
    assert parse(raw) == [EventStreamMessage(dict(headers), payload)]
    assert botocore_messages(raw) == [(headers, payload)]


@pytest.mark.parametrize(
    ("headers", "payload"),
    [
        ({"": "x"}, b""),
        ({"n" * 256: "x"}, b""),
        ({"n": "v" * 65536}, b""),
        ({f"{i:03}": "v" * 60000 for i in range(3)}, b""),
        ({}, b"\x00" * (MAX_PAYLOAD_LENGTH + 1)),
    ],
    ids=["empty-name", "long-name", "long-value", "headers-over-limit", "payload-over-limit"],
)
def test_encode_message_rejects(headers: dict[str, str], payload: bytes) -> None:
    with pytest.raises(ValueError, match="event-stream"):
        encode_message(headers, payload)


# --- properties -----------------------------------------------------------------------------------------


def split(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(raw) + 1) for c in cuts})
    return [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]


@settings(max_examples=100, deadline=None)
@given(path=st.sampled_from(RECORDINGS), cuts=st.lists(st.integers(min_value=0), max_size=40))
def test_any_split_of_a_recording_gives_the_same_messages(path: Path, cuts: list[int]) -> None:
    raw = path.read_bytes()
    assert parse(split(raw, cuts)) == parse(raw)


@settings(max_examples=100, deadline=None)
@given(
    prefix=st.sampled_from([b"", RECORDINGS[0].read_bytes()[:200], encode_message({"a": "b"}, b"{}")]),
    garbage=st.binary(max_size=300),
    cuts=st.lists(st.integers(min_value=0), max_size=10),
)
def test_arbitrary_bytes_raise_only_stream_error(prefix: bytes, garbage: bytes, cuts: list[int]) -> None:
    parser = EventStreamParser()
    try:
        for chunk in split(prefix + garbage, cuts):
            parser.feed(chunk)
        parser.close()
    except StreamError:
        pass


@settings(max_examples=100, deadline=None)
@given(
    headers=st.dictionaries(HEADER_NAMES, st.text(max_size=20), max_size=3),
    payload=st.binary(max_size=100),
    data=st.data(),
)
def test_any_flipped_bit_is_caught(headers: dict[str, str], payload: bytes, data: st.DataObject) -> None:
    raw = bytearray(encode_message(headers, payload))
    at = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    raw[at] ^= 1 << data.draw(st.integers(min_value=0, max_value=7))
    with pytest.raises(StreamError, match=r"(prelude|message) checksum mismatch"):
        parse(bytes(raw))
