"""OpenTelemetry GenAI spans and metrics, recorded by the real SDK (in-memory exporter and metric reader), for
calls over real HTTP to the local provider server: chat, streams (whole, left early, cancelled), errors,
retries, fallbacks, the content opt-in and trace-context propagation. Attributes are checked against the
conventions (names, types, values, bucket boundaries)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
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

from vllora_llm.client import DummyModelInstance, VlloraLLMClient
from vllora_llm.engine.gateway import ChatCompletionMessageWithFinishReason, ChatCompletionRequest
from vllora_llm.error import InvalidRequestError, StreamError
from vllora_llm.events import LlmStart, LlmStop, ModelEvent, ToolResult, ToolStart
from vllora_llm.runtime.observe import CAPTURE_CONTENT_ENV, CURRENT
from vllora_llm.runtime.otel import DURATION_BUCKETS, FIRST_CHUNK_BUCKETS, TOKEN_BUCKETS
from vllora_llm.testing import Fault, LocalProviderServer

KEY = "sk-telemetry-secret-0123456789"
REQUEST: dict[str, Any] = {
    "model": "gpt-4.1-mini",
    "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi"}],
    "max_tokens": 64, "temperature": 0.5, "top_p": 0.9, "seed": 7, "stop": ["END"],
    "presence_penalty": 0.1, "frequency_penalty": 0.2,
}


@dataclass
class Otel:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self) -> ReadableSpan:
        spans = self.spans()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        found = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics if m.name == name]
        return [p for m in found for p in m.data.data_points]

    def client(self, server: LocalProviderServer, provider: str = "openai", **options: Any) -> VlloraLLMClient:
        return VlloraLLMClient.from_provider(provider, api_key=KEY, base_url=server.base_url_for(provider),
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


def _attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_a_chat_call_is_one_client_span_with_the_conventions_attributes(otel: Otel) -> None:
    async with LocalProviderServer() as server, otel.client(server) as client:
        response = await client.completions().create(REQUEST)
    span = otel.span()
    attributes = _attributes(span)
    assert span.name == "chat gpt-4.1-mini" and span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert response.usage is not None
    assert attributes == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4.1-mini", "gen_ai.request.stream": False,
        "gen_ai.request.max_tokens": 64, "gen_ai.request.temperature": 0.5, "gen_ai.request.top_p": 0.9,
        "gen_ai.request.seed": 7, "gen_ai.request.stop_sequences": ("END",),
        "gen_ai.request.presence_penalty": 0.1, "gen_ai.request.frequency_penalty": 0.2,
        "server.address": "127.0.0.1", "server.port": server.port,
        "gen_ai.response.id": response.id, "gen_ai.response.model": response.model,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": response.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": response.usage.completion_tokens,
        "gen_ai.usage.cache_read.input_tokens": 0, "gen_ai.usage.reasoning.output_tokens": 0,
    }
    assert not any(key.startswith(("gen_ai.input", "gen_ai.output", "gen_ai.system")) for key in attributes)
    assert span.instrumentation_scope is not None and span.instrumentation_scope.name == "vllora_llm"

    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert duration.count == 1 and tuple(duration.explicit_bounds) == DURATION_BUCKETS
    assert dict(duration.attributes) == {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4.1-mini",
        "gen_ai.response.model": response.model, "server.address": "127.0.0.1", "server.port": server.port,
    }
    tokens = {p.attributes["gen_ai.token.type"]: p for p in otel.points("gen_ai.client.token.usage")}
    assert tokens["input"].sum == response.usage.prompt_tokens
    assert tokens["output"].sum == response.usage.completion_tokens
    assert tuple(tokens["input"].explicit_bounds) == TOKEN_BUCKETS
    assert otel.points("gen_ai.client.operation.time_to_first_chunk") == []  # streams only


async def test_provider_names_and_cache_and_reasoning_tokens_come_from_the_spec_and_usage(otel: Otel) -> None:
    body = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": "hi"}], "stop_reason": "max_tokens",
            "usage": {"input_tokens": 10, "cache_read_input_tokens": 30, "cache_creation_input_tokens": 20,
                      "output_tokens": 12, "output_tokens_details": {"thinking_tokens": 7}}}
    async with LocalProviderServer() as server:
        server.faults.push(Fault(replay_body=json.dumps(body).encode(), content_type="application/json"))
        async with otel.client(server, "anthropic") as client:
            await client.completions().create({**REQUEST, "model": "claude-sonnet-4-5", "provider_specific":
                                               {"top_k": 5}, "presence_penalty": None, "frequency_penalty": None,
                                               "seed": None})
        async with otel.client(server, "gemini") as client:
            await client.completions().create({**REQUEST, "model": "gemini-2.5-flash"})
    anthropic, gemini = otel.spans()
    attributes = _attributes(anthropic)
    assert attributes["gen_ai.provider.name"] == "anthropic"
    assert attributes["gen_ai.request.top_k"] == 5
    assert attributes["gen_ai.response.finish_reasons"] == ("length",)  # the unified vocabulary
    assert attributes["gen_ai.usage.input_tokens"] == 60  # cached input included, as the conventions define it
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 30
    assert attributes["gen_ai.usage.cache_creation.input_tokens"] == 20
    assert attributes["gen_ai.usage.reasoning.output_tokens"] == 7
    assert _attributes(gemini)["gen_ai.provider.name"] == "gcp.gemini"


async def test_a_stream_span_ends_with_the_stream_and_records_the_first_chunk(otel: Otel) -> None:
    async with LocalProviderServer() as server, otel.client(server) as client:
        stream = await client.completions().create_stream(REQUEST)
        first = await stream.__anext__()
        assert first is not None and otel.spans() == []  # still running
        async for _ in stream:
            pass
        response = stream.response
    span = otel.span()
    attributes = _attributes(span)
    assert span.name == "chat gpt-4.1-mini" and attributes["gen_ai.request.stream"] is True
    assert span.status.status_code is StatusCode.UNSET
    ttfc = attributes["gen_ai.response.time_to_first_chunk"]
    assert isinstance(ttfc, float) and 0 < ttfc < (span.end_time - span.start_time) / 1e9  # type: ignore[operator]
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert response.usage is not None
    assert attributes["gen_ai.usage.output_tokens"] == response.usage.completion_tokens
    (point,) = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert point.count == 1 and point.sum == pytest.approx(ttfc)
    assert tuple(point.explicit_bounds) == FIRST_CHUNK_BUCKETS


async def test_a_stream_left_early_ends_its_span_without_an_error(otel: Otel) -> None:
    async with LocalProviderServer() as server, otel.client(server) as client:
        async with client.completions().create_stream(REQUEST) as stream:
            async for _ in stream:
                break
        assert len(otel.spans()) == 1  # ended by leaving the block, not by the end of the body
        async for _ in client.completions().create_stream(REQUEST):  # a bare loop: ended when dropped
            break
    spans = otel.spans()
    assert len(spans) == 2
    for span in spans:
        assert span.status.status_code is StatusCode.UNSET and "error.type" not in _attributes(span)
        assert "gen_ai.response.time_to_first_chunk" in _attributes(span)


async def test_a_stream_never_opened_was_never_a_call(otel: Otel) -> None:
    events: list[ModelEvent] = []
    async with LocalProviderServer() as server, otel.client(server, events=events.append) as client:
        stream = client.completions().create_stream(REQUEST)
        del stream
        assert server.requests == []
    assert otel.spans() == [] and events == []


async def test_a_cancelled_stream_ends_its_span_as_cancelled(otel: Otel) -> None:
    async with LocalProviderServer() as server, otel.client(server) as client:
        server.faults.push(Fault(stall_after_chunks=2))
        reading = asyncio.Event()

        async def consume() -> None:
            async for _ in client.completions().create_stream(REQUEST):
                reading.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(reading.wait(), 5)
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    span = otel.span()
    assert _attributes(span)["error.type"] == "CancelledError"
    assert span.status.status_code is StatusCode.ERROR


async def test_a_failed_call_has_error_type_and_an_error_status(otel: Otel) -> None:
    async with LocalProviderServer() as server, otel.client(server, max_retries=0) as client:
        server.faults.push(Fault(status=400))
        with pytest.raises(InvalidRequestError):
            await client.completions().create(REQUEST)
        server.faults.push(Fault(cut_after_chunks=2))
        with pytest.raises(StreamError):
            async for _ in client.completions().create_stream(REQUEST):
                pass
    whole, streamed = otel.spans()
    assert _attributes(whole)["error.type"] == "InvalidRequestError"
    assert _attributes(streamed)["error.type"] == "StreamError"
    for span in (whole, streamed):
        assert span.status.status_code is StatusCode.ERROR and KEY not in (span.status.description or "")
    errors = [p for p in otel.points("gen_ai.client.operation.duration") if "error.type" in p.attributes]
    assert sorted(p.attributes["error.type"] for p in errors) == ["InvalidRequestError", "StreamError"]


async def test_each_retry_is_a_span_event(otel: Otel) -> None:
    async with LocalProviderServer() as server:
        server.faults.push(Fault(status=503, times=2))
        async with otel.client(server, max_retries=2, backoff_base=0.001) as client:
            await client.completions().create(REQUEST)
        server.faults.push(Fault(status=429, headers={"retry-after-ms": "1"}))
        async with otel.client(server, max_retries=1) as client:
            async for _ in client.completions().create_stream(REQUEST):
                pass
    whole, streamed = otel.spans()
    retries = [e for e in whole.events if e.name == "vllora.retry"]
    assert [dict(e.attributes or {})["vllora.retry.attempt"] for e in retries] == [2, 3]
    assert dict(retries[0].attributes or {})["http.response.status_code"] == 503
    assert dict(retries[0].attributes or {})["error.type"] == "ProviderError"
    assert whole.status.status_code is StatusCode.UNSET
    (retry,) = [e for e in streamed.events if e.name == "vllora.retry"]
    assert dict(retry.attributes or {})["http.response.status_code"] == 429
    assert dict(retry.attributes or {})["vllora.retry.delay_s"] == pytest.approx(0.001)


async def test_a_fallback_hop_is_a_span_event_and_cost_is_recorded(
    otel: Otel, routes_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTE_PRIMARY_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    async with LocalProviderServer() as server:
        server.faults.push(Fault(status=503))
        async with VlloraLLMClient.from_config(routes_file(server), max_retries=0,
                                               tracer_provider=otel.tracer_provider,
                                               meter_provider=otel.meter_provider) as client:
            response = await client.completions().create({**REQUEST, "model": "primary"})
            server.faults.push(Fault(status=503))
            async for _ in client.completions().create_stream({**REQUEST, "model": "primary"}):
                pass
    for span in otel.spans():
        attributes = _attributes(span)
        assert span.name == "chat primary" and attributes["gen_ai.provider.name"] == "openai"
        assert attributes["gen_ai.response.model"] == "gpt-4.1-nano"
        (hop,) = [e for e in span.events if e.name == "vllora.fallback"]
        assert dict(hop.attributes or {}) == {"vllora.fallback.from": "openai/gpt-4.1-mini",
                                              "vllora.fallback.to": "openai/gpt-4.1-nano",
                                              "error.type": "ProviderError"}
        assert response.usage is not None
        assert attributes["vllora.cost.usd"] == pytest.approx(response.usage.cost)
        assert attributes["vllora.cost.usd"] > 0


async def test_message_content_only_when_opted_in_and_never_the_key(
    otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    leaky = {**REQUEST, "messages": [*REQUEST["messages"][:1], {"role": "user", "content": f"my key is {KEY}"}]}
    async with LocalProviderServer() as server, otel.client(server) as client:
        await client.completions().create(leaky)
        monkeypatch.setenv(CAPTURE_CONTENT_ENV, "true")
        await client.completions().create(leaky)
        async for _ in client.completions().create_stream(leaky):
            pass
    plain, captured, streamed = otel.spans()
    assert not any(k.startswith(("gen_ai.input", "gen_ai.output")) for k in _attributes(plain))
    for span in (captured, streamed):
        attributes = _attributes(span)
        assert KEY not in json.dumps(attributes)
        assert json.loads(attributes["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
        assert json.loads(attributes["gen_ai.input.messages"]) == [
            {"role": "user", "parts": [{"type": "text", "content": "my key is [REDACTED]"}]}]
        (output,) = json.loads(attributes["gen_ai.output.messages"])
        assert output["role"] == "assistant" and output["finish_reason"] == "stop"
        assert output["parts"][0]["type"] == "text" and "[REDACTED]" in output["parts"][0]["content"]


async def test_trace_context_goes_to_the_provider_only_when_the_spec_allows_it(otel: Otel, tmp_path: Path) -> None:
    (tmp_path / "traced.yaml").write_text(
        "apiVersion: vllora.dev/v1\nkind: ProviderSpec\nmetadata: {name: traced, revision: 1}\nextends: openai\n"
        "endpoint: {propagate_trace_context: true}\n")
    async with LocalProviderServer() as server:
        async with otel.client(server) as client:
            await client.completions().create(REQUEST)
        assert "traceparent" not in server.last_request.headers
        async with VlloraLLMClient.from_provider("traced", api_key=KEY, base_url=server.openai_base_url,
                                                 spec_path=[tmp_path], tracer_provider=otel.tracer_provider) as client:
            await client.completions().create(REQUEST)
            traced = server.last_request.headers["traceparent"]
            async for _ in client.completions().create_stream(REQUEST):
                pass
            streamed = server.last_request.headers["traceparent"]
        async with VlloraLLMClient.from_provider("traced", api_key=KEY, base_url=server.openai_base_url,
                                                 spec_path=[tmp_path]) as client:
            await client.completions().create(REQUEST)  # no tracer provider: nothing to propagate
        assert "traceparent" not in server.last_request.headers
    _, whole, stream = otel.spans()
    for header, span in ((traced, whole), (streamed, stream)):
        context = span.get_span_context()
        version, trace_id, span_id, flags = header.split("-")
        assert (version, trace_id, span_id) == ("00", f"{context.trace_id:032x}", f"{context.span_id:016x}")
        assert int(flags, 16) & 1  # sampled
        assert _attributes(span)["gen_ai.provider.name"] == "traced"  # a spec without its own name: its name


class _ToolRunningInstance(DummyModelInstance):
    """Runs two tools inside the call, the way the library's own tool loop reports them to the seam."""

    async def complete(self, request: ChatCompletionRequest) -> ChatCompletionMessageWithFinishReason:
        observation = CURRENT.get()
        assert observation is not None
        observation.tool("lookup", "call_1", '{"q": "x"}').finish("42")
        observation.tool("explode", "call_2", "{}").fail(RuntimeError("boom"))
        return await super().complete(request)


