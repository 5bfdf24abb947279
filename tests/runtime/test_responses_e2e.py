"""`client.responses()` over real HTTP against the local provider server, for the four wire formats: plain and
streamed calls, a tool round trip (function_call → function_call_output → answer), `previous_response_id` across
turns, `store=false`, finish reasons as status; every object checked against the official openai SDK's types."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from openai.types.responses import Response as SdkResponse
from openai.types.responses import ResponseStreamEvent as SdkEvent
from pydantic import TypeAdapter

from vllora_llm.client import InMemoryResponseStore, SyncVlloraLLMClient, VlloraLLMClient
from vllora_llm.error import MappingError, NotFoundError
from vllora_llm.testing import Fault, LocalProviderServer
from vllora_llm.types.responses import (
    CreateResponse,
    FunctionCallItem,
    OutputTextDeltaEvent,
    ReasoningItem,
    Response,
    ResponseCompletedEvent,
)

PROVIDERS = ["openai", "anthropic", "gemini", "bedrock"]
MODELS = {"openai": "gpt-4.1-mini", "anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.5-flash",
          "bedrock": "anthropic.claude-3-5-sonnet-20240620-v1:0"}
TOOLS = [{"type": "function", "name": "get_weather", "description": "Current weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
EVENTS: TypeAdapter[Any] = TypeAdapter(SdkEvent)


@pytest.fixture(params=PROVIDERS)
async def app(request: pytest.FixtureRequest, server: LocalProviderServer) -> AsyncIterator[tuple[str, Any]]:
    provider: str = request.param
    extra = {"region": "us-east-1"} if provider == "bedrock" else {}
    async with VlloraLLMClient.from_provider(provider, api_key="app-test-key-0123", base_url=server.base_url_for(
            provider), timeout=10, **extra) as client:
        yield provider, client


def checked(response: Response) -> Response:
    """`response`, after its `to_dict()` validated as the official SDK's `Response` (same output text)."""
    sdk = SdkResponse.model_validate(response.to_dict())
    assert sdk.output_text == response.output_text
    assert "warnings" not in response.to_dict() and "provider" not in response.to_dict()
    return response


async def streamed(client: VlloraLLMClient, request: dict[str, Any]) -> tuple[list[Any], Response]:
    async with client.responses().create_stream(request) as stream:
        events = [event async for event in stream]
    for event in events:
        EVENTS.validate_python(event.to_dict())
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert events[0].type == "response.created" and events[1].type == "response.in_progress"
    assert events[-1].response is stream.response
    assert stream.done and stream.error is None and stream.provider == stream.response.provider is not None
    return events, checked(stream.response)


async def test_plain_call(app: tuple[str, VlloraLLMClient]) -> None:
    provider, client = app
    response = checked(await client.responses().create(CreateResponse(
        model=MODELS[provider], input="Hello!", instructions="Answer briefly.", temperature=0.5, metadata={"k": "v"})))
    assert response.output_text == f"Hello from the local {provider} server! You said: Hello!"
    assert response.status == "completed" and response.incomplete_details is None
    assert response.id.startswith("resp_") and response.provider == provider
    assert (response.instructions, response.temperature, response.metadata) == ("Answer briefly.", 0.5, {"k": "v"})
    assert response.usage is not None and response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert [item.type for item in response.output] == ["message"]


