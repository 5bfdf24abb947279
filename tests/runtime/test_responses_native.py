"""The Responses API served natively (a spec with the `responses` operation), over real HTTP on 127.0.0.1: the
request goes to `/v1/responses` as given, `previous_response_id` goes to the server, every recorded OpenAI
Responses stream decodes into typed events, and routing picks native or translated per route."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from openai.types.responses import Response as SdkResponse
from openai.types.responses import ResponseStreamEvent as SdkEvent
from pydantic import TypeAdapter

from vllora_llm.client import InMemoryResponseStore, SyncVlloraLLMClient, VlloraLLMClient
from vllora_llm.engine.errors import ProviderError, RateLimitError, StreamError
from vllora_llm.testing import Fault, LocalProviderServer, replay
from vllora_llm.types.responses import (
    CreateResponse,
    ErrorEvent,
    FunctionCallItem,
    OtherOutputItem,
    OtherStreamEvent,
    OutputItemAddedEvent,
    OutputItemDoneEvent,
    OutputTextDeltaEvent,
    ResponseCompletedEvent,
    ResponseStreamEvent,
)

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings" / "openai"
STREAMS = sorted(p for p in RECORDINGS.glob("responses_stream_*") if p.suffix in (".sse", ".jsonl"))
SSE = "text/event-stream; charset=utf-8"
EVENTS: TypeAdapter[Any] = TypeAdapter(SdkEvent)
TOOLS = [{"type": "function", "name": "get_weather", "description": "Current weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]


def client_for(server: LocalProviderServer, **options: Any) -> VlloraLLMClient:
    return VlloraLLMClient.from_provider("openai", api_key="k-0123456789", base_url=server.openai_base_url,
                                         **options)


def sse_of(path: Path) -> bytes:
    """A recording as the SSE body OpenAI sends (a `.jsonl` file holds one event's JSON per line)."""
    if path.suffix == ".sse":
        return path.read_bytes()
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return b"".join(f"event: {json.loads(line)['type']}\ndata: {line}\n\n".encode() for line in lines)


def recorded(path: Path) -> list[dict[str, Any]]:
    text = sse_of(path).decode()
    return [json.loads(line[len("data: "):]) for line in text.splitlines() if line.startswith("data: ")]


async def test_create_sends_the_request_as_given(server: LocalProviderServer) -> None:
    request = CreateResponse(
        model="gpt-4.1-mini", input=[{"role": "user", "content": [{"type": "input_text", "text": "Hello!"}]}],
        instructions="Be brief.", include=["reasoning.encrypted_content"], metadata={"k": "v"}, store=True,
        truncation="auto", service_tier="flex", prompt_cache_key="cache-1", max_output_tokens=50,
        text={"format": {"type": "text"}, "verbosity": "low"}, extra_body={"custom_field": 1},
        provider_specific={"top_k": 3})
    async with client_for(server) as client:
        response = await client.responses().create(request)
    sent = server.last_request
    assert sent.path == "/v1/responses" and sent.headers["authorization"] == "Bearer k-0123456789"
    assert sent.json == {
        "model": "gpt-4.1-mini", "input": request.input, "instructions": "Be brief.",
        "include": ["reasoning.encrypted_content"], "metadata": {"k": "v"}, "store": True, "truncation": "auto",
        "service_tier": "flex", "prompt_cache_key": "cache-1", "max_output_tokens": 50,
        "text": {"format": {"type": "text"}, "verbosity": "low"}, "custom_field": 1}
    assert [w.param for w in response.warnings] == ["provider_specific.top_k"]  # not OpenAI's: warned, not sent
    SdkResponse.model_validate(response.to_dict())
    assert response.output_text == "Hello from the local openai server! You said: Hello!"
    assert response.id == "resp_local_1" and response.provider == "openai" and response.service_tier == "default"
    assert response.usage is not None and response.usage.input_tokens > 0


async def test_reasoning_models_get_no_sampling_parameters(server: LocalProviderServer) -> None:
    async with client_for(server) as client:
        response = await client.responses().create({"model": "gpt-5", "input": "hi", "temperature": 0.3,
                                                    "reasoning": {"effort": "low"}})
    assert "temperature" not in server.last_request.json and server.last_request.json["reasoning"] == {
        "effort": "low"}
    assert [w.param for w in response.warnings] == ["temperature"]


async def test_previous_response_id_goes_to_the_server(server: LocalProviderServer) -> None:
    store = InMemoryResponseStore()
    async with client_for(server, response_store=store) as client:
        first = await client.responses().create({"model": "gpt-4.1-mini", "input": "Hello!", "tools": TOOLS})
        second = await client.responses().create({"model": "gpt-4.1-mini", "previous_response_id": first.id,
                                                  "input": 'Weather in "Rome"? Ask get_weather.', "tools": TOOLS})
        [call] = second.output
        assert isinstance(call, FunctionCallItem) and json.loads(call.arguments) == {"city": "Rome"}
        async with client.responses().create_stream({
                "model": "gpt-4.1-mini", "previous_response_id": second.id, "tools": TOOLS,
                "input": [{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}]}) as stream:
            events = [event async for event in stream]
    assert [r.json.get("previous_response_id") for r in server.requests] == [None, first.id, second.id]
    assert [r.json["input"] for r in server.requests][2] == [
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}]  # only the new items
    assert len(store) == 0  # the server keeps the conversation, not the client
    assert stream.response.output_text == "Hello from the local openai server! The tool returned: sunny"
    assert isinstance(events[-1], ResponseCompletedEvent) and events[-1].response is stream.response
    assert stream.response.previous_response_id == second.id


