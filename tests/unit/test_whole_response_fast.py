"""The whole-response stream decoder is one generated function per spec (`stream_whole.lower_whole_event`):
every Gemini stream recording and a set of hand-made events are fed to the plan's decoder and to a plain
reference (events decoded into dicts, choices read by the reference reader of test_response_fast.py, pieces
gathered as written below), and their chunks (or errors), usage counts and `done` compared event by event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from vllora_llm.engine.registry import load_plan
from vllora_llm.engine.stream import compile_stream
from vllora_llm.runtime.sse import SSEEvent, SSEParser

from ._reference import ReferenceWhole

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings" / "gemini"


def _outcome(decoder: Any, frame: Any) -> Any:
    try:
        return msgspec.json.encode(decoder.feed(frame))
    except Exception as exc:  # the error itself is what is compared
        return (type(exc), str(exc))


def test_the_plan_decodes_events_into_views() -> None:
    """The plan's decoder decodes each event into view Structs (only the fields its mappings read), not dicts:
    without them the comparisons below would compare the reference with itself."""
    decoder: Any = load_plan("gemini").stream_decoder()
    event = decoder.decode(b'{"candidates": [], "unread": {"a": [1, 2]}, "responseId": "r"}')
    assert isinstance(event, msgspec.Struct)
    kept = msgspec.json.decode(msgspec.json.encode(event))  # the view's fields, by their wire names
    assert kept["responseId"] == "r" and kept["candidates"] == [] and "unread" not in kept


def _compare(frames: list[Any]) -> int:
    plan = load_plan("gemini")
    fast, general = plan.stream_decoder(), ReferenceWhole(plan.spec["response"], plan.spec["stream"], "gemini")
    for frame in frames:
        assert _outcome(fast, frame) == _outcome(general, frame), frame
        assert fast.usage == general.usage  # type: ignore[attr-defined]
        assert fast.done == general.done
    return len(frames)


@pytest.mark.parametrize("name", sorted(p.name for p in RECORDINGS.glob("*.sse")) or ["(none)"])
def test_recordings(name: str) -> None:
    if name == "(none)":
        pytest.skip("no recordings")
    framer = SSEParser(stray_lines_as_data=True)
    frames = [*framer.feed((RECORDINGS / name).read_bytes()), *framer.close()]
    assert _compare(frames)


def _event(**candidate: Any) -> dict[str, Any]:
    return {"candidates": [{"content": {"parts": [{"text": "hi"}], "role": "model"}, "index": 0, **candidate}],
            "usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 3}, "modelVersion": "m", "responseId": "r"}


SHAPES: list[Any] = [
    _event(),
    _event(),
    {**_event(), "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}},
    {**_event(), "usageMetadata": None},
    {k: v for k, v in _event().items() if k != "usageMetadata"},
    {**_event(), "responseId": 7, "modelVersion": None},
    _event(content={"parts": [{"text": ""}]}),
    _event(content={"parts": [{"thought": True}]}),
    _event(content={"parts": [{"thoughtSignature": "c2ln"}]}),
    _event(content={"parts": [{"text": "a", "thoughtSignature": "c2ln"}]}),
    _event(content={"parts": [{"text": "a", "thought": True}]}),
    _event(content={"parts": [{"functionCall": {"name": "f", "args": {"x": 1}}}]}),
    _event(content={"parts": [{"functionCall": {"name": "f", "args": {}}}]}, finishReason="STOP"),
    _event(content={"parts": [{"functionCall": {"name": "f", "args": {"x": 1}, "id": "c1"}, "thoughtSignature": "s"},
                              {"functionCall": {"name": "g"}}, {"text": "t"}]}),
    _event(content={"parts": [{"functionCall": {"name": "f", "partialArgs": [{"x": 1}]}}]}),
    _event(content={"parts": [{"functionCall": "f"}]}),
    _event(content={"parts": [{"functionCall": {}}, {"functionCall": {"willContinue": True}}, {"text": "t"}]}),
    _event(content={"parts": [{"functionCall": {"name": None, "args": None}, "text": "t"}]}),
    _event(content={"parts": [{"functionCall": {"name": "f", "args": {"a": [1, 2.5, {"b": None}], "c": "d e"}}}]}),
    _event(content={"parts": [{"functionCall": {"name": "f", "args": "text"}}, {"functionCall": {"args": 1e16}}]}),
    _event(content={"parts": [{"text": "a", "thought": True, "thoughtSignature": "s"}, {"text": "b"}]}),
    _event(content={"parts": [{"text": 1}, {"text": None, "thoughtSignature": "s"}]}),
    _event(content={"parts": [{"text": 5, "thought": True}]}),  # (a reasoning detail that does not convert)
    _event(content={"parts": [{"text": "a", "thought": True, "thoughtSignature": ["s"]}]}),
    _event(content={"parts": [{"thoughtSignature": 5}]}),
    {**_event(), "usageMetadata": {"promptTokenCount": 3.5, "toolUsePromptTokenCount": True,
                                   "candidatesTokenCount": "2", "thoughtsTokenCount": 4, "totalTokenCount": 9.0}},
    {**_event(), "usageMetadata": {"toolUsePromptTokenCount": 2, "cachedContentTokenCount": 1}},
    _event(content={"parts": [{"executableCode": {"code": "1"}}]}),
    _event(content={"parts": [{"unknownPart": 1}]}),
    _event(content={"parts": [{"text": "a"}, {"text": "b"}]}),
    _event(content={"parts": []}),
    _event(content={"parts": {"text": "a"}}),
    _event(content={"parts": ["a"]}),
    _event(content=None),
    _event(content={}),
    _event(index=3),
    _event(index=None),
    _event(finishReason="MAX_TOKENS"),
    _event(finishReason="SOMETHING_NEW"),
    {**_event(), "candidates": []},
    {**_event(), "candidates": None},
    {**_event(), "candidates": [1]},
    {**_event(), "candidates": [_event()["candidates"][0], _event()["candidates"][0]]},
    {"candidates": [], "promptFeedback": {"blockReason": "SAFETY"}},
    {**_event(), "error": None},
    {**_event(), "error": {"code": 500, "message": "boom", "status": "INTERNAL"}},
    {**_event(), "error": False},
    [1, 2],
    "text",
    None,
    {},
]


@pytest.mark.parametrize("at", range(len(SHAPES)))
def test_shapes(at: int) -> None:
    frames = [SSEEvent("message", json.dumps(_event())), SSEEvent("message", json.dumps(SHAPES[at])),
              SSEEvent("message", json.dumps(_event(finishReason="STOP"))), SSEEvent("message", "{not json")]
    assert _compare(frames)


def test_all_shapes_in_one_stream() -> None:
    assert _compare([SSEEvent("message", json.dumps(shape)) for shape in SHAPES])


def _raws(value: Any) -> list[msgspec.Raw]:
    if isinstance(value, msgspec.Raw):
        return [value]
    if isinstance(value, msgspec.Struct):
        value = msgspec.structs.astuple(value)
    return [raw for item in value for raw in _raws(item)] if isinstance(value, (list, tuple)) else []


def test_arguments_pass_through_as_their_json_text_compacted() -> None:
    """`functionCall.args` is read only by `json_dumps`: the view keeps it undecoded (msgspec.Raw) and the
    arguments are its text without whitespace, numbers and escapes as sent (the same JSON value)."""
    decoder: Any = load_plan("gemini").stream_decoder()
    args = '{ "q": "\\u003cb\\u003e",\r\n "n": 1.50, "s": " x y ", "l": [ 1 , {} ] }'
    event = '{"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": ARGS}}]}}]}'.replace(
        "ARGS", args)
    assert [bytes(raw) for raw in _raws(decoder.decode(event))] == [args.encode()]
    call = decoder.feed(SSEEvent("message", event))[0].choices[0].delta.tool_calls[0]
    assert call.function.arguments == '{"q":"\\u003cb\\u003e","n":1.50,"s":" x y ","l":[1,{}]}'
    assert json.loads(call.function.arguments) == {"q": "<b>", "n": 1.5, "s": " x y ", "l": [1, {}]}
    null = decoder.feed(SSEEvent("message", event.replace(args, "null")))[0].choices[0].delta.tool_calls[0]
    assert null.function.arguments == "{}"  # (as json_dumps of None)


def test_a_function_call_holding_none_of_the_keys_read_is_no_call_streamed_or_not() -> None:
    """`{}` and `{"willContinue": true}` (Vertex's streamed-arguments markers) name no kind: an object under a
    `present` key counts when it holds one of the keys its kind reads (specs/README.md, `kind_by`)."""
    plan = load_plan("gemini")
    body = {"candidates": [{"content": {"parts": [{"functionCall": {}}, {"functionCall": {"willContinue": True}},
                                                  {"text": "t"}]}, "finishReason": "STOP"}]}
    streamed = plan.stream_decoder().feed(SSEEvent("message", json.dumps(body)))
    assert streamed[0].choices[0].delta.tool_calls is None and streamed[0].choices[0].delta.content == "t"
    whole = plan.decode(200, {}, json.dumps(body).encode())
    assert whole.message().tool_calls is None and whole.text() == "t"


@pytest.mark.parametrize("kind", ["redacted_thinking", 5])
def test_a_reasoning_object_with_a_literal_is_what_converting_it_gives(kind: Any) -> None:
    """A `reasoning` written as an object is built from its fields' values when they fit (a literal is tested
    when the spec compiles); one that does not fit is converted, with conversion's error."""
    plan = load_plan("gemini")
    response = {**plan.spec["response"], "kinds": {**plan.spec["response"]["kinds"],
                                                   "reasoning": {"reasoning": {"type": kind, "text": "$text"}}}}
    decoder: Any = compile_stream(plan.spec["stream"], response, "gemini")()
    event = SSEEvent("message", json.dumps(_event(content={"parts": [{"text": "a", "thought": True}]})))
    if isinstance(kind, str):
        detail = decoder.feed(event)[0].choices[0].delta.reasoning_details[0]
        assert (detail.type, detail.text) == (kind, "a")
    else:
        with pytest.raises(msgspec.ValidationError, match=r"\$\.type"):
            decoder.feed(event)
