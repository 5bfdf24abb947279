"""OpenTelemetry GenAI spans and metrics for the operations beside chat, recorded by the real SDK (in-memory
exporter and metric reader) over real HTTP to the local provider server: `embeddings` (input tokens only, the
requested dimensions and encoding) and image generation (`generate_content`, output type `image`), their failures
and retries, and the model events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from vllora_llm.client import VlloraLLMClient
from vllora_llm.error import InvalidRequestError
from vllora_llm.events import LlmStart, LlmStop, ModelEvent
from vllora_llm.testing import Fault, LocalProviderServer

KEY = "sk-telemetry-secret-0123456789"


class Otel:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

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
        return VlloraLLMClient.from_provider("openai", api_key=KEY, base_url=server.openai_base_url,
                                             tracer_provider=self.tracer_provider,
                                             meter_provider=self.meter_provider, **options)


@pytest.fixture
def otel() -> Iterator[Otel]:
    recorder = Otel()
    yield recorder
    recorder.tracer_provider.shutdown()
    recorder.meter_provider.shutdown()


async def test_embeddings_are_one_span_with_input_tokens_only(otel: Otel) -> None:
    async with LocalProviderServer() as server, otel.client(server) as client:
        result = await client.embeddings().create({"model": "text-embedding-3-small", "input": ["a b", "c"],
                                                   "dimensions": 8})
    span = otel.span()
    assert span.name == "embeddings text-embedding-3-small" and span.kind is SpanKind.CLIENT
    assert result.usage is not None and result.usage.prompt_tokens > 0
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "embeddings", "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "text-embedding-3-small", "gen_ai.request.encoding_formats": ("float",),
        "gen_ai.embeddings.dimension.count": 8, "server.address": "127.0.0.1", "server.port": server.port,
        "gen_ai.response.model": result.model, "gen_ai.usage.input_tokens": result.usage.prompt_tokens,
    }
    tokens = otel.points("gen_ai.client.token.usage")
    assert [(p.attributes["gen_ai.token.type"], p.sum) for p in tokens] == [("input", result.usage.prompt_tokens)]
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert duration.attributes["gen_ai.operation.name"] == "embeddings"


async def test_image_generation_is_a_generate_content_span(otel: Otel) -> None:
    async with LocalProviderServer() as server, otel.client(server) as client:
        result = await client.images().create({"model": "gpt-image-1", "prompt": "a lighthouse", "n": 2})
    span = otel.span()
    attributes = dict(span.attributes or {})
    assert span.name == "generate_content gpt-image-1" and len(result.data) == 2
    assert attributes["gen_ai.operation.name"] == "generate_content"
    assert attributes["gen_ai.output.type"] == "image" and attributes["gen_ai.request.choice.count"] == 2
    assert attributes["gen_ai.provider.name"] == "openai" and attributes["server.port"] == server.port
    assert result.usage is not None
    assert attributes["gen_ai.usage.input_tokens"] == result.usage.input_tokens
    assert attributes["gen_ai.usage.output_tokens"] == result.usage.output_tokens


async def test_failures_and_retries_are_on_the_operation_span(otel: Otel) -> None:
    async with LocalProviderServer() as server, otel.client(server, backoff_base=0.01) as client:
        server.faults.push(Fault(status=500))
        await client.embeddings().create({"model": "text-embedding-3-small", "input": "hi"})
        server.faults.push(Fault(status=400))
        with pytest.raises(InvalidRequestError):
            await client.images().create({"model": "gpt-image-1", "prompt": "a lighthouse"})
    retried, failed = otel.exporter.get_finished_spans()
    assert [event.name for event in retried.events] == ["vllora.retry"]
    assert failed.status.status_code is StatusCode.ERROR
    assert dict(failed.attributes or {})["error.type"] == "InvalidRequestError"


async def test_model_events_for_operations(otel: Otel) -> None:
    events: list[ModelEvent] = []
    async with LocalProviderServer() as server, otel.client(server, events=events.append) as client:
        result = await client.embeddings().create({"model": "text-embedding-3-small", "input": "hi"})
    start, stop = events
    assert isinstance(start, LlmStart) and (start.operation, start.provider_name) == ("embeddings", "openai")
    assert isinstance(stop, LlmStop) and stop.usage is not None and result.usage is not None
    assert stop.usage.prompt_tokens == result.usage.prompt_tokens