@pytest.mark.parametrize("path", STREAMS, ids=[p.name for p in STREAMS])
async def test_recorded_streams_decode_to_typed_events(server: LocalProviderServer, path: Path) -> None:
    """Each recorded stream (a file may hold several turns), replayed in 64-byte pieces, as typed events equal to
    what OpenAI sent."""
    raw = recorded(path)
    ends = [i + 1 for i, data in enumerate(raw) if data["type"] == "response.completed"]
    request = json.loads(path.with_suffix(".request.json").read_text()) if path.suffix == ".sse" else {
        "model": "gpt-5.1-codex-max", "input": "hi"}
    request.pop("stream", None)
    async with client_for(server) as client:
        for start, end in zip([0, *ends[:-1]], ends, strict=True):
            turn = raw[start:end]
            body = "".join(f"event: {d['type']}\ndata: {json.dumps(d)}\n\n" for d in turn).encode()
            server.faults.push(replay(body, content_type=SSE, chunk_size=64))
            stream = await client.responses().create_stream(request)
            events = [event async for event in stream]
            check_turn(events, turn, stream.response)
    assert len(ends) == (4 if path.suffix == ".jsonl" else 1)  # every turn of the file was replayed


def check_turn(events: list[Any], turn: list[dict[str, Any]], response: Any) -> None:
    assert [event.type for event in events] == [data["type"] for data in turn]
    for event, data in zip(events, turn, strict=True):
        assert not isinstance(event, OtherStreamEvent)
        assert event.sequence_number == data["sequence_number"]
        EVENTS.validate_python(event.to_dict())
    final = turn[-1]["response"]
    assert response.id == final["id"] and response.status == "completed"
    for ours, sent in zip(response.to_dict()["output"], final["output"], strict=True):  # every field we keep
        assert {key: value for key, value in ours.items() if key in sent} == {
            key: value for key, value in sent.items() if key in ours}
        assert ours["id"] == sent["id"] and ours["type"] == sent["type"]
    assert response.usage is not None and response.usage.to_dict() == final["usage"] | {
        "input_tokens_details": final["usage"]["input_tokens_details"] | {"cache_write_tokens": 0}}
    assert response.output_text == "".join(e.delta for e in events if isinstance(e, OutputTextDeltaEvent))


