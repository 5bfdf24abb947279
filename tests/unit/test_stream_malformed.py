"""A stream decoder's frame loop turns what reading an event raised into a `StreamError` naming the event, with one
try around the whole loop. That StreamError is chained to the exception (`raise ... from`) and its message names the
exception's type: a payload that does not fit (msgspec's `ValidationError`, a reader's `TypeError`) reads as such,
while a bug of ours caught by the same try (here: a runtime handing the decoder something that is not a frame) shows
its own type and a traceback down to the line that raised, the generated lines included (they are in `linecache`)."""

from __future__ import annotations

import json
import linecache
from types import TracebackType
from typing import Any

import msgspec
import pytest

from vllora_llm.engine.errors import ProviderError, StreamError
from vllora_llm.engine.frames import Frame
from vllora_llm.engine.registry import load_plan
from vllora_llm.runtime.limits import Limits
from vllora_llm.runtime.provider_stream import FRAMERS
from vllora_llm.runtime.sse import SSEEvent

WRONG_TYPES = [  # (provider, an event whose field has the wrong type, what raised, what the message says)
    ("gemini", SSEEvent("message", json.dumps({"candidates": [{"index": 0, "content": {"role": "model", "parts": [
        {"text": "Let me think", "thought": True, "thoughtSignature": 7}]}}]})),
     msgspec.ValidationError, "ValidationError: Expected `str | null`, got `int`"),
    ("anthropic", SSEEvent("content_block_start", json.dumps({"type": "content_block_start", "index": 0,
                                                              "content_block": {"type": "tool_use", "id": "t",
                                                                                "name": 5, "input": {}}})),
     TypeError, "TypeError: a tool call's name is a int, not a string"),
]


def raised(name: str, frame: Any) -> StreamError:
    with pytest.raises(StreamError) as caught:
        load_plan(name).stream_decoder().feed_all([frame], [])
    assert caught.value.provider == name
    return caught.value


def innermost(tb: TracebackType | None) -> TracebackType:
    assert tb is not None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb


@pytest.mark.parametrize(("name", "frame", "cause", "says"), WRONG_TYPES, ids=[case[0] for case in WRONG_TYPES])
def test_a_payload_that_does_not_fit_is_a_stream_error_chained_to_what_raised(
        name: str, frame: SSEEvent, cause: type[Exception], says: str) -> None:
    error = raised(name, frame)
    assert type(error.__cause__) is cause
    assert says in str(error) and f"a {frame.name!r} stream event does not fit" in str(error)


@pytest.mark.parametrize("name", ["anthropic", "gemini", "openai"])  # events, whole-response, passthrough modes
def test_a_bug_of_ours_in_the_frame_loop_shows_its_type_and_where_it_raised(name: str) -> None:
    error = raised(name, object())  # (not a frame: reading its fields raises AttributeError in our own loop)
    assert isinstance(error.__cause__, AttributeError)
    assert "AttributeError: 'object' object has no attribute" in str(error)
    last = innermost(error.__cause__.__traceback__)
    source = linecache.getline(last.tb_frame.f_code.co_filename, last.tb_lineno)
    assert "frame." in source  # the line that read the not-a-frame, generated or written by hand


RESPONSES = [  # (provider, a whole response with a field of the wrong type, what raised, what the message says)
    ("anthropic", {"id": "m", "type": "message", "role": "assistant", "model": "c", "stop_reason": "tool_use",
                   "content": [{"type": "tool_use", "id": "t", "name": 5, "input": {}}]},
     TypeError, "TypeError: a tool call's name is a int, not a string"),
]


@pytest.mark.parametrize(("name", "body", "cause", "says"), RESPONSES, ids=[case[0] for case in RESPONSES])
def test_a_whole_response_that_does_not_fit_is_a_provider_error_chained_to_what_raised(
        name: str, body: dict[str, Any], cause: type[Exception], says: str) -> None:
    with pytest.raises(ProviderError) as caught:
        load_plan(name).decode(200, {"content-type": "application/json"}, json.dumps(body).encode())
    assert type(caught.value.__cause__) is cause
    assert says in str(caught.value) and "does not fit the response mapping" in str(caught.value)


@pytest.mark.parametrize(("name", "frame", "cause", "says"), WRONG_TYPES, ids=[case[0] for case in WRONG_TYPES])
def test_the_runtime_framers_frames_fail_as_their_sse_events_do(
        name: str, frame: SSEEvent, cause: type[Exception], says: str) -> None:
    """The runtime's SSE framer hands a `message` event over as its payload (a str) and any other event as a Frame
    (engine/frames.py): the error still names the event and previews its payload, word for word."""
    plan = load_plan(name)
    wire = (f"event: {frame.event}\n" if frame.event != "message" else "") + f"data: {frame.data}\n\n"
    frames = FRAMERS[plan.framing](plan, Limits()).feed(wire.encode())
    assert frames == [frame.data if frame.event == "message" else Frame(frame.event, frame.data)]
    error = raised(name, frames[0])
    assert type(error.__cause__) is cause
    assert str(error) == str(raised(name, frame)) and error.body == raised(name, frame).body