async def test_tools_run_by_the_library_are_child_execute_tool_spans_and_events(otel: Otel) -> None:
    events: list[ModelEvent] = []
    client = VlloraLLMClient.new_with_instance(_ToolRunningInstance("done"), events=events.append,
                                               tracer_provider=otel.tracer_provider)
    await client.completions().create(REQUEST)
    lookup, explode, chat = otel.spans()
    assert chat.name == "chat gpt-4.1-mini" and _attributes(chat)["gen_ai.provider.name"] == "vllora.dummy"
    for tool, name, call_id in ((lookup, "lookup", "call_1"), (explode, "explode", "call_2")):
        assert tool.name == f"execute_tool {name}" and tool.kind is SpanKind.INTERNAL
        assert tool.parent is not None and tool.parent.span_id == chat.get_span_context().span_id
        assert tool.get_span_context().trace_id == chat.get_span_context().trace_id
        assert {k: v for k, v in _attributes(tool).items() if k != "error.type"} == {
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name, "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.type": "function"}
    assert lookup.status.status_code is StatusCode.UNSET
    assert explode.status.status_code is StatusCode.ERROR and _attributes(explode)["error.type"] == "RuntimeError"
    tools = [e for e in events if isinstance(e, ToolStart | ToolResult)]
    assert tools == [ToolStart("lookup", "call_1", '{"q": "x"}'), ToolResult("lookup", "call_1", "42"),
                     ToolStart("explode", "call_2", "{}"), ToolResult("explode", "call_2", "boom", is_error=True)]
    assert isinstance(events[0], LlmStart) and isinstance(events[-1], LlmStop)