async def test_usage_with_cached_and_reasoning_tokens(server: LocalProviderServer) -> None:
    body = json.loads(server_response_text())
    body["usage"] = {"input_tokens": 2000, "input_tokens_details": {"cached_tokens": 1536}, "output_tokens": 300,
                     "output_tokens_details": {"reasoning_tokens": 256}, "total_tokens": 2300}
    server.faults.push(replay(json.dumps(body).encode(), content_type="application/json"))
    async with client_for(server) as client:
        response = await client.responses().create({"model": "o3-mini", "input": "hi"})
    assert response.usage is not None
    assert (response.usage.input_tokens_details.cached_tokens, response.usage.output_tokens_details.reasoning_tokens,
            response.usage.total_tokens) == (1536, 256, 2300)


def server_response_text() -> str:
    """The `response.completed` body of the basic recording (a whole Response as OpenAI sends it)."""
    [done] = [d for d in recorded(RECORDINGS / "responses_stream_basic.sse") if d["type"] == "response.completed"]
    return json.dumps(done["response"])


async def test_an_unknown_event_type_is_kept_not_dropped(server: LocalProviderServer) -> None:
    raw = recorded(RECORDINGS / "responses_stream_basic.sse")
    raw.insert(2, {"type": "response.future_feature.delta", "sequence_number": 2, "delta": "x"})
    for position, data in enumerate(raw):
        data["sequence_number"] = position
    server.faults.push(replay("".join(f"data: {json.dumps(d)}\n\n" for d in raw).encode(), content_type=SSE))
    async with client_for(server) as client:
        events = [event async for event in client.responses().create_stream({"model": "gpt-5.5", "input": "hi"})]
    [other] = [event for event in events if isinstance(event, OtherStreamEvent)]
    assert other.type == "response.future_feature.delta" and other.to_dict()["delta"] == "x"
    assert [event.sequence_number for event in events] == list(range(len(raw)))


async def test_an_error_event_ends_the_stream_with_a_failed_response(server: LocalProviderServer) -> None:
    raw = recorded(RECORDINGS / "responses_stream_basic.sse")[:5]
    raw.append({"type": "error", "sequence_number": 5, "code": "server_error", "message": "The model failed.",
                "param": None})
    server.faults.push(replay("".join(f"data: {json.dumps(d)}\n\n" for d in raw).encode(), content_type=SSE))
    events: list[Any] = []
    async with client_for(server) as client, client.responses().create_stream(
            {"model": "gpt-5.5", "input": "hi"}) as stream:
        with pytest.raises(StreamError, match="The model failed") as info:  # never taken for an end
            async for event in stream:
                events.append(event)
    assert isinstance(events[-1], ErrorEvent) and events[-1].code == "server_error"  # the server's, as sent
    assert stream.error is info.value and stream.response.status == "failed"
    assert stream.response.error is not None and stream.response.error.message == "The model failed."


async def test_a_cut_stream_is_a_stream_error(server: LocalProviderServer) -> None:
    server.faults.push(Fault(cut_after_chunks=9))
    async with client_for(server, max_retries=0) as client:
        events: list[Any] = []
        stream = client.responses().create_stream({"model": "gpt-4.1-mini", "input": "hi"})
        with pytest.raises(StreamError) as info:
            async for event in stream:
                events.append(event)
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and "response.completed" not in kinds
    assert kinds[-2:] == ["error", "response.failed"]  # as OpenAI's stream would say it, then the typed error
    assert [event.sequence_number for event in events] == list(range(len(events)))
    for event in events:
        EVENTS.validate_python(event.to_dict())
    failed = events[-1].response
    assert failed is stream.response and failed.status == "failed" and stream.error is info.value
    assert failed.error is not None and failed.error.code == "server_error" and failed.provider == "openai"


async def test_a_stream_without_its_terminal_event_is_truncated(server: LocalProviderServer) -> None:
    server.faults.push(Fault(truncate_without_done=True))
    async with client_for(server, max_retries=0) as client:
        with pytest.raises(StreamError, match="truncated"):
            async for _ in client.responses().create_stream({"model": "gpt-4.1-mini", "input": "hi"}):
                pass


