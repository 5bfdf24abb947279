"""The stream decoders read a stream the same way fed a frame at a time or many frames at once.

Each decoder has one path (`feed` is `feed_all` of one frame; whole-response events are read by the response
spec's generated `read_choice`). Every recorded stream under tests/recordings/ (fed to every shipped wire
format's decoder, so each one also sees events it does not expect) and sets of hand-made events are decoded
twice, frame by frame through `feed_all` and through `feed`; chunks (or errors), usage, ids and `done` are
compared frame by frame. Then the whole stream goes through `feed_all` in one call, which must give the
frame-by-frame chunks up to the first error, and that error.
"""

from __future__ import annotations

import copy
import functools
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec
import pytest

from vllora_llm.engine.frames import Frame
from vllora_llm.engine.lower_response import extras_reads
from vllora_llm.engine.registry import load_plan
from vllora_llm.engine.stream import compile_stream
from vllora_llm.engine.stream_events import EventsDecoder
from vllora_llm.runtime.eventstream import EventStreamMessage, EventStreamParser, frame_of
from vllora_llm.runtime.sse import SSEEvent, SSEParser

from ._reference import ReferenceEvents, ReferenceWhole

CONFORMANCE = Path(__file__).resolve().parents[1] / "recordings"
PLANS = ("anthropic", "gemini", "openai", "bedrock")
SUFFIXES = (".sse", ".chunks.jsonl", ".eventstream", ".decoded.jsonl")
RECORDINGS = sorted(p for p in CONFORMANCE.glob("*/*") if p.name.endswith(SUFFIXES))
STATE = ("id", "model", "usage", "done", "finished", "has_calls", "tool_index", "last_tool", "indexed_starts",
         "calls")


def frames_of(path: Path, stray_lines_as_data: bool, header: str | None = None) -> list[Any]:
    """The recording's frames, cut and normalised as the runtime does it (a damaged event stream: the frames
    before it; event-stream messages named by `header`, the plan's `event_header`)."""
    raw = path.read_bytes()
    if path.name.endswith(".decoded.jsonl"):
        out: list[Any] = []
        for line in raw.decode().splitlines():
            if line.strip():
                ((kind, payload),) = json.loads(line).items()
                headers = {":event-type": kind, ":message-type": "event", ":content-type": "application/json"}
                out.append(frame_of(EventStreamMessage(headers=headers, payload=json.dumps(payload).encode()), header))
        return out
    if path.name.endswith(".chunks.jsonl"):
        lines = [line for line in raw.decode().splitlines() if line.strip()]
        raw = "".join(f"data: {line}\n\n" for line in [*lines, "[DONE]"]).encode()
    if path.name.endswith(".eventstream"):
        parser = EventStreamParser()
        frames: list[Any] = []
        try:
            for at in range(0, len(raw), 4096):
                frames += [frame_of(message, header) for message in parser.feed(raw[at:at + 4096])]
        except Exception:
            pass
        return frames
    sse = SSEParser(stray_lines_as_data=stray_lines_as_data)
    return [*sse.feed(raw), *sse.close()]


def general(decoder: Any) -> Any:
    """What the decoder is compared with, fed through `feed` frame by frame: for an events-mode decoder (one
    generated function per spec) the plain reference of _reference.py, else the decoder itself."""
    return ReferenceEvents(decoder) if isinstance(decoder, EventsDecoder) else decoder


def outcome(call: Any) -> Any:
    try:
        return msgspec.json.encode(call())
    except Exception as exc:  # the error itself is what is compared
        return (type(exc), str(exc))


def state(decoder: Any) -> dict[str, Any]:
    out = {name: getattr(decoder, name) for name in STATE if hasattr(decoder, name)}
    if isinstance(out.get("calls"), defaultdict):  # (a whole-response decoder's `itertools.count` per choice, as
        # the reference's count of calls: the position its repr tells, `count(n)`)
        out["calls"] = {index: int(repr(counter)[6:-1]) for index, counter in out["calls"].items()}
    return out


def fed_all(decoder: Any, frames: list[Any]) -> list[Any]:
    out: list[Any] = []
    decoder.feed_all(frames, out)
    return out


