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

from vllora_llm.engine.errors import InvalidRequestError, StreamError
from vllora_llm.engine.gateway import (
    ChatCompletionChunk,
    ChoiceDelta,
    ChunkChoice,
    FunctionCallDelta,
    ReasoningDetail,
    ToolCallDelta,
)
from vllora_llm.engine.paths import compile_getter
from vllora_llm.engine.registry import load_plan
from vllora_llm.engine.response import FinishMap, UsageMap, build_usage
from vllora_llm.engine.stream_base import stream_error
from vllora_llm.engine.transforms import Context
from vllora_llm.runtime.sse import SSEEvent, SSEParser

from ._reference import reference_read_choice

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings" / "gemini"


def _outcome(decoder: Any, frame: Any) -> Any:
    try:
        return msgspec.json.encode(decoder.feed(frame))
    except Exception as exc:  # the error itself is what is compared
        return (type(exc), str(exc))


class Reference:
    """A whole-response stream decoder written plainly (no generated code, no views)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        response, stream = spec["response"], spec["stream"]
        self.read_choice = reference_read_choice(response)
        self.choices = compile_getter(response["choices"])
        self.error = compile_getter(stream["error_when"])
        self.blocked = compile_getter(response["blocked"]["when"])
        self.ident, self.model = compile_getter(response["id"]), compile_getter(response["model"])
        self.usage_map = UsageMap(response.get("usage"))
        self.finish = FinishMap(response.get("finish_reason"))
        self.ctx = Context("gemini")
        self.calls: dict[int, int] = {}
        self.usage: dict[str, int] = {}
        self.done = False

    def feed(self, frame: Any) -> list[ChatCompletionChunk]:
        out: list[ChatCompletionChunk] = []
        data = frame.payload
        if not data or data.isspace():
            return out
        try:
            body = msgspec.json.decode(data)
        except msgspec.DecodeError:
            raise StreamError(f"a stream event is not valid JSON: {data[:200]!r}", provider="gemini") from None
        if (error := self.error(body)) is not None:
            raise stream_error(error, "gemini")
        choices = self.choices(body)
        if not choices and (reason := self.blocked(body)) is not None:
            raise InvalidRequestError(f"the prompt was blocked ({reason})", provider="gemini", error_type=str(reason),
                                      body=body)
        if choices and type(choices) is not list:
            raise StreamError(f"an event's choices are a {type(choices).__name__}, not a list: "
                              f"{str(choices)[:80]!r}", provider="gemini")
        chosen = [self._choice(position, raw) for position, raw in enumerate(choices or ())]
        self.usage.update(self.usage_map.read(body, self.ctx))
        if chosen:
            ident, model = self.ident(body), self.model(body)
            out.append(ChatCompletionChunk(id=str(ident) if ident is not None else None,
                                           model=str(model) if model is not None else None, choices=chosen))
        if self.done and self.usage:
            out.append(ChatCompletionChunk(choices=[], usage=build_usage(self.usage)))
            self.usage = {}
        return out

    def _choice(self, position: int, raw: Any) -> ChunkChoice:
        index, pieces, raw_reason = self.read_choice(raw, self.ctx)
        if type(index) is not int:
            index = position
        texts: list[str] = []
        calls: list[ToolCallDelta] = []
        details: list[ReasoningDetail] = []
        reasoning: str | None = None
        for piece in pieces:
            if isinstance(text := piece.get("text"), str):
                texts.append(text)
                if "reasoning" in piece:
                    details.append(msgspec.convert(piece["reasoning"], ReasoningDetail))
            elif "tool_call" in piece:
                call = piece["tool_call"]
                n = self.calls.get(index, 0)
                self.calls[index] = n + 1
                calls.append(ToolCallDelta(index=n, id=call.get("id") or f"call_{index}_{n}", type="function",
                                           signature=call.get("signature"),
                                           function=FunctionCallDelta(name=call.get("name"),
                                                                      arguments=call.get("arguments") or "{}")))
            elif "reasoning" in piece:
                detail = msgspec.convert(piece["reasoning"], ReasoningDetail)
                reasoning = (reasoning or "") + (detail.text or "")
                details.append(detail)
        delta = ChoiceDelta(content="".join(texts) if texts else None, tool_calls=calls or None,
                            reasoning=reasoning, reasoning_details=details or None)
        reason = None if raw_reason is None else self.finish.translate(raw_reason, bool(self.calls.get(index)))
        if reason is not None:
            self.done = True
        return ChunkChoice(delta=delta, index=index, finish_reason=reason)


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
    fast, general = plan.stream_decoder(), Reference(plan.spec)
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
    _event(content={"parts": [{"text": "a", "thought": True, "thoughtSignature": "s"}, {"text": "b"}]}),
    _event(content={"parts": [{"text": 1}, {"text": None, "thoughtSignature": "s"}]}),
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
