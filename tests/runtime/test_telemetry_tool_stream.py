"""A streamed tool loop is one observed call, like `create()`'s: over real HTTP to the local provider server, a
Python tool the model calls, then the answer; the OpenTelemetry SDK's in-memory exporter sees one `chat` span
(stream, first chunk, the final answer's finish reason, usage summed over the turns) with one `execute_tool` child
span, and the model events come once, in order."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from vllora_llm.client import VlloraLLMClient
from vllora_llm.error import InvalidRequestError
from vllora_llm.events import LlmStart, LlmStop, ModelEvent, ToolResult, ToolStart
from vllora_llm.testing import Fault, LocalProviderServer
from vllora_llm.tool import tool

REQUEST = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": 'Use get_weather for "Paris"'}]}


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


async def test_a_streamed_tool_loop_is_one_span_with_tool_children(
    spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = spans
    events: list[ModelEvent] = []
    async with LocalProviderServer() as server, VlloraLLMClient.from_provider(
            "openai", api_key="k-0123456789", base_url=server.openai_base_url, tracer_provider=provider,
            events=events.append) as client:
        stream = client.completions().create_stream(REQUEST, tools=[get_weather])
        async for _ in stream:
            pass
        response = stream.response
    assert "sunny in Paris" in (response.text() or "")
    by_name = {span.name: span for span in exporter.get_finished_spans()}
    assert set(by_name) == {"chat gpt-4.1-mini", "execute_tool get_weather"}
    chat, run = by_name["chat gpt-4.1-mini"], by_name["execute_tool get_weather"]
    assert run.parent is not None and run.parent.span_id == chat.get_span_context().span_id
    attributes = dict(chat.attributes or {})
    assert attributes["gen_ai.request.stream"] is True and attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.provider.name"] == "openai" and attributes["server.port"] == server.port
    assert "gen_ai.response.time_to_first_chunk" in attributes
    assert response.usage is not None and len(server.requests) == 2
    assert attributes["gen_ai.usage.output_tokens"] == response.usage.completion_tokens  # both turns
    kinds = [type(event).__name__ for event in events]
    assert kinds[0] == "LlmStart" and kinds[-1] == "LlmStop" and kinds.count("LlmStop") == 1
    assert kinds.index("ToolStart") < kinds.index("ToolResult")
    assert isinstance(events[0], LlmStart) and isinstance(events[-1], LlmStop)
    assert [e.output for e in events if isinstance(e, ToolResult)] == ["sunny in Paris"]
    assert [e.tool_name for e in events if isinstance(e, ToolStart)] == ["get_weather"]


async def test_a_failing_turn_fails_the_loops_span(spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    async with LocalProviderServer() as server, VlloraLLMClient.from_provider(
            "openai", api_key="k-0123456789", base_url=server.openai_base_url, tracer_provider=provider,
            max_retries=0) as client:
        server.faults.push(Fault(), Fault(status=400))  # the first turn answers, the second fails
        with pytest.raises(InvalidRequestError, match="400"):
            async for _ in client.completions().create_stream(REQUEST, tools=[get_weather]):
                pass
    by_name = {span.name: span for span in exporter.get_finished_spans()}
    chat = by_name["chat gpt-4.1-mini"]
    assert chat.status.status_code is StatusCode.ERROR
    assert dict(chat.attributes or {})["error.type"] == "InvalidRequestError"