def compare(factory: Any, frames: list[Any], reference: Any = None) -> int:
    """`feed_all` frame by frame vs `reference()` (by default `general`) fed through `feed`; then all frames
    through one `feed_all`. Returns how many frames were compared."""
    fast, slow = factory(), (reference() if reference is not None else general(factory()))
    expected: list[Any] = []
    first_error: Any = None
    for frame in frames:
        got, want = outcome(lambda frame=frame: fed_all(fast, [frame])), outcome(lambda frame=frame: slow.feed(frame))
        assert got == want, frame
        assert state(fast) == state(slow), frame
        if first_error is None:
            if isinstance(want, bytes):
                expected += msgspec.json.decode(want)
            else:
                first_error = want
    assert outcome(fast.close) == outcome(slow.close)
    assert fast.warnings == slow.warnings  # (silent.py: a rule that gave nothing, named the same way)
    batch: list[Any] = []
    at_once = factory()
    try:
        at_once.feed_all(frames, batch)
        error = None
    except Exception as exc:
        error = (type(exc), str(exc))
    assert error == first_error
    assert msgspec.json.decode(msgspec.json.encode(batch)) == expected
    return len(frames)


def factory_of(name: str) -> Any:
    return load_plan(name).stream_decoder


# ---- every recording, through every wire format's decoder ----------------------------------------------------


@pytest.mark.parametrize("name", PLANS)
@pytest.mark.parametrize("path", RECORDINGS, ids=[f"{p.parent.name}/{p.name}" for p in RECORDINGS])
def test_recordings(path: Path, name: str) -> None:
    plan = load_plan(name)
    frames = frames_of(path, getattr(plan, "stray_lines", "ignore") == "as_data", plan.event_header)
    compare(plan.stream_decoder, frames)


def test_recordings_were_found() -> None:
    names = {p.parent.name for p in RECORDINGS}
    assert {"anthropic", "gemini", "openai", "bedrock"} <= names, names


# ---- hand-made events: named by a payload field ----------------------------------------------------------------


