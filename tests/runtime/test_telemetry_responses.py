"""OpenTelemetry GenAI spans and metrics for `client.responses()`, recorded by the real SDK (in-memory exporter and
metric reader) over real HTTP to the local provider server: one CLIENT span per call, plain or streamed, with the
request's settings, the `resp_…` id, finish reasons from the response's status, usage and the routed cost; failures
and retries on that span; the chat call underneath is not a second span, and tokens are counted once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from vllora_llm.client import VlloraLLMClient
from vllora_llm.error import StreamError
from vllora_llm.events import LlmContent, LlmFirstToken, LlmStart, LlmStop, ModelEvent
from vllora_llm.runtime.observe import CAPTURE_CONTENT_ENV
from vllora_llm.testing import Fault, LocalProviderServer, replay

KEY = "sk-telemetry-secret-0123456789"
MODEL = "claude-sonnet-4-5"
REQUEST: dict[str, Any] = {"model": MODEL, "instructions": "Be brief.", "input": "Say hi", "max_output_tokens": 64,
                           "temperature": 0.5, "top_p": 0.9, "provider_specific": {"top_k": 5}}
TOOLS = [{"type": "function", "name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
MIDSTREAM_ERROR = (Path(__file__).resolve().parents[1] / "recordings" / "anthropic"
                   / "stream_error_overloaded_midstream_handwritten.sse")


@dataclass
class Otel:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def span(self) -> ReadableSpan:
        spans = list(self.exporter.get_finished_spans())
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        if data is None:
            return []
        found = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics if m.name == name]
        return [p for m in found for p in m.data.data_points]

    def client(self, server: LocalProviderServer, **options: Any) -> VlloraLLMClient:
        return VlloraLLMClient.from_provider("anthropic", api_key=KEY, base_url=server.base_url_for("anthropic"),
                                             tracer_provider=self.tracer_provider,
                                             meter_provider=self.meter_provider, **options)


@pytest.fixture
def otel() -> Iterator[Otel]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Otel(exporter, reader, tracer_provider, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def attributes_of(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_a_responses_call_is_one_client_span(otel: Otel) -> None:
    async with LocalProviderServer() as server, otel.client(server) as client:
        response = await client.responses().create(REQUEST)
    span = otel.span()  # one span: the chat call underneath is not observed again
    assert span.name == f"chat {MODEL}" and span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert response.usage is not None
    assert attributes_of(span) == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic", "gen_ai.request.model": MODEL,
        "gen_ai.request.stream": False, "gen_ai.request.max_tokens": 64, "gen_ai.request.temperature": 0.5,
        "gen_ai.request.top_p": 0.9, "gen_ai.request.top_k": 5,
        "server.address": "127.0.0.1", "server.port": server.port,
        "gen_ai.response.id": response.id, "gen_ai.response.model": response.model,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": response.usage.input_tokens,
        "gen_ai.usage.output_tokens": response.usage.output_tokens,
        "gen_ai.usage.cache_read.input_tokens": 0, "gen_ai.usage.cache_creation.input_tokens": 0,
    }
    assert response.id.startswith("resp_")
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert duration.count == 1 and duration.attributes["gen_ai.operation.name"] == "chat"
    tokens = {p.attributes["gen_ai.token.type"]: p for p in otel.points("gen_ai.client.token.usage")}
    assert (tokens["input"].count, tokens["input"].sum) == (1, response.usage.input_tokens)  # counted once
    assert (tokens["output"].count, tokens["output"].sum) == (1, response.usage.output_tokens)


async def test_a_streamed_call_is_one_span_ended_with_the_stream(otel: Otel) -> None:
    request = {**REQUEST, "tools": TOOLS, "input": 'Use get_weather for "Paris"'}
    async with LocalProviderServer() as server, otel.client(server) as client, \
            client.responses().create_stream(request) as stream:
        await stream.__anext__()
        assert list(otel.exporter.get_finished_spans()) == []  # still running
        async for _ in stream:
            pass
    span = otel.span()
    attributes = attributes_of(span)
    response = stream.response
    assert attributes["gen_ai.request.stream"] is True and attributes["gen_ai.response.id"] == response.id
    assert attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert response.usage is not None and attributes["gen_ai.usage.output_tokens"] == response.usage.output_tokens
    ttfc = attributes["gen_ai.response.time_to_first_chunk"]
    assert isinstance(ttfc, float) and ttfc > 0
    (point,) = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert point.count == 1 and point.sum == pytest.approx(ttfc)
    tokens = {p.attributes["gen_ai.token.type"]: p for p in otel.points("gen_ai.client.token.usage")}
    assert tokens["output"].count == 1


async def test_a_stream_failing_mid_way_is_an_error_span(otel: Otel) -> None:
    async with LocalProviderServer() as server, otel.client(server, max_retries=0) as client:
        server.faults.push(replay(MIDSTREAM_ERROR, content_type="text/event-stream"))
        with pytest.raises(StreamError):
            async for _ in client.responses().create_stream(REQUEST):
                pass
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR and "Overloaded" in (span.status.description or "")
    assert attributes_of(span)["error.type"] == "StreamError"
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "StreamError"


async def test_retries_are_events_on_the_responses_span(otel: Otel) -> None:
    async with LocalProviderServer() as server, otel.client(server, backoff_base=0.01) as client:
        server.faults.push(Fault(status=429, headers={"retry-after-ms": "10"}))
        await client.responses().create(REQUEST)
        server.faults.push(Fault(status=429, headers={"retry-after-ms": "10"}))
        async for _ in client.responses().create_stream(REQUEST):
            pass
    spans = list(otel.exporter.get_finished_spans())
    assert len(spans) == 2
    for span in spans:
        (retry,) = [event for event in span.events if event.name == "vllora.retry"]
        assert (retry.attributes or {})["http.response.status_code"] == 429


async def test_left_early_or_cancelled_ends_the_span(otel: Otel) -> None:
    async with LocalProviderServer() as server, otel.client(server) as client:
        async with client.responses().create_stream(REQUEST) as stream:
            async for _ in stream:
                break
        assert len(otel.exporter.get_finished_spans()) == 1  # ended by leaving the block
        server.faults.push(Fault(stall_after_chunks=4))
        reading = asyncio.Event()

        async def consume() -> None:
            async for event in client.responses().create_stream(REQUEST):
                if event.type == "response.output_text.delta":
                    reading.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(reading.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    early, cancelled = otel.exporter.get_finished_spans()
    assert early.status.status_code is StatusCode.UNSET and "error.type" not in attributes_of(early)
    assert attributes_of(early)["gen_ai.response.id"].startswith("resp_")
    assert attributes_of(cancelled)["error.type"] == "CancelledError"


async def test_content_is_recorded_only_when_opted_in(otel: Otel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "true")
    async with LocalProviderServer() as server, otel.client(server) as client:
        response = await client.responses().create(REQUEST)
    attributes = attributes_of(otel.span())
    assert json.loads(attributes["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Say hi"}]}]
    assert json.loads(attributes["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": response.output_text}], "finish_reason": "stop"}]
    assert KEY not in json.dumps(attributes)
    otel.exporter.clear()
    async with LocalProviderServer() as server, otel.client(server) as client:  # a turn with no input of its own
        await client.responses().create({"model": MODEL, "input": "", "previous_response_id": (
            await client.responses().create({"model": MODEL, "input": "hi"})).id})
    assert json.loads(attributes_of(list(otel.exporter.get_finished_spans())[-1])["gen_ai.input.messages"]) == []


async def test_model_events_once_per_call(otel: Otel) -> None:
    events: list[ModelEvent] = []
    async with LocalProviderServer() as server, otel.client(server, events=events.append) as client:
        response = await client.responses().create(REQUEST)
        async for _ in client.responses().create_stream(REQUEST):
            pass
    kinds = [type(event).__name__ for event in events]
    assert kinds.count("LlmStart") == 2 and kinds.count("LlmStop") == 2 and kinds.count("LlmFirstToken") == 1
    start = next(event for event in events if isinstance(event, LlmStart))
    assert (start.operation, start.model_name, start.provider_name) == ("chat", MODEL, "anthropic")
    stops = [event for event in events if isinstance(event, LlmStop)]
    assert stops[0].finish_reason == "stop" and stops[0].usage is not None
    assert stops[0].usage.completion_tokens == (response.usage.output_tokens if response.usage else None)
    streamed = "".join(e.content for e in events[kinds.index("LlmFirstToken"):] if isinstance(e, LlmContent))
    assert streamed == response.output_text and any(isinstance(e, LlmFirstToken) for e in events)


async def test_routed_cost_is_on_the_span(otel: Otel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_KEY", KEY)
    async with LocalProviderServer() as server:
        config = tmp_path / "models.yaml"
        config.write_text(f"""
- model: assistant
  inference_provider: {{provider: anthropic, model_name: {MODEL}}}
  base_url: {server.base_url_for("anthropic")}
  api_key_env: LOCAL_KEY
  price: {{per_input_token: 3.0, per_output_token: 15.0}}
""")
        async with VlloraLLMClient.from_config(config, tracer_provider=otel.tracer_provider,
                                               meter_provider=otel.meter_provider) as client:
            response = await client.responses().create({"model": "assistant", "input": "hi"})
    attributes = attributes_of(otel.span())
    assert response.usage is not None
    expected = (response.usage.input_tokens * 3.0 + response.usage.output_tokens * 15.0) / 1e6
    assert attributes["vllora.cost.usd"] == pytest.approx(expected)
    assert attributes["gen_ai.provider.name"] == "anthropic" and attributes["gen_ai.request.model"] == "assistant"