async def test_a_429_before_the_stream_is_retried(server: LocalProviderServer) -> None:
    server.faults.push(Fault(status=429))
    async with client_for(server, max_retries=1, backoff_base=0.001) as client:
        events = [e async for e in client.responses().create_stream({"model": "gpt-4.1-mini", "input": "hi"})]
    assert events[-1].type == "response.completed" and len(server.requests) == 2


@pytest.mark.parametrize(("provider", "native"), [
    ("openai", True), ("azure-openai", True), ("xai", True), ("fireworks", True), ("groq", False),
    ("together", False), ("ollama", False), ("vllm", False), ("openrouter", False), ("mistral", False),
    ("deepseek", False), ("perplexity", False), ("anthropic", False), ("gemini", False)])
def test_which_specs_serve_responses_natively(provider: str, native: bool) -> None:
    client = VlloraLLMClient.from_provider(provider, api_key="k-0123456789", base_url="http://127.0.0.1:9/v1")
    assert client.instance.serves("responses", "m") is native


async def test_routing_is_native_only_when_every_target_is(server: LocalProviderServer, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_KEY", "k-0123456789")
    config = tmp_path / "models.yaml"
    config.write_text(f"""
- model: native
  inference_provider: {{provider: openai, model_name: gpt-4.1-mini}}
  base_url: {server.openai_base_url}
  api_key_env: LOCAL_KEY
- model: mixed
  inference_provider: {{provider: openai, model_name: gpt-4.1-mini}}
  base_url: {server.openai_base_url}
  api_key_env: LOCAL_KEY
  fallbacks: [claude]
- model: claude
  inference_provider: {{provider: anthropic, model_name: claude-sonnet-4-5}}
  base_url: {server.base_url_for("anthropic")}
  api_key_env: LOCAL_KEY
""")
    async with VlloraLLMClient.from_config(config, max_retries=0) as client:
        answer = await client.responses().create({"model": "native", "input": "Hello!"})
        events = [e async for e in client.responses().create_stream({"model": "native", "input": "Again"})]
        server.faults.push(Fault(status=503))  # `mixed`: its first target fails, the route falls back
        mixed = await client.responses().create({"model": "mixed", "input": "Hello!"})
    assert answer.output_text.endswith("You said: Hello!") and answer.provider == "openai"
    assert answer.model == "gpt-4.1-mini" and events[-1].type == "response.completed"
    assert events[-1].response.provider == "openai"  # type: ignore[union-attr]
    paths = [r.path for r in server.requests]
    assert paths[:2] == ["/v1/responses", "/v1/responses"]  # `native`: every target serves it natively
    assert paths[2:] == ["/v1/chat/completions", "/v1/messages"]  # `mixed`: through chat, fallback included
    assert mixed.output_text == "Hello from the local anthropic server! You said: Hello!"
    assert mixed.provider == "anthropic"


@pytest.mark.parametrize("provider", ["openai", "azure-openai", "xai", "fireworks"])
async def test_every_native_spec_reaches_its_endpoint(server: LocalProviderServer, provider: str) -> None:
    base = server.url if provider == "azure-openai" else server.openai_base_url
    async with VlloraLLMClient.from_provider(provider, api_key="k-0123456789", base_url=base) as client:
        answer = await client.responses().create({"model": "my-model", "input": "Hello!"})
        stream = await client.responses().create_stream({"model": "my-model", "input": "Again",
                                                         "previous_response_id": answer.id})
        events = [event async for event in stream]
    path = "/openai/v1/responses" if provider == "azure-openai" else "/v1/responses"
    assert [r.path for r in server.requests] == [path, path]
    assert answer.provider == provider and answer.output_text.endswith("You said: Hello!")
    assert events[-1].type == "response.completed" and stream.response.output_text.endswith("You said: Again")
    assert server.requests[1].json["previous_response_id"] == answer.id and server.requests[1].json["stream"]


async def test_leaving_a_native_stream_early_closes_the_connection(server: LocalProviderServer) -> None:
    body = sse_of(RECORDINGS / "responses_stream_basic.sse")
    server.faults.push(replay(body, content_type=SSE, chunk_size=40, drip_s=0.02))
    async with client_for(server) as client:
        async with client.responses().create_stream({"model": "gpt-5.5", "input": "hi"}) as stream:
            async for event in stream:
                if event.type == "response.output_item.added":
                    break
        async with asyncio.timeout(2):
            while server.disconnects == 0:
                await asyncio.sleep(0.005)
    assert not stream.done
    with pytest.raises(RuntimeError, match="not ended"):
        _ = stream.response


def test_the_sync_facade_serves_it_natively(threaded_server: LocalProviderServer) -> None:
    with SyncVlloraLLMClient.from_provider("openai", api_key="k-0123456789",
                                           base_url=threaded_server.openai_base_url) as client:
        first = client.responses().create({"model": "gpt-4.1-mini", "input": "Hello!"})
        with client.responses().create_stream({"model": "gpt-4.1-mini", "input": "Again",
                                               "previous_response_id": first.id}) as stream:
            kinds = [event.type for event in stream]
    assert kinds[-1] == "response.completed" and stream.response.output_text.endswith("You said: Again")
    assert [r.path for r in threaded_server.requests] == ["/v1/responses", "/v1/responses"]
    threaded_server.faults.push(Fault(cut_after_chunks=5))
    with SyncVlloraLLMClient.from_provider("openai", api_key="k-0123456789", max_retries=0,
                                           base_url=threaded_server.openai_base_url) as client:
        kinds = []
        with client.responses().create_stream({"model": "gpt-4.1-mini", "input": "Cut"}) as stream, \
                pytest.raises(StreamError):
            for event in stream:
                kinds.append(event.type)
    assert kinds[-2:] == ["error", "response.failed"] and isinstance(stream.error, StreamError)


async def test_a_failed_response_from_the_server_is_raised_after_its_event(server: LocalProviderServer) -> None:
    raw = recorded(RECORDINGS / "responses_stream_basic.sse")[:2]
    failed = {**raw[1]["response"], "status": "failed",
              "error": {"code": "rate_limit_exceeded", "message": "Too many tokens."}}
    raw.append({"type": "response.failed", "sequence_number": 2, "response": failed})
    server.faults.push(replay("".join(f"data: {json.dumps(d)}\n\n" for d in raw).encode(), content_type=SSE))
    kinds: list[str] = []
    async with client_for(server) as client:
        stream = client.responses().create_stream({"model": "gpt-5.5", "input": "hi"})
        with pytest.raises(RateLimitError, match="Too many tokens"):
            async for event in stream:
                kinds.append(event.type)
    assert kinds == ["response.created", "response.in_progress", "response.failed"]
    assert stream.response.status == "failed" and isinstance(stream.error, RateLimitError)


async def test_a_translated_call_warns_about_the_fields_only_a_native_endpoint_takes(
        server: LocalProviderServer) -> None:
    request = {"model": "claude-sonnet-4-5", "input": "Hello!", "service_tier": "flex", "prompt_cache_key": "k1",
               "max_tool_calls": 3, "extra_body": {"x": 1}}
    async with VlloraLLMClient.from_provider("anthropic", api_key="k-0123456789",
                                             base_url=server.base_url_for("anthropic")) as client:
        response = await client.responses().create(request)
        async with client.responses().create_stream(request) as stream:
            [_ async for _ in stream]
    for answer in (response, stream.response):
        unsent = {w.param for w in answer.warnings}
        assert {"service_tier", "prompt_cache_key", "max_tool_calls", "extra_body"} <= unsent, answer.warnings
        assert answer.output_text == "Hello from the local anthropic server! You said: Hello!"
    sent = server.last_request.json
    assert not {"service_tier", "prompt_cache_key", "max_tool_calls", "x"} & set(sent)


async def test_native_calls_are_observed_like_translated_ones(server: LocalProviderServer) -> None:
    """One `chat` span per call (ended from the `Response`), and the model events, as a translated call has."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import StatusCode

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    seen: list[Any] = []
    async with client_for(server, tracer_provider=tracer_provider, events=seen.append, max_retries=0) as client:
        response = await client.responses().create({"model": "gpt-4.1-mini", "input": 'Weather in "Oslo"? '
                                                    "Ask get_weather.", "tools": TOOLS, "max_output_tokens": 64})
        async with client.responses().create_stream({"model": "gpt-4.1-mini", "input": "Again"}) as stream:
            deltas = [e.delta async for e in stream if isinstance(e, OutputTextDeltaEvent)]
        server.faults.push(Fault(cut_after_chunks=6))
        with pytest.raises(StreamError):
            async for _ in client.responses().create_stream({"model": "gpt-4.1-mini", "input": "Cut"}):
                pass
    tracer_provider.shutdown()
    plain, streamed, cut = exporter.get_finished_spans()
    assert [span.name for span in (plain, streamed, cut)] == ["chat gpt-4.1-mini"] * 3
    attributes = dict(plain.attributes or {})
    assert response.usage is not None
    assert (attributes["gen_ai.response.id"], attributes["gen_ai.provider.name"]) == (response.id, "openai")
    assert attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert attributes["gen_ai.usage.input_tokens"] == response.usage.input_tokens
    assert attributes["gen_ai.request.max_tokens"] == 64 and attributes["server.port"] == server.port
    streamed_attributes = dict(streamed.attributes or {})
    assert streamed_attributes["gen_ai.response.id"] == stream.response.id
    assert streamed_attributes["gen_ai.request.stream"] is True
    assert "gen_ai.response.time_to_first_chunk" in streamed_attributes
    assert cut.status.status_code == StatusCode.ERROR and dict(cut.attributes or {})["error.type"] == "StreamError"
    kinds = [type(event).__name__ for event in seen]
    assert kinds.count("LlmStart") == 3 and kinds.count("LlmStop") == 2 and kinds.count("LlmError") == 1
    starts = [i for i, kind in enumerate(kinds) if kind == "LlmStart"]
    second = seen[starts[1]:starts[2]]  # the streamed call's events: its text deltas, its first token
    assert "".join(e.content for e in second if type(e).__name__ == "LlmContent") == "".join(deltas)
    assert [type(e).__name__ for e in second].count("LlmFirstToken") == 1


BUILT_IN_ITEMS = [  # one output item of each built-in tool kind, as the SDK types them
    {"id": "ws_1", "type": "web_search_call", "status": "completed", "action": {"type": "search", "query": "q"}},
    {"id": "fs_1", "type": "file_search_call", "status": "completed", "queries": ["q"], "results": None},
    {"id": "ci_1", "type": "code_interpreter_call", "status": "completed", "container_id": "cntr_1",
     "code": "print(1)", "outputs": [{"type": "logs", "logs": "1"}]},
    {"id": "ig_1", "type": "image_generation_call", "status": "completed", "result": "iVBORw0KGgo="},
    {"id": "ctc_1", "type": "custom_tool_call", "call_id": "call_1", "name": "grep", "input": "foo"},
    {"id": "mcp_1", "type": "mcp_call", "name": "add", "arguments": "{}", "server_label": "s", "output": "2",
     "error": None, "status": "completed"},
    {"id": "mcpl_1", "type": "mcp_list_tools", "server_label": "s", "tools": [{"name": "add", "input_schema": {}}]},
    {"id": "mcpr_1", "type": "mcp_approval_request", "name": "add", "arguments": "{}", "server_label": "s"},
    {"id": "cu_1", "type": "computer_call", "call_id": "call_2", "status": "completed", "pending_safety_checks": [],
     "action": {"type": "click", "button": "left", "x": 1, "y": 2}},
    {"id": "ls_1", "type": "local_shell_call", "call_id": "call_3", "status": "completed",
     "action": {"type": "exec", "command": ["ls"], "env": {}}},
    {"id": "sh_1", "type": "shell_call", "call_id": "call_4", "status": "completed",
     "action": {"commands": ["ls"], "max_output_length": None, "timeout_ms": None}},
    {"id": "ap_1", "type": "apply_patch_call", "call_id": "call_5", "status": "completed",
     "operation": {"type": "create_file", "path": "a.txt", "diff": "+x"}},
    {"id": "cmp_1", "type": "compaction", "encrypted_content": "gAAAA"},
]


async def test_built_in_tools_items_decode_typed(server: LocalProviderServer) -> None:
    body = json.loads(server_response_text())
    body["output"] = BUILT_IN_ITEMS
    server.faults.push(replay(json.dumps(body).encode(), content_type="application/json"))
    async with client_for(server) as client:
        response = await client.responses().create({"model": "gpt-5.5", "input": "hi", "tools": [
            {"type": "web_search"}, {"type": "code_interpreter", "container": {"type": "auto"}}]})
    assert server.last_request.json["tools"] == [  # built-in tools go to the server as given
        {"type": "web_search"}, {"type": "code_interpreter", "container": {"type": "auto"}}]
    assert [item.type for item in response.output] == [item["type"] for item in BUILT_IN_ITEMS]
    assert all(type(item).__name__.endswith("Item") for item in response.output)  # typed, not dicts
    SdkResponse.model_validate(response.to_dict())
    for ours, sent in zip(response.to_dict()["output"], BUILT_IN_ITEMS, strict=True):
        assert {key: ours[key] for key in sent} == sent  # nothing the server sent is lost


TELEPORT = {"id": "tp_1", "type": "teleport_call", "status": "completed", "destination": {"planet": "Mars"}}
"""An output item of a type OpenAI might add tomorrow (no type of this library models it)."""


async def test_an_output_item_of_an_unknown_type_is_kept_whole(server: LocalProviderServer) -> None:
    body = json.loads(server_response_text())
    message = body["output"][-1]
    body["output"] = [TELEPORT, message]
    server.faults.push(replay(json.dumps(body).encode(), content_type="application/json"))
    async with client_for(server) as client:
        response = await client.responses().create({"model": "gpt-5.5", "input": "hi"})
        other, _ = response.output
        assert isinstance(other, OtherOutputItem)
        assert (other.type, other.id, other.data) == ("teleport_call", "tp_1", TELEPORT)
        assert response.output_text == "".join(part["text"] for part in message["content"])
        assert response.to_dict()["output"][0] == TELEPORT  # OpenAI's JSON, as sent
        assert json.loads(response.to_json())["output"][0] == TELEPORT
        SdkResponse.model_validate(response.to_dict() | {"output": [message]})
        # the local server's own input checks know no such item either: it answers with a replay
        server.faults.push(replay(json.dumps(body).encode(), content_type="application/json"))
        await client.responses().create({"model": "gpt-5.5", "input": response.output, "store": False})
    assert server.last_request.json["input"][0] == TELEPORT  # given back, it goes back as it came


async def test_a_malformed_known_output_item_is_still_a_provider_error(server: LocalProviderServer) -> None:
    body = json.loads(server_response_text())
    body["output"] = [TELEPORT, {"type": "function_call", "id": "fc_1", "name": "f", "arguments": "{}"}]  # no call_id
    server.faults.push(replay(json.dumps(body).encode(), content_type="application/json"))
    async with client_for(server) as client:
        with pytest.raises(ProviderError, match=r"call_id.*output\[1\]"):
            await client.responses().create({"model": "gpt-5.5", "input": "hi"})


async def test_a_streamed_output_item_of_an_unknown_type_is_kept_whole(server: LocalProviderServer) -> None:
    raw = recorded(RECORDINGS / "responses_stream_basic.sse")
    final = raw[-1]["response"]
    final["output"] = [TELEPORT, *final["output"]]
    for data in raw:
        if "output_index" in data:
            data["output_index"] += 1
    raw[2:2] = [
        {"type": "response.output_item.added", "output_index": 0, "item": {**TELEPORT, "status": "in_progress"}},
        {"type": "response.teleport_call.progress", "output_index": 0, "item_id": "tp_1"},
        {"type": "response.output_item.done", "output_index": 0, "item": TELEPORT}]
    for position, data in enumerate(raw):
        data["sequence_number"] = position
    server.faults.push(replay("".join(f"data: {json.dumps(d)}\n\n" for d in raw).encode(), content_type=SSE))
    async with client_for(server) as client:
        stream = await client.responses().create_stream({"model": "gpt-5.5", "input": "hi"})
        events: list[ResponseStreamEvent] = [event async for event in stream]  # the union holds every kind
    added, progress, done = events[2:5]
    assert isinstance(added, OutputItemAddedEvent) and isinstance(added.item, OtherOutputItem)
    assert added.item.data["status"] == "in_progress" and added.to_dict() == raw[2]
    assert isinstance(progress, OtherStreamEvent) and progress.to_dict() == raw[3]
    assert isinstance(done, OutputItemDoneEvent) and done.item.to_dict() == TELEPORT
    assert [event.type for event in events] == [data["type"] for data in raw]
    assert isinstance(stream.response.output[0], OtherOutputItem)
    assert stream.response.to_dict()["output"][0] == TELEPORT
    assert events[-1].to_dict()["response"]["output"][0] == TELEPORT


async def test_a_provider_model_id_routes_natively_with_no_file(server: LocalProviderServer,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "k-0123456789")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url_for("anthropic"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k-0123456789")
    async with VlloraLLMClient.from_config() as client:
        native = await client.responses().create({"model": "openai/gpt-4.1-mini", "input": "Hello!"})
        translated = await client.responses().create({"model": "anthropic/claude-sonnet-4-5", "input": "Hello!"})
    assert [r.path for r in server.requests] == ["/v1/responses", "/v1/messages"]
    assert server.requests[0].json["model"] == "gpt-4.1-mini"  # the provider's own model name
    assert (native.provider, translated.provider) == ("openai", "anthropic")


async def test_item_references_go_to_the_server(server: LocalProviderServer) -> None:
    """An `item_reference` (which a translated provider cannot take) names an item the server stored."""
    async with client_for(server) as client:
        first = await client.responses().create({"model": "gpt-4.1-mini", "tools": TOOLS,
                                                 "input": 'Weather in "Oslo"? Ask get_weather.'})
        [call] = first.output
        assert isinstance(call, FunctionCallItem)
        answer = await client.responses().create({"model": "gpt-4.1-mini", "tools": TOOLS, "store": False, "input": [
            {"type": "item_reference", "id": call.id},
            {"type": "function_call_output", "call_id": call.call_id, "output": "cloudy"}]})
    assert server.last_request.json["input"][0] == {"type": "item_reference", "id": call.id}
    assert answer.output_text == "Hello from the local openai server! The tool returned: cloudy"


async def test_an_error_event_before_any_response_still_fails_the_stream(server: LocalProviderServer) -> None:
    error = {"type": "error", "sequence_number": 0, "code": "server_error", "message": "Overloaded.", "param": None}
    server.faults.push(replay(f"data: {json.dumps(error)}\n\n".encode(), content_type=SSE))
    async with client_for(server) as client:
        stream = client.responses().create_stream({"model": "gpt-5.5", "input": "hi"})
        kinds: list[str] = []
        with pytest.raises(StreamError, match="Overloaded"):
            async for event in stream:
                kinds.append(event.type)
    assert kinds == ["error"] and stream.response.status == "failed"


async def test_leaving_a_native_stream_early_ends_its_span_without_an_error(server: LocalProviderServer) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import StatusCode

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with client_for(server, tracer_provider=tracer_provider) as client, client.responses().create_stream(
            {"model": "gpt-4.1-mini", "input": "Hello there"}) as stream:
        async for event in stream:
            if event.type == "response.output_text.delta":
                break
    tracer_provider.shutdown()
    [span] = exporter.get_finished_spans()
    assert span.status.status_code != StatusCode.ERROR
    assert dict(span.attributes or {})["gen_ai.response.id"] == "resp_local_1"  # from response.created