async def test_stream(app: tuple[str, VlloraLLMClient]) -> None:
    provider, client = app
    events, response = await streamed(client, {"model": MODELS[provider], "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "Hi there"}]}]})
    types = [event.type for event in events]
    assert types[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert types[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]
    deltas = [event.delta for event in events if isinstance(event, OutputTextDeltaEvent)]
    assert len(deltas) > 1 and "".join(deltas) == response.output_text
    assert response.output_text == f"Hello from the local {provider} server! You said: Hi there"
    assert isinstance(events[-1], ResponseCompletedEvent) and response.usage is not None


def calls(output: list[Any], provider: str) -> list[Any]:
    """The output items after Gemini's call signature (a summary-less reasoning item just before its call)."""
    if provider == "gemini":
        mark, *output = output
        assert isinstance(mark, ReasoningItem) and not mark.summary and mark.encrypted_content
    return output


async def test_tool_round_trip_across_turns(app: tuple[str, VlloraLLMClient], server: LocalProviderServer) -> None:
    """Turn 1 greets, turn 2 (continuing turn 1) calls the tool, turn 3 answers it with function_call_output."""
    provider, client = app
    responses = client.responses()
    first = checked(await responses.create({"model": MODELS[provider], "input": "Hello!", "tools": TOOLS}))
    assert first.output_text.endswith("You said: Hello!")
    second = checked(await responses.create({"model": MODELS[provider], "previous_response_id": first.id,
                                             "input": 'Weather in "Paris"? Ask get_weather.', "tools": TOOLS}))
    [call] = calls(second.output, provider)
    assert isinstance(call, FunctionCallItem) and call.name == "get_weather" and call.call_id
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert second.previous_response_id == first.id
    third = checked(await responses.create({
        "model": MODELS[provider], "previous_response_id": second.id, "tools": TOOLS,
        "input": [{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}]}))
    result = json.dumps({"output": "sunny"}, separators=(",", ":")) if provider == "gemini" else "sunny"
    assert third.output_text == f"Hello from the local {provider} server! The tool returned: {result}"
    assert len(server.requests) == 3  # each turn is one request carrying the whole conversation


async def test_streamed_tool_call_answered_with_output_items(app: tuple[str, VlloraLLMClient]) -> None:
    """No store: the caller sends the earlier output items back as input, as OpenAI accepts them."""
    provider, client = app
    question = {"role": "user", "content": 'Weather in "Oslo"? Ask get_weather.'}
    events, response = await streamed(client, {"model": MODELS[provider], "input": [question], "tools": TOOLS,
                                               "store": False})
    [call] = calls(response.output, provider)
    assert isinstance(call, FunctionCallItem) and json.loads(call.arguments) == {"city": "Oslo"}
    deltas = "".join(event.delta for event in events if event.type == "response.function_call_arguments.delta")
    assert deltas == call.arguments
    done = [event for event in events if event.type == "response.function_call_arguments.done"]
    assert [event.arguments for event in done] == [call.arguments]
    answer = checked(await client.responses().create(CreateResponse(
        model=MODELS[provider], tools=TOOLS,
        input=[question, *response.output, {"type": "function_call_output", "call_id": call.call_id,
                                            "output": "rain"}])))
    assert "The tool returned:" in answer.output_text and "rain" in answer.output_text
    with pytest.raises(NotFoundError, match=r"(?i)previous.response"):  # store=false: kept nothing (here or there)
        await client.responses().create({"model": MODELS[provider], "input": "x", "previous_response_id": response.id})


async def test_max_output_tokens_makes_it_incomplete(app: tuple[str, VlloraLLMClient]) -> None:
    provider, client = app
    response = checked(await client.responses().create({"model": MODELS[provider], "input": "Hello!",
                                                        "max_output_tokens": 3}))
    assert response.status == "incomplete" and response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    events, streamed_response = await streamed(client, {"model": MODELS[provider], "input": "Hello!",
                                                        "max_output_tokens": 3})
    assert events[-1].type == "response.incomplete" and streamed_response.status == "incomplete"


async def test_unknown_previous_response_is_not_found_before_io(server: LocalProviderServer) -> None:
    async with VlloraLLMClient.from_provider("anthropic", api_key="k-0123456789",  # translated: the client's store
                                             base_url=server.base_url_for("anthropic")) as client:
        with pytest.raises(NotFoundError, match="resp_missing") as info:
            await client.responses().create({"model": "claude-sonnet-4-5", "input": "hi",
                                             "previous_response_id": "resp_missing"})
        assert info.value.path == "previous_response_id"
        with pytest.raises(NotFoundError):
            async for _ in client.responses().create_stream({"model": "claude-sonnet-4-5", "input": "hi",
                                                             "previous_response_id": "resp_missing"}):
                pass
        with pytest.raises(MappingError, match=r"tools\[0\]\.type"):
            await client.responses().create({"model": "claude-sonnet-4-5", "input": "hi",
                                             "tools": [{"type": "web_search"}]})
    assert server.requests == []


async def test_json_schema_output_and_stream_forms(server: LocalProviderServer) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
              "additionalProperties": False}
    store = InMemoryResponseStore(max_entries=2)
    async with VlloraLLMClient.from_provider("gemini", api_key="k-0123456789", response_store=store,
                                             base_url=server.base_url_for("gemini")) as client:
        response = checked(await client.responses().create({
            "model": "gemini-2.5-flash", "input": 'A city: "Lima"',
            "text": {"format": {"type": "json_schema", "name": "city", "schema": schema, "strict": True}}}))
        assert json.loads(response.output_text) == {"city": "Lima"}
        assert server.last_request.json["generationConfig"]["responseMimeType"] == "application/json"
        stream = await client.responses().create_stream({"model": "gemini-2.5-flash", "input": "Hi"})  # awaited
        texts = [event.text async for event in stream if event.type == "response.output_text.done"]
        assert texts == [stream.response.output_text] and len(store) == 2


def test_sync_facade(threaded_server: LocalProviderServer) -> None:
    with SyncVlloraLLMClient.from_provider("anthropic", api_key="k-0123456789",
                                           base_url=threaded_server.base_url_for("anthropic")) as client:
        first = client.responses().create({"model": "claude-sonnet-4-5", "input": "Hello!"})
        assert first.output_text == "Hello from the local anthropic server! You said: Hello!"
        with client.responses().create_stream({"model": "claude-sonnet-4-5", "input": "Again",
                                               "previous_response_id": first.id}) as stream:
            kinds = [event.type for event in stream]
        assert kinds[-1] == "response.completed" and stream.response.output_text.endswith("You said: Again")
        with pytest.raises(NotFoundError):
            client.responses().create_stream({"model": "claude-sonnet-4-5", "input": "x",
                                              "previous_response_id": "resp_gone"})


async def test_routed_by_models_yaml(server: LocalProviderServer, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_KEY", "k-0123456789")
    config = tmp_path / "models.yaml"
    config.write_text(f"""
- model: assistant
  inference_provider: {{provider: anthropic, model_name: claude-sonnet-4-5}}
  base_url: {server.base_url_for("anthropic")}
  api_key_env: LOCAL_KEY
""")
    async with VlloraLLMClient.from_config(config, max_retries=1, backoff_base=0.001) as client:
        server.faults.push(Fault(status=429))  # retried
        response = checked(await client.responses().create({"model": "assistant", "input": "Hello!"}))
    assert response.output_text == "Hello from the local anthropic server! You said: Hello!"
    assert response.provider == "anthropic" and response.model == "claude-sonnet-4-5"
    assert len(server.requests) == 2  # the 429, then the retry
