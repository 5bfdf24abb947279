"""An app built on the public API against the local provider server, for each of the four wire formats: JSON
output valid against the app's schema, and a full tool loop (ask, run the tool the model calls, answer),
plain and streamed, through `VlloraLLMClient.from_provider(..., base_url=server url)`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import jsonschema
import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.testing import LocalProviderServer

PROVIDERS = ["openai", "anthropic", "gemini", "bedrock"]
MODELS = {"openai": "gpt-4.1-mini", "anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.5-flash",
          "bedrock": "anthropic.claude-3-5-sonnet-20240620-v1:0"}
RESPONSE_FORMAT = {"openai", "gemini"}
"""Providers whose spec sends `response_format`; for the others the app asks for JSON with a forced tool."""

TRIP = {
    "type": "object",
    "properties": {
        "destination": {"type": "string"},
        "nights": {"type": "integer", "minimum": 2, "maximum": 14},
        "season": {"type": "string", "enum": ["spring", "summer", "autumn", "winter"]},
        "stops": {"type": "array", "items": {"$ref": "#/$defs/stop"}, "minItems": 1},
    },
    "required": ["destination", "nights", "season", "stops"],
    "additionalProperties": False,
    "$defs": {"stop": {"type": "object", "properties": {"name": {"type": "string"}, "day": {"type": "integer"}},
                       "required": ["name", "day"], "additionalProperties": False}},
}
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
                                      "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                     "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "description": "Local time in a city",
                                      "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                     "required": ["city"]}}},
]


def run_tool(name: str, arguments: dict[str, Any]) -> str:
    return {"get_weather": f"sunny in {arguments['city']}", "get_time": f"noon in {arguments['city']}"}[name]


@pytest.fixture(params=PROVIDERS)
async def app(request: pytest.FixtureRequest, server: LocalProviderServer) -> AsyncIterator[tuple[str, Any]]:
    provider: str = request.param
    extra = {"region": "us-east-1"} if provider == "bedrock" else {}
    async with VlloraLLMClient.from_provider(provider, api_key="app-test-key-0123", base_url=server.base_url_for(
            provider), timeout=10, **extra) as client:
        yield provider, client


async def complete(client: VlloraLLMClient, request: dict[str, Any], *, stream: bool) -> Any:
    """The assistant message, from `create()` or assembled from `create_stream()`'s chunks."""
    if not stream:
        return (await client.completions().create(request)).message()
    async with client.completions().create_stream(request) as chunks:
        async for _ in chunks:
            pass
    return chunks.aggregate().message()


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
async def test_json_output(app: tuple[str, VlloraLLMClient], stream: bool) -> None:
    provider, client = app
    request: dict[str, Any] = {"model": MODELS[provider], "max_tokens": 1024, "messages": [
        {"role": "user", "content": 'Plan a trip to "Kyoto" with a stop at "Fushimi Inari".'}]}
    if provider in RESPONSE_FORMAT:
        request["response_format"] = {"type": "json_schema", "json_schema": {"name": "trip", "schema": TRIP,
                                                                              "strict": True}}
        message = await complete(client, request, stream=stream)
        text = message.text()
    else:
        request["tools"] = [{"type": "function", "function": {"name": "trip", "parameters": TRIP}}]
        request["tool_choice"] = {"type": "function", "function": {"name": "trip"}}
        message = await complete(client, request, stream=stream)
        text = message.tool_calls[0].function.arguments
    trip = json.loads(text)
    jsonschema.validate(trip, TRIP)
    assert trip == {"destination": "Kyoto", "nights": 2, "season": "spring",
                    "stops": [{"name": "Fushimi Inari", "day": 1}]}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
async def test_tool_loop(app: tuple[str, VlloraLLMClient], server: LocalProviderServer, stream: bool) -> None:
    provider, client = app
    messages: list[Any] = [{"role": "user", "content": "Hello!"}]
    request = {"model": MODELS[provider], "max_tokens": 1024, "messages": messages, "tools": TOOLS}
    greeting = await complete(client, request, stream=stream)  # no tool named: the model just answers
    assert not greeting.tool_calls and greeting.text() == f"Hello from the local {provider} server! You said: Hello!"

    question = 'Sunny in "Paris"? And the time? Ask get_weather, then get_time.'
    messages += [greeting.to_dict(), {"role": "user", "content": question}]
    rounds, calls = 0, []
    while True:
        rounds += 1
        message = await complete(client, request, stream=stream)
        if not message.tool_calls:
            break
        messages.append(message.to_dict())
        for call in message.tool_calls:
            arguments = json.loads(call.function.arguments)
            calls.append((call.function.name, arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "name": call.function.name,
                             "content": run_tool(call.function.name, arguments)})
    assert (rounds, calls) == (2, [("get_weather", {"city": "Paris"}), ("get_time", {"city": "Paris"})])
    results = ["sunny in Paris", "noon in Paris"]
    if provider == "gemini":  # a function response is an object: the library wraps text as {"output": ...}
        results = [json.dumps({"output": r}, separators=(",", ":")) for r in results]
    assert message.text() == f"Hello from the local {provider} server! The tool returned: {'; '.join(results)}"
    assert len(server.requests) == 3


async def test_json_output_in_gemini_openapi_dialect(server: LocalProviderServer) -> None:
    """Older Gemini models get the schema as `responseSchema` (the OpenAPI subset, refs inlined): same answer."""
    async with VlloraLLMClient.from_provider("gemini", api_key="app-test-key-0123",
                                             base_url=server.base_url_for("gemini")) as client:
        response = await client.completions().create({
            "model": "gemini-2.0-flash", "messages": [{"role": "user", "content": 'A trip to "Kyoto", "Nara".'}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "trip", "schema": TRIP}}})
    assert "responseSchema" in server.last_request.json["generationConfig"]
    trip = json.loads(response.text())
    jsonschema.validate(trip, TRIP)
    assert trip == {"destination": "Kyoto", "nights": 2, "season": "spring", "stops": [{"name": "Nara", "day": 1}]}
