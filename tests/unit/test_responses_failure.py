"""A broken chat stream as Responses events, without I/O: `fail()` ends with `error` then `response.failed`, whose
`Response` keeps the closed items as they were and the open ones (reasoning with its signature, a half-streamed
function call) as `incomplete`, in output order; every object validates as the official openai SDK's."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.responses import ResponseStreamEvent as SdkEvent
from pydantic import TypeAdapter

from vllora_llm.engine.responses_map import response_shell
from vllora_llm.engine.responses_stream import ResponseEventBuilder, failure_code
from vllora_llm.error import LLMError, RateLimitError, StreamError, TimeoutError
from vllora_llm.types.gateway import ChatCompletionChunk
from vllora_llm.types.responses import CreateResponse

EVENTS: TypeAdapter[Any] = TypeAdapter(SdkEvent)


def chunk(delta: dict[str, Any]) -> ChatCompletionChunk:
    return ChatCompletionChunk.from_dict({"id": "c", "created": 1, "model": "m", "object": "chat.completion.chunk",
                                          "choices": [{"index": 0, "delta": delta}]})


def test_fail_closes_nothing_and_reports_the_items_so_far() -> None:
    builder = ResponseEventBuilder(response_shell(CreateResponse(model="m", input="hi"), "resp_1", 1.0))
    builder.start()
    builder.feed(chunk({"content": "Let me look."}))  # closed by the call below: completed
    builder.feed(chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                        "function": {"name": "f", "arguments": '{"a":'}}]}))
    builder.fail(TimeoutError("no data for 0.3 s (read timeout)", provider="openai"))
    events = list(builder.out)
    for event in events:
        EVENTS.validate_python(event.to_dict())
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert [event.type for event in events][-2:] == ["error", "response.failed"]
    assert "response.function_call_arguments.done" not in [event.type for event in events]
    response = events[-1].response
    assert response.status == "failed" and response.error is not None
    assert (response.error.code, response.error.type) == ("server_error", None)
    assert response.error.message == events[-2].message == "openai: no data for 0.3 s (read timeout)"
    assert [(item.type, item.status) for item in response.output] == [("message", "completed"),
                                                                        ("function_call", "incomplete")]
    assert response.output[1].arguments == '{"a":' and response.output[1].call_id == "call_1"


def test_open_reasoning_keeps_its_signature() -> None:
    builder = ResponseEventBuilder(response_shell(CreateResponse(model="m", input="hi"), "resp_1", 1.0))
    builder.start()
    builder.feed(chunk({"reasoning": "hmm", "reasoning_details": [{"type": "thinking", "signature": "sig"}]}))
    builder.fail(StreamError("boom"))
    response = builder.out[-1].response
    assert [(item.type, item.status, item.encrypted_content) for item in response.output] == [
        ("reasoning", "incomplete", "sig")]
    assert response.output[0].summary[0].text == "hmm"


@pytest.mark.parametrize(("err", "code"), [
    (RateLimitError("slow down", status=429), "rate_limit_exceeded"),
    (StreamError("limit", error_type="rate_limit_error"), "rate_limit_exceeded"),
    (StreamError("Overloaded", error_type="overloaded_error"), "server_error"),
    (LLMError("anything"), "server_error"),
])
def test_failure_codes_are_openais(err: LLMError, code: str) -> None:
    assert failure_code(err) == code