async def test_the_tool_loop_reports_each_tool_run_as_a_child_span(otel: Otel) -> None:
    """The library's own tool loop (a Python tool, a scripted model): one chat span for the whole loop, one
    `execute_tool` child span per tool run, a failing run an ERROR span, the events in order."""
    from vllora_llm.tool import tool

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @tool
    def fail() -> str:
        """Always fails."""
        raise RuntimeError("boom")

    script = [[DummyModelInstance.tool_call("add", {"a": 2, "b": 3}), DummyModelInstance.tool_call("fail", {})],
              "2 + 3 = 5."]
    events: list[ModelEvent] = []
    client = VlloraLLMClient.new_with_instance(DummyModelInstance(script=script), events=events.append,
                                               tracer_provider=otel.tracer_provider)
    response = await client.completions().create(REQUEST, tools=[add, fail])
    assert response.text() == "2 + 3 = 5."
    spans = {span.name: span for span in otel.spans()}
    chat = spans["chat gpt-4.1-mini"]
    assert set(spans) == {"chat gpt-4.1-mini", "execute_tool add", "execute_tool fail"}
    for name in ("execute_tool add", "execute_tool fail"):
        assert spans[name].parent is not None and spans[name].parent.span_id == chat.get_span_context().span_id
    assert spans["execute_tool add"].status.status_code is StatusCode.UNSET
    assert spans["execute_tool fail"].status.status_code is StatusCode.ERROR
    results = [e for e in events if isinstance(e, ToolResult)]
    assert sorted((r.tool_name, r.is_error) for r in results) == [("add", False), ("fail", True)]
    assert next(r for r in results if r.tool_name == "add").output == "5"
