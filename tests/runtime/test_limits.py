"""The pieces behind `Limits`, as tables: the JSON depth check against a slow oracle, the body decoder's bounded
pieces, the SSE parser's line and event bounds across any split, the event-stream frame bound, and the
redirect error's Location (the whole attacks run in tests/reliability/test_hostile_server.py)."""

from __future__ import annotations

import gzip
import json
import struct
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllora_llm.client import Limits, Timeouts
from vllora_llm.engine.errors import ProviderError, StreamError
from vllora_llm.runtime.eventstream import EventStreamParser, encode_message
from vllora_llm.runtime.limits import PIECE, body_decoder, json_too_deep, opening_brackets
from vllora_llm.runtime.sse import SSEParser


def depth(value: Any) -> int:
    """The oracle: nesting of arrays and objects, the slow obvious way."""
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


TRICKY = ['"[[[[{{{{"', '"\\\\"', '"\\"[["', '"\\\\\\"]]"', '"a\\nb["', '"\\u005b\\u005b"']
json_values = st.recursive(
    st.none() | st.integers() | st.sampled_from(["x", "[", "]{", '"', "\\", "\\[", '\\"{']),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "[", '"}']), inner, max_size=3),
    max_leaves=40,
)


@settings(max_examples=200, deadline=None)
@given(json_values, st.integers(min_value=0, max_value=6))
def test_json_depth_agrees_with_the_oracle(value: Any, limit: int) -> None:
    body = json.dumps(value).encode()
    assert json_too_deep(body, limit) == (depth(value) > limit)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(alphabet="{[]}x", max_size=300).map(str.encode),
       st.integers(min_value=0, max_value=40))
def test_opening_brackets_counts_each_kind_up_to_one_past_the_limit(body: bytes, limit: int) -> None:
    # (counted by what deleting them takes off the length: the guard's first test on every response)
    expected = min(body.count(b"{"), limit + 1) + min(body.count(b"["), limit + 1)
    assert opening_brackets(body, limit) == expected
    assert (opening_brackets(body, limit) > limit) == (body.count(b"{") + body.count(b"[") > limit)


@pytest.mark.parametrize("text", TRICKY)
def test_brackets_and_escapes_inside_strings_do_not_count(text: str) -> None:
    body = ("[" * 3 + text + "]" * 3).encode()
    assert json.loads(body)  # valid JSON, three deep
    assert not json_too_deep(body, 3) and json_too_deep(body, 2)


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", lambda raw: gzip.compress(raw)),
        ("deflate", lambda raw: zlib.compress(raw)),
        ("deflate", lambda raw: (c := zlib.compressobj(wbits=-15)).compress(raw) + c.flush()),  # raw deflate
        ("gzip, gzip", lambda raw: gzip.compress(gzip.compress(raw))),
        ("identity, gzip", lambda raw: gzip.compress(raw)),
    ],
    ids=["gzip", "deflate", "raw-deflate", "gzip-twice", "identity-then-gzip"],
)
def test_bodies_decode_in_bounded_pieces(encoding: str, encode: Any) -> None:
    raw = bytes(range(256)) * 8192 + b"\0" * (4 * PIECE)  # 2 MiB + 1 MiB of zeros
    decoder = body_decoder(encoding)
    assert decoder is not None
    pieces = [decoder.decode(encode(raw))]
    while piece := decoder.more():
        pieces.append(piece)
    assert b"".join(pieces) == raw
    assert max(map(len, pieces)) <= PIECE


@pytest.mark.parametrize(("encoding", "says"), [("br", "unsupported Content-Encoding 'br'"),
                                                ("gzip, gzip, gzip, gzip", "stacks more than 3")])
def test_unknown_or_stacked_encodings_are_refused(encoding: str, says: str) -> None:
    with pytest.raises(ProviderError, match=says):
        body_decoder(encoding)


def test_identity_needs_no_decoder() -> None:
    assert body_decoder(None) is None and body_decoder("identity") is None


# ---- SSE: the bound holds however the bytes are split --------------------------------------------------------

SPLITS = [1, 7, 100, 10_000]


@pytest.mark.parametrize("size", SPLITS)
@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"data: " + b"x" * 2000, "a line is over 1000"),
        (b": comment " + b"x" * 2000 + b"\n", "a line is over 1000"),
        (b"data: 0123456789\n" * 200, "an event's data is over 1000"),
        (b"data: ok\n\n" + b"data: 0123456789\r\n" * 200, "an event's data is over 1000"),
    ],
    ids=["endless-line", "long-comment", "endless-event", "endless-event-crlf"],
)
def test_sse_bounds_hold_across_any_split(raw: bytes, says: str, size: int) -> None:
    parser = SSEParser(max_event_bytes=1000)
    with pytest.raises(StreamError, match=says):
        for i in range(0, len(raw), size):
            parser.feed(raw[i : i + size])
        parser.close()


@pytest.mark.parametrize("size", SPLITS)
def test_events_just_under_the_bound_pass(size: int) -> None:
    raw = (b"data: " + b"y" * 990 + b"\n\n") * 5 + (b"data: 0123456789\n" * 90 + b"\n") * 3
    parser = SSEParser(max_event_bytes=1000)
    events = []
    for i in range(0, len(raw), size):
        events += parser.feed(raw[i : i + size])
    events += parser.close()
    assert len(events) == 8 and events[0].data == "y" * 990


@pytest.mark.parametrize("digits", [11, 5000])
def test_a_retry_too_long_to_be_a_delay_is_ignored(digits: int) -> None:
    parser = SSEParser()
    events = parser.feed(b"retry: " + b"9" * digits + b"\ndata: x\n\n")
    assert [e.retry for e in events] == [None] and parser.retry is None
    assert parser.feed(b"retry: 3000\ndata: y\n\n")[0].retry == 3000


# ---- event-stream frames -----------------------------------------------------------------------------------


def test_event_stream_frames_are_bounded_at_the_prelude() -> None:
    lengths = struct.pack(">II", 5_000_000, 0)
    prelude = lengths + struct.pack(">I", zlib.crc32(lengths))
    with pytest.raises(StreamError, match="total length 5000000 is over 1000 bytes"):
        EventStreamParser(max_frame_bytes=1000).feed(prelude)
    frame = encode_message({":event-type": "x"}, b"p" * 900)
    assert EventStreamParser(max_frame_bytes=1000).feed(frame)[0].payload == b"p" * 900


# ---- defaults and the redirect message -----------------------------------------------------------------------


def test_documented_defaults() -> None:
    assert Limits() == Limits(max_response_bytes=32 << 20, max_error_bytes=1 << 20, max_event_bytes=16 << 20,
                              max_json_depth=128)
    assert Timeouts().idle == 120 and Timeouts(read=5).idle == 5
    assert Timeouts(read=5, stream_idle=60).idle == 60 and Timeouts(stream_idle=None).idle is None
    assert Timeouts().stream_total is None


def test_a_redirect_names_its_status_and_a_cleaned_location() -> None:
    from vllora_llm.client import VlloraLLMClient

    key = "sk-redirect-KEY/+"
    client = VlloraLLMClient.from_provider("anthropic", api_key=key, base_url="http://127.0.0.1:9")
    instance: Any = client.instance
    err = instance.http_error(307, {"location": f"http://user:pw@evil.example/x?k={key}&q=1"}, b"moved")
    assert isinstance(err, ProviderError) and err.status == 307 and not err.retryable
    text = str(err)
    assert "redirect refused" in text and "evil.example/x" in text
    assert key not in text and "pw@" not in text and "[REDACTED]" in text
    assert "no Location" in str(instance.http_error(302, {}, b""))
