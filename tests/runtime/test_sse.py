"""SSEParser: edge cases as a table, real recordings in place, and a differential property test.

The oracle below is the WHATWG algorithm written the obvious, slow way (regex line split, decode each line,
one line at a time, the parser's documented leniencies added). The parser must agree with it on any bytes
and any split of them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllora_llm.engine.frames import Frame
from vllora_llm.runtime.sse import SSEEvent, SSEParser

CONFORMANCE = Path(__file__).resolve().parents[1] / "recordings"
RECORDINGS = sorted(CONFORMANCE.glob("*/*.sse"))
RECORDING_IDS = [f"{p.parent.name}/{p.name}" for p in RECORDINGS]


def parse(chunks: list[bytes] | bytes, **options: bool) -> list[SSEEvent]:
    """Feed ``chunks`` one by one (a bytes object counts as one chunk), then close."""
    parser = SSEParser(**options)
    events: list[SSEEvent] = []
    for chunk in [chunks] if isinstance(chunks, bytes) else chunks:
        events += parser.feed(chunk)
    return events + parser.close()


def one_byte_at_a_time(raw: bytes, **options: bool) -> list[SSEEvent]:
    return parse([raw[i : i + 1] for i in range(len(raw))], **options)


def reference(raw: bytes, stray_lines_as_data: bool = False) -> tuple[list[SSEEvent], int]:
    """The oracle: events and the ignored-line count for the whole stream ``raw``."""
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    lines = re.split(rb"\r\n|\r|\n", raw)
    tail = lines.pop()
    lines += [tail, b""] if tail else [b""]  # close(): the unfinished line, then a dispatching blank line
    events: list[SSEEvent] = []
    ignored = 0
    data: list[str] = []
    stray: list[str] = []
    event = ""
    last_id: str | None = None
    retry: int | None = None
    for raw_line in lines:
        line = raw_line.decode("utf-8", "replace")
        if not line:
            if stray:
                events.append(SSEEvent("", "\n".join(stray)))
            if data or event:
                events.append(SSEEvent(event or "message", "\n".join(data), last_id, retry))
            data, stray, event, retry = [], [], "", None
            continue
        name, colon, value = line.partition(":")
        if colon and not name:
            continue
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            if "\0" not in value:
                last_id = value
        elif name == "retry":
            if re.fullmatch("[0-9]+", value):
                retry = int(value)
        elif stray_lines_as_data:
            stray.append(line)
        else:
            ignored += 1
    return events, ignored


def as_frames(events: list[SSEEvent]) -> list[SSEEvent | Frame | str]:
    """What a `plain_data` parser returns for `events`: an event named `message` as its data, any other as a
    `Frame` of its name and data (the engine's normalised frames, engine/frames.py)."""
    return [event.data if event.event == "message" else Frame(event.event, event.data) for event in events]


def E(data: str, event: str = "message", id: str | None = None, retry: int | None = None) -> SSEEvent:
    return SSEEvent(event, data, id, retry)


LS, PS = "\u2028", "\u2029"

# (case id, chunks fed in order, expected events)
CASES: list[tuple[str, list[bytes], list[SSEEvent]]] = [
    ("lf", [b"data: a\n\ndata: b\n\n"], [E("a"), E("b")]),
    ("crlf", [b"data: a\r\n\r\ndata: b\r\n\r\n"], [E("a"), E("b")]),
    ("cr-only", [b"data: a\r\rdata: b\r\r"], [E("a"), E("b")]),
    ("mixed-endings", [b"data: a\r\ndata: b\rdata: c\n\r\n"], [E("a\nb\nc")]),
    ("crlf-split-across-feeds", [b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"], [E("a\nb")]),
    ("cr-then-empty-feed-then-lf", [b"data: a\r", b"", b"\ndata: b\r\n\r\n"], [E("a\nb")]),
    ("cr-feed-then-lf-feed", [b"data: a\r\n\r", b"\n", b"data: b\n\n"], [E("a"), E("b")]),
    ("lone-lf-feed-after-cr", [b"data: a\r", b"\n", b"\n"], [E("a")]),
    (
        "u2028-u2029-and-nel-inside-json",
        [f'data: {{"t":"x{LS}y{PS}z\u0085w\x0bv\x0cu"}}\n\n'.encode()],
        [E(f'{{"t":"x{LS}y{PS}z\u0085w\x0bv\x0cu"}}')],
    ),
    ("utf8-split-across-feeds", [b"data: \xe2\x80", b"\xa8\xc3", b"\xa9\n\n"], [E(f"{LS}é")]),
    ("invalid-utf8-replaced", [b"data: a\xffb\xe2\x80\n\n"], [E("a\ufffdb\ufffd")]),
    ("comment-lines", [b": hello\n:\ndata: a\n: between\n\n: after\n\n"], [E("a")]),
    ("multi-line-data", [b"data: one\ndata: two\ndata:\ndata: four\n\n"], [E("one\ntwo\n\nfour")]),
    ("data-no-space-and-two-spaces", [b"data:a\ndata:  b\n\n"], [E("a\n b")]),
    ("field-without-colon", [b"data\ndata\n\n"], [E("\n")]),
    ("empty-data-dispatches", [b"data:\n\n"], [E("")]),
    ("blank-lines-alone-dispatch-nothing", [b"\n\n\r\n\r\r\n"], []),
    ("last-event-without-blank-line", [b"data: a\n\ndata: b"], [E("a"), E("b")]),
    ("last-event-line-ended-no-blank", [b"data: a\n"], [E("a")]),
    ("unknown-fields-ignored", [b"foo: bar\ndata: a\nDATA: x\nData: y\n\n"], [E("a")]),
    ("event-type", [b"event: ping\ndata: {}\n\n"], [E("{}", "ping")]),
    ("event-without-data-dispatched", [b"event: ping\n\n"], [E("", "ping")]),
    ("empty-event-field-is-message", [b"event:\ndata: a\n\n"], [E("a")]),
    ("empty-event-field-alone-is-nothing", [b"event:\n\n"], []),
    ("event-type-reset-after-dispatch", [b"event: x\ndata: 1\n\ndata: 2\n\n"], [E("1", "x"), E("2")]),
    ("unknown-event-type", [b"event: future_thing\ndata: {}\n\n"], [E("{}", "future_thing")]),
    (
        "id-persists",
        [b"id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n"],
        [E("a", id="7"), E("b", id="7"), E("c", id="")],
    ),
    ("id-with-nul-ignored", [b"id: 1\n\nid: 2\x003\ndata: a\n\n"], [E("a", id="1")]),
    ("retry", [b"retry: 3000\ndata: a\n\ndata: b\n\n"], [E("a", retry=3000), E("b")]),
    ("retry-not-digits-ignored", [b"retry: 30s\nretry: -1\nretry:\nretry: 1.5\ndata: a\n\n"], [E("a")]),
    ("retry-non-ascii-digits-ignored", ["retry: \u0663\u0660\nretry: \u00b2\ndata: a\n\n".encode()], [E("a")]),
    ("bom-dropped", [b"\xef\xbb\xbfdata: a\n\n"], [E("a")]),
    ("bom-split-across-feeds", [b"\xef", b"\xbb", b"\xbfdata: a\n\n"], [E("a")]),
    ("bom-only-at-start", [b"data: a\n\n\xef\xbb\xbfdata: b\n\n"], [E("a")]),
    ("bom-then-close", [b"\xef\xbb\xbf"], []),
    ("event-named-message", [b"event: message\ndata: a\n\nevent: message\n\nevent: e\n\n"],
     [E("a"), E(""), E("", event="e")]),
]


@pytest.mark.parametrize(("chunks", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_case(chunks: list[bytes], expected: list[SSEEvent]) -> None:
    assert parse(chunks) == expected
    whole = b"".join(chunks)
    assert one_byte_at_a_time(whole) == expected
    assert reference(whole)[0] == expected
    # the runtime's framer: an event named `message` as its data, any other as a Frame (engine/frames.py)
    assert parse(chunks, plain_data=True) == one_byte_at_a_time(whole, plain_data=True) == as_frames(expected)


def test_ignored_lines_are_counted() -> None:
    parser = SSEParser()
    assert parser.feed(b'foo: bar\n{"error": 1}\n: comment\ndata: a\nid: 1\nretry: x\n\n') == [E("a", id="1")]
    assert parser.ignored_lines == 2
    assert parser.last_event_id == "1"


def test_retry_is_kept_on_the_parser() -> None:
    parser = SSEParser()
    parser.feed(b"retry: 10\n\n")
    assert parser.retry == 10


def test_stray_lines_as_data() -> None:
    stream = b'data: a\n\n{"error": {"code": 500}}\n\ndata: b\n\n{\n  "error": "x"\n}'
    assert parse(stream, stray_lines_as_data=True) == [
        E("a"),
        E('{"error": {"code": 500}}', event=""),
        E("b"),
        E('{\n  "error": "x"\n}', event=""),
    ]
    parser = SSEParser()
    assert parser.feed(stream) + parser.close() == [E("a"), E("b")]
    assert parser.ignored_lines == 4


def test_stray_lines_come_before_their_blocks_event() -> None:
    stream = b"data: a\nnot a field\n\n"
    assert parse(stream, stray_lines_as_data=True) == [E("not a field", event=""), E("a")]


def test_parser_is_reusable_after_close() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: a\r") == [] and parser.close() == [E("a")]
    assert parser.feed(b"\ndata: b\n\n") == [E("b")]  # a new stream: the LF is a blank line, not CRLF's half


# --- real recordings, read in place ---------------------------------------------------------------------


@pytest.mark.parametrize("path", RECORDINGS, ids=RECORDING_IDS)
def test_recording(path: Path) -> None:
    raw = path.read_bytes()
    events = parse(raw)
    assert events, "every recording carries events"
    assert events == one_byte_at_a_time(raw)
    parser = SSEParser()
    assert (parser.feed(raw) + parser.close(), parser.ignored_lines) == reference(raw)
    assert parse(raw, stray_lines_as_data=True) == reference(raw, stray_lines_as_data=True)[0]
    for event in events:
        if event.data and event.data != "[DONE]":
            json.loads(event.data)  # one whole JSON document per event: no line was split or merged


def test_openai_text_with_usage() -> None:
    events = parse((CONFORMANCE / "openai/stream_text_with_usage.sse").read_bytes())
    assert len(events) == 12
    assert {e.event for e in events} == {"message"}
    assert events[-1].data == "[DONE]"
    assert json.loads(events[-2].data)["usage"]["total_tokens"] > 0


def test_anthropic_event_lines() -> None:
    raw = (CONFORMANCE / "anthropic/stream_thinking_signature.sse").read_bytes()
    events = parse(raw)
    assert len(events) == raw.count(b"\nevent: ") + raw.startswith(b"event: ")
    assert events[0].event == "message_start"
    assert events[-1].event == "message_stop"
    for event in events:
        assert json.loads(event.data)["type"] == event.event


def test_gemini_crlf() -> None:
    raw = (CONFORMANCE / "gemini/stream_text.sse").read_bytes()
    assert b"\r\n\r\n" in raw
    events = parse(raw)
    assert len(events) == raw.count(b"data: ")
    assert all("\r" not in e.data and "candidates" in json.loads(e.data) for e in events)


def test_openrouter_comments_then_midstream_error() -> None:
    raw = (CONFORMANCE / "openai_compatible/openrouter_stream_comments_then_midstream_error.sse").read_bytes()
    parser = SSEParser()
    events = parser.feed(raw) + parser.close()
    assert parser.ignored_lines == 0
    assert len(events) == raw.count(b"data: ")
    assert not any("OPENROUTER PROCESSING" in e.data for e in events)
    assert any("error" in json.loads(e.data) for e in events if e.data != "[DONE]")


def test_gemini_bare_json_error_mid_stream() -> None:
    raw = (CONFORMANCE / "gemini/stream_error_mid_stream.sse").read_bytes()
    parser = SSEParser()
    events = parser.feed(raw) + parser.close()
    assert parser.ignored_lines == 13  # the pretty-printed error object, written without "data:"
    assert {e.event for e in events} == {"message"}
    stray = parse(raw, stray_lines_as_data=True)
    assert stray[: len(events)] == events
    (error,) = stray[len(events) :]
    assert error.event == ""
    assert json.loads(error.data)["error"]["code"] == 499


def test_leading_space_before_field_name_is_not_that_field() -> None:
    # a real recording whose first line is " data: {...}": per WHATWG that is the unknown field " data"
    raw = (CONFORMANCE / "openai_compatible/openrouter_novita_tool_stream_variant_c.sse").read_bytes()
    assert raw.startswith(b" data: ")
    parser = SSEParser()
    events = parser.feed(raw) + parser.close()
    assert parser.ignored_lines == 1
    assert len(events) == raw.count(b"\ndata: ")


# --- properties -----------------------------------------------------------------------------------------


def split(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(raw) + 1) for c in cuts})
    return [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]


@settings(max_examples=100, deadline=None)
@given(path=st.sampled_from(RECORDINGS), cuts=st.lists(st.integers(min_value=0), max_size=40))
def test_any_split_of_a_recording_gives_the_same_events(path: Path, cuts: list[int]) -> None:
    raw = path.read_bytes()
    assert parse(split(raw, cuts)) == parse(raw)


# bytes drawn mostly from the characters that matter, so the stream has structure
SSE_BYTES = st.lists(
    st.one_of(
        st.sampled_from([b"\r", b"\n", b"\r\n", b":", b" ", b"data", b"event", b"id", b"retry", b"\x00"]),
        st.sampled_from([b"\xef\xbb\xbf", b"\xe2\x80\xa8", b"\xe2\x80", b"\xff", b"{}", b"x", b"7"]),
        st.binary(max_size=8),
    ),
    max_size=60,
).map(b"".join)


def assert_matches_the_oracle(raw: bytes, cuts: list[int], stray: bool, plain: bool) -> None:
    """`raw` fed in the pieces `cuts` makes, then closed: the events and ignored lines the oracle reads."""
    parser = SSEParser(stray_lines_as_data=stray, plain_data=plain)
    events: list[SSEEvent | Frame | str] = []
    for chunk in split(raw, cuts):
        events += parser.feed(chunk)
    events += parser.close()
    expected, ignored = reference(raw, stray)
    assert (events, parser.ignored_lines) == (as_frames(expected) if plain else expected, ignored)


@settings(max_examples=100, deadline=None)
@given(raw=SSE_BYTES | st.binary(max_size=300), cuts=st.lists(st.integers(min_value=0), max_size=20))
@pytest.mark.parametrize("stray", [False, True], ids=["default", "stray-lines-as-data"])
@pytest.mark.parametrize("plain", [False, True], ids=["events", "plain-data"])
def test_arbitrary_bytes_never_raise_and_match_the_oracle(raw: bytes, cuts: list[int], stray: bool,
                                                          plain: bool) -> None:
    assert_matches_the_oracle(raw, cuts, stray, plain)


def event_streams(nl: bytes) -> st.SearchStrategy[bytes]:
    """Streams cut into events where a blank line meets a data line (`SSEParser._events`), their lines ended by
    `nl`: mostly one-line data events (each its own piece), with what sends a piece through the line reader
    (other line ends, other fields, comments, stray lines, a BOM) mixed in."""
    return st.lists(
        st.one_of(
            st.sampled_from([b"{}", b"x", b"", b"a b", b"\xe2\x80\xa8", b"\xff", b"\xe2\x80", b"x\ndata: y", b"x\ry",
                             b"x\r"]).map(lambda value: b"data: " + value + nl + nl),
            st.sampled_from([b"data: ", b"data:", nl + nl, nl, b"\r", b"\n", b"\r\r\n", b"x", b"event: e" + nl,
                             b"id: 7" + nl, b"retry: 5" + nl, b": c" + nl, b"\xef\xbb\xbf", b"stray" + nl]),
        ),
        max_size=40,
    ).map(b"".join)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), cuts=st.lists(st.integers(min_value=0), max_size=8))
@pytest.mark.parametrize("stray", [False, True], ids=["default", "stray-lines-as-data"])
@pytest.mark.parametrize("nl", [b"\r\n", b"\n"], ids=["crlf", "lf"])
@pytest.mark.parametrize("plain", [False, True], ids=["events", "plain-data"])
def test_streams_cut_into_events_match_the_oracle(data: st.DataObject, cuts: list[int], stray: bool,
                                                  nl: bytes, plain: bool) -> None:
    raw = data.draw(event_streams(nl))
    assert_matches_the_oracle(raw, cuts, stray, plain)


def named_event_streams(nl: bytes) -> st.SearchStrategy[bytes]:
    """Streams of events named by `event:` lines (cut where a blank line meets an event line, `SSEParser._named`),
    their lines ended by `nl`: mostly an event line and a data line (each its own piece), with what sends a piece
    through the line reader (no data line, two data lines, other line ends, other fields) mixed in."""
    names = st.sampled_from([b"e", b"message", b"", b"a b", b"x:y", b"\xe2\x80\xa8", b"data: z", b"e\r"])
    values = st.sampled_from([b"{}", b"x", b"", b"a b", b"\xe2\x80\xa8", b"\xff", b"x\ndata: y", b"x\ry", b"x\r"])
    return st.lists(
        st.one_of(
            st.tuples(names, values).map(lambda nv: b"event: " + nv[0] + nl + b"data: " + nv[1] + nl + nl),
            st.sampled_from([b"event: e" + nl + nl, b"event: e" + nl + b"data: 1" + nl + b"data: 2" + nl + nl,
                             b"event: e" + nl + b"id: 7" + nl + b"data: 1" + nl + nl, nl, b"\r", b"\n",
                             b"event: e\ndata: 1\r\n\r\n", b"retry: 5" + nl, b": c" + nl, b"stray" + nl,
                             b"data: d" + nl + nl]),
        ),
        max_size=40,
    ).map(b"".join)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), cuts=st.lists(st.integers(min_value=0), max_size=8))
@pytest.mark.parametrize("nl", [b"\r\n", b"\n"], ids=["crlf", "lf"])
@pytest.mark.parametrize("plain", [False, True], ids=["events", "plain-data"])
def test_named_event_streams_match_the_oracle(data: st.DataObject, cuts: list[int], nl: bytes, plain: bool) -> None:
    raw = data.draw(named_event_streams(nl))
    assert_matches_the_oracle(raw, cuts, False, plain)
