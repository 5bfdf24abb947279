"""Typed structured output through the public client, over real HTTP to the local provider server (issue #22).

`completions().parse(request, City)` (and a class as a dict request's `response_format`) sends the class's JSON
schema as a `json_schema` response format in each provider's own way and validates the answer into an
instance; an answer that does not fit is a `StructuredOutputError` naming the class and the field.
"""

from __future__ import annotations

import json

import msgspec
import pydantic
import pytest

from vllora_llm.client import SyncVlloraLLMClient, VlloraLLMClient
from vllora_llm.error import StructuredOutputError
from vllora_llm.testing import LocalProviderServer, replay


class City(msgspec.Struct):
    """A city and its country."""

    name: str
    country: str
    population: int


class Place(pydantic.BaseModel):
    name: str
    population: int


QUESTION = {"role": "user", "content": 'Describe the city "Paris" in the country "France".'}
MODELS = {"openai": "gpt-4.1-mini", "anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.5-flash",
          "bedrock": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"}


def connect(server: LocalProviderServer, provider: str) -> VlloraLLMClient:
    return VlloraLLMClient.from_provider(provider, api_key="k", base_url=server.base_url_for(provider), timeout=10)


BEFORE_NATIVE = {"anthropic": "claude-3-5-haiku-20241022", "bedrock": "anthropic.claude-3-5-sonnet-20240620-v1:0"}
"""Models without native structured output: the schema goes out as a forced tool's input schema."""
CASES = [*((p, m) for p, m in sorted(MODELS.items())), *((p, m) for p, m in sorted(BEFORE_NATIVE.items()))]


@pytest.mark.parametrize(("provider", "model"), CASES, ids=[f"{p}:{m}" for p, m in CASES])
async def test_parse_sends_the_schema_and_validates_the_answer(server: LocalProviderServer, provider: str,
                                                               model: str) -> None:
    async with connect(server, provider) as client:
        response = await client.completions().parse(
            {"model": model, "max_tokens": 256, "messages": [QUESTION]}, City)
    assert isinstance(response.parsed, City)
    assert (response.parsed.name, response.parsed.country) == ("Paris", "France")
    assert response.finish_reason() == "stop"
    assert json.loads(response.text())["name"] == "Paris"
    assert not response.message().tool_calls
    sent = json.dumps(server.last_request.json)
    assert "population" in sent and "country" in sent   # the class's schema went out, in the provider's field


async def test_openai_wire_format_names_the_class_with_its_schema_at_the_root(server: LocalProviderServer) -> None:
    async with connect(server, "openai") as client:
        await client.completions().parse({"model": "gpt-4.1-mini", "messages": [QUESTION]}, City)
    sent = server.last_request.json["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["name"] == "City"
    assert sent["json_schema"]["description"] == "A city and its country."
    schema = sent["json_schema"]["schema"]
    assert schema["type"] == "object" and schema["required"] == ["name", "country", "population"]


async def test_a_pydantic_class_in_a_dict_request_is_parsed(server: LocalProviderServer) -> None:
    async with connect(server, "gemini") as client:
        response = await client.completions().create(
            {"model": "gemini-2.5-flash", "messages": [QUESTION], "response_format": Place})
    parsed = getattr(response, "parsed", None)
    assert isinstance(parsed, Place) and parsed.name == "Paris"
    assert response.to_dict()["parsed"] == {"name": "Paris", "population": parsed.population}


ANSWER = {"id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-4.1-mini",
          "choices": [{"index": 0, "finish_reason": "stop", "message": {
              "role": "assistant", "content": '{"name": "Paris", "country": "France", "population": "many"}'}}]}


async def test_an_answer_that_does_not_fit_is_a_structured_output_error(server: LocalProviderServer) -> None:
    server.faults.push(replay(json.dumps(ANSWER).encode(), content_type="application/json"))
    async with connect(server, "openai") as client:
        with pytest.raises(StructuredOutputError) as caught:
            await client.completions().parse({"model": "gpt-4.1-mini", "messages": [QUESTION]}, City)
    assert caught.value.target == "City"
    assert caught.value.path == "population"
    assert "expected `int`, got `str`" in str(caught.value)
    assert caught.value.body == ANSWER["choices"][0]["message"]["content"]   # type: ignore[index]


@pytest.mark.parametrize("output", [City, Place], ids=["msgspec", "pydantic"])
async def test_truncated_json_names_the_finish_reason(server: LocalProviderServer, output: type[object]) -> None:
    cut = {**ANSWER, "choices": [{"index": 0, "finish_reason": "length",
                                  "message": {"role": "assistant", "content": '{"name": "Par'}}]}
    server.faults.push(replay(json.dumps(cut).encode(), content_type="application/json"))
    async with connect(server, "openai") as client:
        with pytest.raises(StructuredOutputError, match="not JSON \\(finish_reason length\\)"):
            await client.completions().parse({"model": "gpt-4.1-mini", "messages": [QUESTION]}, output)


def test_the_sync_facade_parses(threaded_server: LocalProviderServer) -> None:
    with SyncVlloraLLMClient.from_provider("openai", api_key="k", base_url=threaded_server.openai_base_url,
                                           timeout=10) as client:
        response = client.completions().parse({"model": "gpt-4.1-mini", "messages": [QUESTION]}, City)
        with client.completions().create_stream(
                {"model": "gpt-4.1-mini", "messages": [QUESTION], "response_format": City}) as stream:
            pieces = [choice.delta.content or "" for chunk in stream for choice in chunk.choices]
    assert response.parsed is not None and response.parsed.country == "France"
    streamed = stream.parse(City).parsed
    assert streamed is not None and streamed.name == "Paris" and "".join(pieces) == stream.response.text()


async def test_tool_calls_instead_of_an_answer_parse_to_none(server: LocalProviderServer) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    async with connect(server, "openai") as client:
        response = await client.completions().parse(
            {"model": "gpt-4.1-mini", "tools": tools, "messages": [
                {"role": "user", "content": 'Use get_weather for "Paris"'}]}, City)
    assert response.parsed is None
    assert [c.function.name for c in response.message().tool_calls or ()] == ["get_weather"]


@pytest.mark.parametrize("provider", ["anthropic", "gemini"])
async def test_a_stream_asking_for_a_class_parses_once_it_ended(server: LocalProviderServer, provider: str) -> None:
    async with connect(server, provider) as client:
        stream = client.completions().create_stream(
            {"model": MODELS[provider], "max_tokens": 256, "messages": [QUESTION], "response_format": City})
        text = "".join([choice.delta.content or "" async for chunk in stream for choice in chunk.choices])
    parsed = stream.parse(City).parsed
    assert isinstance(parsed, City) and parsed.country == "France"
    assert json.loads(text)["name"] == "Paris"