def _delta(delta: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": 0, "delta": delta, **extra}


FIELD_NAMED: list[Any] = [
    _delta({"type": "text_delta", "text": "hi"}),
    _delta({"type": "text_delta", "text": ""}),
    _delta({"type": "text_delta"}),
    _delta({"type": "text_delta", "text": None}),
    _delta({"type": "text_delta", "text": 3}),
    _delta({"type": "text_delta", "text": ["a"]}),
    _delta({"type": "text_delta", "text": {"a": 1}}),
    _delta({"type": "text_delta", "text": "a", "extra": 1}),
    _delta({"type": "TEXT_DELTA", "text": "a"}),
    _delta({"type": 1, "text": "a"}),
    _delta({"type": None, "text": "a"}),
    _delta({"text": "a"}),
    _delta({"type": "thinking_delta", "thinking": "hm"}),
    _delta({"type": "signature_delta", "signature": "c2ln"}),
    _delta({"type": "input_json_delta", "partial_json": "{\"a\""}),
    _delta({"type": "citations_delta", "citation": {}}),
    _delta(None),
    _delta("text"),
    _delta(["text_delta"]),
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "x"}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t", "name": "f"}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
    {"type": "message_start", "message": {"id": "m", "model": "x", "role": "assistant", "usage": {"input_tokens": 3}}},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
    {"type": "content_block_stop", "index": 0},
    {"type": "ping"},
    {"type": "unknown_event", "delta": {"type": "text_delta", "text": "a"}},
    {"type": None, "delta": {"type": "text_delta", "text": "a"}},
    {"type": 5},
    {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
    {"type": "message_stop"},
    {},
    [1, 2],
    "content_block_delta",
    None,
    7,
]


def _sse(payloads: list[Any], event: str = "message") -> list[Any]:
    return [SSEEvent(event, json.dumps(payload)) for payload in payloads]


@pytest.mark.parametrize("at", range(len(FIELD_NAMED)))
def test_field_named_events(at: int) -> None:
    opening = [FIELD_NAMED[24], FIELD_NAMED[19]]
    frames = _sse([*opening, FIELD_NAMED[at], FIELD_NAMED[0], FIELD_NAMED[at]])
    frames.append(SSEEvent("content_block_delta", "{not json"))
    compare(factory_of("anthropic"), frames)


def test_field_named_events_in_one_stream() -> None:
    frames = [*_sse(FIELD_NAMED), SSEEvent("content_block_delta", ""), SSEEvent("x", " ")]
    assert compare(factory_of("anthropic"), frames)


# ---- hand-made events: named by an event-stream header ---------------------------------------------------------


def _message(kind: str, payload: Any, message_type: str = "event") -> Frame:
    name = ":event-type" if message_type == "event" else ":exception-type"
    headers: dict[str, object] = {":message-type": message_type, name: kind, ":content-type": "application/json"}
    return frame_of(EventStreamMessage(headers=headers, payload=json.dumps(payload).encode()), ":event-type")


HEADER_NAMED: list[Any] = [
    _message("contentBlockDelta", {"delta": {"text": "hi"}, "contentBlockIndex": 0}),
    _message("contentBlockDelta", {"delta": {"text": ""}, "contentBlockIndex": 0}),
    _message("contentBlockDelta", {"delta": {"text": "a"}}),
    _message("contentBlockDelta", {"delta": {"text": 1}, "contentBlockIndex": 0}),
    _message("contentBlockDelta", {"delta": {"text": "a", "reasoningContent": {"text": "r"}}, "contentBlockIndex": 0}),
    _message("contentBlockDelta", {"delta": {"text": "a", "reasoningContent": {}}, "contentBlockIndex": 0}),
    _message("contentBlockDelta", {"delta": {"text": "a", "reasoningContent": None}, "contentBlockIndex": 0}),
    _message("contentBlockDelta", {"delta": {"text": "a", "toolUse": {"input": ""}}, "contentBlockIndex": 0}),
    _message("contentBlockDelta", {"delta": {"text": "a", "toolUse": {"input": "{}"}}, "contentBlockIndex": 0}),
    _message("contentBlockDelta", {"delta": {"text": "a", "toolUse": {"input": None}}, "contentBlockIndex": 0}),
    _message("contentBlockDelta", {"delta": {"toolUse": {"input": "{\"a\":1}"}}, "contentBlockIndex": 0}),
    _message("contentBlockDelta", {"delta": {"reasoningContent": {"signature": "c2ln"}}, "contentBlockIndex": 0}),
    _message("contentBlockDelta", {"delta": None}),
    _message("contentBlockDelta", []),
    _message("contentBlockStart", {"start": {"toolUse": {"toolUseId": "t", "name": "f"}}, "contentBlockIndex": 1}),
    _message("messageStart", {"role": "assistant"}),
    _message("messageStop", {"stopReason": "end_turn"}),
    _message("metadata", {"usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5}}),
    _message("somethingNew", {"delta": {"text": "a"}}),
    _message("throttlingException", {"message": "slow down"}, "exception"),
]


@pytest.mark.parametrize("at", range(len(HEADER_NAMED)))
def test_header_named_events(at: int) -> None:
    frames = [HEADER_NAMED[15], HEADER_NAMED[at], HEADER_NAMED[0], HEADER_NAMED[at], HEADER_NAMED[16]]
    compare(factory_of("bedrock"), frames)


def test_header_named_events_in_one_stream() -> None:
    assert compare(factory_of("bedrock"), list(HEADER_NAMED))


# ---- a made-up events spec: SSE event names, plain and switch handlers, several text cases ---------------------


EVENTS_SPEC: dict[str, Any] = {
    "mode": "events",
    "terminal": "eof",
    "events": {
        "plain": {"text": "$a.b"},
        "plain_with_more": {"text": "$a.b", "reasoning": "$a.r",
                            "tool_call_args": {"index": "$i", "arguments": "$a.j"}},
        "top": {"text": "$t"},
        "switched": {"switch": "k.kind", "cases": {"x": {"text": "$k.text"}, "y": {"text": "$k.other"},
                                                   "z": {"reasoning": "$k.text"}},
                     "default": {"text": "$fallback"}},
        "not_plain": {"text": {"$op": "as_list", "in": "$a.b"}},
        "indexed": {"text": "$a[0]"},
        "literal": {"text": "$a.b", "role": "assistant"},
        "ignored": "ignore",
        "*": {"text": "$a.b"},
    },
}
MADE_UP: list[tuple[str, Any]] = [
    ("plain", {"a": {"b": "hi"}}), ("plain", {"a": {"b": ""}}), ("plain", {"a": {"b": 1}}), ("plain", {"a": {}}),
    ("plain", {"a": "b"}), ("plain", []), ("plain", None),
    ("plain_with_more", {"a": {"b": "hi"}}), ("plain_with_more", {"a": {"b": "hi", "r": "why"}}),
    ("plain_with_more", {"a": {"b": "hi", "j": ""}}), ("plain_with_more", {"a": {"b": "hi", "j": "{}"}}),
    ("plain_with_more", {"a": {"b": "hi"}, "i": 2}), ("plain_with_more", {"a": {"j": "{}"}, "i": 0}),
    ("top", {"t": "x"}), ("top", {"t": None}), ("top", "t"),
    ("switched", {"k": {"kind": "x", "text": "a"}}), ("switched", {"k": {"kind": "y", "text": "a", "other": "b"}}),
    ("switched", {"k": {"kind": "y", "text": "a"}}), ("switched", {"k": {"kind": "z", "text": "a"}}),
    ("switched", {"k": {"kind": "w", "text": "a"}, "fallback": "f"}), ("switched", {"k": {"kind": 1, "text": "a"}}),
    ("switched", {"k": {"text": "a"}, "fallback": "f"}), ("switched", {"k": None}),
    ("not_plain", {"a": {"b": "x"}}), ("indexed", {"a": ["x"]}), ("literal", {"a": {"b": "x"}}),
    ("ignored", {"a": {"b": "x"}}), ("unknown", {"a": {"b": "x"}}), ("unknown", {"a": {"b": 2}}),
]


@pytest.mark.parametrize("at", range(len(MADE_UP)))
def test_made_up_events(at: int) -> None:
    name, payload = MADE_UP[at]
    frames = [SSEEvent(name, json.dumps(payload)), SSEEvent("plain", json.dumps({"a": {"b": "x"}})),
              SSEEvent(name, json.dumps(payload))]
    compare(compile_stream(EVENTS_SPEC, {}, "made-up"), frames)


def test_made_up_events_in_one_stream() -> None:
    frames = [SSEEvent(name, json.dumps(payload)) for name, payload in MADE_UP]
    assert compare(compile_stream(EVENTS_SPEC, {}, "made-up"), frames)


FIELD_SPEC: dict[str, Any] = {
    "mode": "events",
    "terminal": "eof",
    "event_type": {"from": "field", "name": "kind"},
    "events": {"1": {"text": "$t"}, "": {"text": "$u"}, "True": {"text": "$t"}, "None": {"text": "$u"},
               "[1]": {"text": "$t"}, "x": {"text": "$t"}},
}
NAMES: list[Any] = [1, 0, "", None, True, False, [1], "1", "x", "None", 1.0, {"a": 1}]


@pytest.mark.parametrize("at", range(len(NAMES)))
def test_names_that_are_not_str(at: int) -> None:
    """A name that is not a str is looked up as `str(name or "")`, the fast path included."""
    frames = _sse([{"kind": NAMES[at], "t": "t", "u": "u"}, {"kind": "x", "t": "t"}, {"kind": NAMES[at], "t": "t"}])
    compare(compile_stream(FIELD_SPEC, {}, "made-up"), frames)


# ---- hand-made whole responses ---------------------------------------------------------------------------------


def _event(parts: Any = None, usage: Any = None, **candidate: Any) -> dict[str, Any]:
    parts = [{"text": "hi"}] if parts is None else parts
    return {"candidates": [{"content": {"parts": parts, "role": "model"}, "index": 0, **candidate}],
            "usageMetadata": usage or {"promptTokenCount": 3, "totalTokenCount": 3}, "modelVersion": "m",
            "responseId": "r"}


WHOLE: list[Any] = [
    _event(),
    _event([{"text": ""}]),
    _event([{"text": 1}]),
    _event([{"text": True}]),
    _event([{"text": ["a"]}]),
    _event([{"text": None}]),
    _event([{"text": "a", "thoughtSignature": "c2ln"}]),
    _event([{"thought": True}]),
    _event([{"thoughtSignature": "c2ln"}]),
    _event([{"text": "a"}, {"text": "b"}]),
    _event([{"functionCall": {"name": "f", "args": {}}}]),
    _event([]),
    _event({"text": "a"}),
    _event(["a"]),
    _event(finishReason="STOP"),
    _event(finishReason=None),
    _event(finishReason="MAX_TOKENS"),
    _event(index=2),
    _event(index=None),
    _event(index="0"),
    _event(usage={"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}),
    _event(usage={"promptTokenCount": 3, "totalTokenCount": 3}),
    {**_event(), "usageMetadata": None},
    {k: v for k, v in _event().items() if k != "usageMetadata"},
    {**_event(), "responseId": 7, "modelVersion": None},
    {**_event(), "responseId": None},
    {k: v for k, v in _event().items() if k != "responseId"},
    {**_event(), "error": None},
    {**_event(), "error": {"code": 500, "message": "boom", "status": "INTERNAL"}},
    {**_event(), "candidates": [_event()["candidates"][0], _event()["candidates"][0]]},
    {**_event(), "candidates": [{"content": None}]},
    {**_event(), "candidates": [None]},
    {**_event(), "candidates": []},
    {"candidates": [], "promptFeedback": {"blockReason": "SAFETY"}},
    [1, 2],
    "text",
    None,
    {},
]


@pytest.mark.parametrize("at", range(len(WHOLE)))
def test_whole_responses(at: int) -> None:
    """Each shape between usual events, again after the stream's finish reason, then a bad event."""
    payloads = [_event(), WHOLE[at], _event(), _event(finishReason="STOP"), WHOLE[at], _event()]
    frames = [*_sse(payloads), SSEEvent("message", "{not json"), SSEEvent("message", " ")]
    compare(factory_of("gemini"), frames, _gemini_reference)


def _gemini_reference() -> ReferenceWhole:
    spec = load_plan("gemini").spec  # type: ignore[attr-defined]
    return ReferenceWhole(spec["response"], spec["stream"], "gemini")


def test_whole_responses_in_one_stream() -> None:
    assert compare(factory_of("gemini"), _sse(WHOLE), _gemini_reference)


def test_whole_responses_through_event_stream_frames() -> None:
    frames = [frame_of(EventStreamMessage(headers={":event-type": "x"}, payload=json.dumps(p).encode())) for p in WHOLE]
    assert compare(factory_of("gemini"), frames, _gemini_reference)


# ---- which key's one-key part is its text (`text_part_key`) ---------------------------------------------------


def _response(kinds: dict[str, Any], present: list[list[str]] | None = None, **extra: Any) -> dict[str, Any]:
    response = copy.deepcopy(load_plan("gemini").spec["response"])  # type: ignore[attr-defined]
    response["kinds"] = kinds
    response["kind_by"] = {"present": present or [["thought", "reasoning"], ["text", "text"]]}
    response.update(extra)
    return response


OMIT = {"$op": "omit_empty", "in": {"signature": "$sig"}}
KEYS: list[tuple[dict[str, Any], Any, str | None]] = [
    ({"text": {"text": "$text"}}, None, "text"),
    ({"text": {"text": "$.text"}}, None, "text"),
    ({"text": {"text": "$text", "reasoning": OMIT}}, None, "text"),
    ({"text": {"text": "$text", "reasoning": "$sig"}}, None, "text"),
    ({"text": {"text": "$text", "reasoning": {"signature": "$sig"}}}, None, None),  # an object: {} is not None
    ({"text": {"text": "$text", "role": "assistant"}}, None, None),  # a literal
    ({"text": {"text": "$text", "reasoning": "$text"}}, None, None),  # reads the text key again
    ({"text": {"text": "$text", "reasoning": {"$op": "omit_empty"}}}, None, None),  # reads the whole part
    ({"text": {"text": "$text", "x": {"$op": "require", "absent": True, "in": "$text", "message": "no"}}}, None, None),
    ({"text": {"text": "$other"}}, None, None),
    ({"text": {"text": "$text.value"}}, None, None),
    ({"text": {"text": "$"}}, None, None),
    ({"text": {"text": {"$op": "as_list", "in": "$text"}}}, None, None),
    ({"text": {"reasoning": "$text"}}, None, None),
    ({"text": {"text": "$text"}, "reasoning": {"reasoning": "$text"}}, [["text", "reasoning"], ["text", "text"]],
     None),  # the key's first kind is not the text one
    ({"text": {"reasoning": "$text"}, "reasoning": {"text": "$text"}}, [["text", "reasoning"], ["text", "text"]],
     "text"),  # its first kind renders it as text, whatever the kind is called
    ({"text": {"text": "$text"}, "reasoning": {"text": "$thought"}}, [["thought", "reasoning"], ["text", "text"]],
     "thought"),
    ({"text": {"text": "$text"}}, [["text", "missing"], ["text", "text"]], None),
]


@pytest.mark.parametrize("at", range(len(KEYS)))
def test_kind_templates_of_made_up_specs(at: int) -> None:
    kinds, present, _ = KEYS[at]
    response = _response(kinds, present)
    parts = [[{"text": "a"}], [{"text": "a", "sig": "s"}], [{"thought": "t"}], [{"sig": "s"}], [{"text": ""}],
             [{"thought": True, "text": "x"}], [{"text": 1}]]
    frames = _sse([_event(p) for p in parts] + [_event(finishReason="STOP")])
    stream = {"mode": "whole_response", "error_when": "error"}
    compare(lambda: compile_stream(stream, response, "made-up")(), frames,
            lambda: ReferenceWhole(response, stream, "made-up"))


# ---- passthrough -----------------------------------------------------------------------------------------------


def test_passthrough_shapes() -> None:
    chunk = {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]}
    frames = _sse([chunk, {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                   {"error": {"message": "boom"}}, {**chunk, "error": None}, {"choices": "x"}, [1], None])
    frames += [SSEEvent("message", "[DONE]"), SSEEvent("message", ""), SSEEvent("message", "{not json"),
               SSEEvent("message", json.dumps(chunk))]
    frames.insert(2, frame_of(EventStreamMessage(headers={":event-type": "x"}, payload=json.dumps(chunk).encode())))
    assert compare(factory_of("openai"), frames)
    for terminal in ("eof", "finish_reason"):
        spec = {"mode": "passthrough", "terminal": terminal}
        assert compare(compile_stream(spec, {}, "made-up"), frames[:2])


# ---- the SSE event is a value like the dataclass it replaced ---------------------------------------------------


def test_sse_event_value() -> None:
    event = SSEEvent("message", "x")
    assert event == SSEEvent(event="message", data="x", id=None, retry=None)
    assert event != SSEEvent("message", "x", "1")
    assert (event.event, event.data, event.id, event.retry) == ("message", "x", None, None)
    assert repr(event) == "SSEEvent(event='message', data='x', id=None, retry=None)"
    assert hash(event) == hash(SSEEvent("message", "x"))
    with pytest.raises(AttributeError):
        event.data = "y"  # type: ignore[misc]


# ---- events decoded into view Structs (engine/views.py) read as plain dicts do ---------------------------------

EVENT_PLANS = ("anthropic", "bedrock")


@pytest.mark.parametrize("name", EVENT_PLANS)
def test_events_plans_decode_into_views(name: str) -> None:
    events: Any = load_plan(name).stream_decoder().events  # type: ignore[attr-defined]
    assert isinstance(events.decode(b'{"unread": [1, 2, 3]}'), msgspec.Struct)


@pytest.mark.parametrize("name", EVENT_PLANS)
@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_views_read_every_recording_as_dicts_do(name: str, recording: Path) -> None:
    """The plan's events decoder (payloads decoded into views, one generated function) beside the plain
    reference (payloads decoded into dicts, read by the template interpreter)."""
    plan: Any = load_plan(name)
    frames = frames_of(recording, getattr(plan, "stray_lines", "ignore") == "as_data", plan.event_header)
    viewed = plan.stream_decoder()
    plain = ReferenceEvents(viewed)
    for frame in frames:
        assert outcome(functools.partial(viewed.feed, frame)) == outcome(functools.partial(plain.feed, frame)), frame
        assert state(viewed) == state(plain)


# ---- main's hooks in the generated decoders: answer tools, rules that gave nothing, extras ----------------------


def _changed_plan(name: str, change: Any) -> Any:
    from vllora_llm.engine.plan import Plan

    spec = copy.deepcopy(dict(load_plan(name).spec))  # type: ignore[attr-defined]
    change(spec)
    return Plan(spec)


ANSWER_RECORDINGS = {"anthropic/stream_text_then_tool_use_args_in_pieces.sse": "get_weather",
                     "anthropic/stream_tool_use_parallel_noargs.sse": "pelican_name_generator",  # (no input)
                     "anthropic/stream_tool_use_max_tokens_incomplete_json.sse": "make_file"}


@pytest.mark.parametrize("recording", sorted(ANSWER_RECORDINGS))
def test_an_answer_tool_streams_as_text_as_the_reference_does(recording: str) -> None:
    """`response.answer_tools`: the generated decoder turns the tool's argument pieces into text deltas, opens
    no call for it, and agrees with the reference event by event."""
    def answer(spec: dict[str, Any]) -> None:
        spec["response"]["answer_tools"] = [ANSWER_RECORDINGS[recording]]

    plan = _changed_plan("anthropic", answer)
    frames = frames_of(CONFORMANCE / recording, False)
    compare(plan.stream_decoder, frames)
    out: list[Any] = []
    plan.stream_decoder().feed_all(frames, out)
    assert not any(choice.delta.tool_calls for chunk in out for choice in chunk.choices)
    text = "".join(choice.delta.content or "" for chunk in out for choice in chunk.choices)
    assert ("{" in text) is ("noargs" not in recording)  # (the tool's input, as text)


SILENT_TYPOS: dict[str, Any] = {
    "case": lambda spec: spec["stream"]["events"]["content_block_delta"]["cases"].update(
        text_delta={"text": "$delta.txet"}),
    "handler": lambda spec: spec["stream"]["events"].update(message_delta={"finish": "$delta.stop_raeson"}),
    "two_parts": lambda spec: spec["stream"]["events"]["content_block_delta"]["cases"].update(
        text_delta={"text": "$delta.txet", "reasoning": "$delta.nothing"}),
}


@pytest.mark.parametrize("typo", sorted(SILENT_TYPOS))
def test_a_rule_that_gave_nothing_warns_as_the_reference_does(typo: str) -> None:
    plan = _changed_plan("anthropic", SILENT_TYPOS[typo])
    frames = frames_of(CONFORMANCE / "anthropic/stream_text.sse", False)
    compare(plan.stream_decoder, frames)
    decoder = plan.stream_decoder()
    decoder.feed_all(frames, [])
    assert [w.code for w in decoder.warnings] == ["mapping_yielded_nothing"]


def test_a_kind_that_rendered_nothing_warns_as_the_reference_does() -> None:
    response = copy.deepcopy(load_plan("gemini").spec["response"])  # type: ignore[attr-defined]
    response["kinds"]["text"] = {"text": "$txet", "reasoning": "$nothing"}
    stream = {"mode": "whole_response", "error_when": "error"}
    frames = _sse([_event([{"text": "a"}]), _event([{"text": "b"}]), _event(finishReason="STOP")])
    compare(lambda: compile_stream(stream, response, "made-up")(), frames,
            lambda: ReferenceWhole(response, stream, "made-up"))
    decoder = compile_stream(stream, response, "made-up")()
    decoder.feed_all(frames, [])
    assert [(w.code, w.param) for w in decoder.warnings] == [("mapping_yielded_nothing", "response.kinds.text")]


@pytest.mark.parametrize("read", ["views", "text"])
def test_whole_response_extras_come_on_chunks_as_the_reference_does(read: str) -> None:
    """Extras that are each one path are read from the event's views; others from its text (a second decode):
    the same chunks either way."""
    response = copy.deepcopy(load_plan("gemini").spec["response"])  # type: ignore[attr-defined]
    grounding = "$candidates[0].groundingMetadata" if read == "views" else "$candidates[0].groundingMetadata | @"
    response["extras"] = {"grounding": grounding, "feedback": "$promptFeedback"}
    assert (extras_reads(response["extras"], response) is None) is (read == "text")
    stream = {"mode": "whole_response", "error_when": "error"}
    grounded = _event([{"text": "a"}])
    grounded["candidates"][0]["groundingMetadata"] = {"webSearchQueries": ["q"]}
    frames = _sse([_event([{"text": "x"}]), grounded, {"promptFeedback": {"note": "n"}, "candidates": []},
                   _event(finishReason="STOP")])
    compare(lambda: compile_stream(stream, response, "made-up")(), frames,
            lambda: ReferenceWhole(response, stream, "made-up"))
    out: list[Any] = []
    compile_stream(stream, response, "made-up")().feed_all(frames, out)
    assert [chunk.extras for chunk in out if chunk.extras] == [
        {"grounding": {"webSearchQueries": ["q"]}}, {"feedback": {"note": "n"}}]
