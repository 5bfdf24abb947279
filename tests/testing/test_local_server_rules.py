"""The local provider server's rules, the ones the README documents: when it calls a tool (and with which
arguments), what it answers after tool results, and JSON output, in each wire format's own way of asking."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jsonschema
import pytest

from vllora_llm.testing import LocalProviderServer
from vllora_llm.tools.testing.replies import Conversation, OutputFormat, ToolSpec, generate, quoted_phrases

CITY = {"type": "object", "properties": {"city": {"type": "string"}, "when": {"type": "string", "format": "date"}},
        "required": ["city"]}
TOOLS = (ToolSpec("get_weather", CITY), ToolSpec("get_time", CITY), ToolSpec("search-web", None))
SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
                   "score": {"type": "number", "exclusiveMinimum": 5, "multipleOf": 0.5},
                   "kind": {"$ref": "#/$defs/kind"}},
    "required": ["title", "tags", "score", "kind"],
    "$defs": {"kind": {"type": "string", "enum": ["book", "film"]}},
}
EXPECTED = {"title": "Dune", "tags": ["sci-fi"], "score": 6, "kind": "book"}
ASK = 'Describe "Dune" with the tag "sci-fi" as JSON.'


def conversation(text: str, **extra: Any) -> Conversation:
    return Conversation(provider="p", texts=(text,), last_user_text=text, tools=TOOLS, **extra)


def called(text: str, **extra: Any) -> list[tuple[str, dict[str, Any]]]:
    reply = generate(conversation(text, **extra), call_id="c")
    assert (reply.finish_reason == "tool_calls") == bool(reply.tool_calls)
    return [(call.name, json.loads(call.arguments)) for call in reply.tool_calls]


# ---- when a tool is called ---------------------------------------------------------------------------------


def test_a_tool_is_called_when_the_last_user_turn_names_it() -> None:
    assert called("What is the weather in Paris?") == []
    assert called('What is the weather in "Paris"? Use GET_WEATHER.') == [
        ("get_weather", {"city": "Paris", "when": "2026-01-01"})]
    assert called("get_weathers and my_get_weather are other words; so is search-website") == []
    oslo = {"city": "Oslo", "when": "2026-01-01"}
    assert called('Call search-web, then get_time for "Oslo"') == [("search-web", {}), ("get_time", oslo)]


def test_tool_choice_and_parallel_calls() -> None:
    both = "get_time and get_weather"
    assert [name for name, _ in called(both)] == ["get_time", "get_weather"]
    assert [name for name, _ in called(both, parallel_tool_calls=False)] == ["get_time"]
    assert called(both, tool_choice="none") == []
    assert [name for name, _ in called("hello", tool_choice="required")] == ["get_weather"]
    assert [name for name, _ in called(both, tool_choice="required")] == ["get_time", "get_weather"]
    assert [name for name, _ in called(both, tool_choice="required", forced_tool="search-web")] == ["search-web"]
    reply = generate(conversation(both), call_id="c")
    assert [call.id for call in reply.tool_calls] == ["c", "c-1"]


def test_after_tool_results_the_answer_quotes_them() -> None:
    reply = generate(conversation("get_weather", tool_result="sunny", tool_choice="required"))
    assert (reply.text, reply.tool_calls, reply.finish_reason) == (
        "Hello from the local p server! The tool returned: sunny", (), "stop")


def test_quoted_phrases() -> None:
    assert quoted_phrases('a "b c" d \u201ce\u201d "f"') == ["b c", "e", "f"]


# ---- JSON output -------------------------------------------------------------------------------------------


def test_json_answers() -> None:
    schema_reply = generate(conversation(ASK, output=OutputFormat("json_schema", SCHEMA)))
    assert json.loads(schema_reply.text or "") == EXPECTED
    after_tool = generate(conversation(ASK, tool_result="42", output=OutputFormat("json_schema", {
        "type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}, "c": {"type": "string"}},
        "required": ["a", "b", "c"]})))
    assert json.loads(after_tool.text or "") == {"a": "Dune", "b": "sci-fi", "c": "42"}
    any_object = generate(conversation("hi", output=OutputFormat("json_object")))
    assert json.loads(any_object.text or "") == {"message": "Hello from the local p server! You said: hi"}
    assert generate(conversation("hi", output=OutputFormat("enum", {"type": "string", "enum": ["B", "A"]}))).text == "B"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any],
               headers: dict[str, str]) -> tuple[int, Any]:
    async with session.post(url, json=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


OPENAI = {"Authorization": "Bearer k"}
ANTHROPIC_BEARER = {"Authorization": "Bearer k", "anthropic-version": "2026-10-21"}
GEMINI = {"x-goog-api-key": "k"}
BEDROCK = {"Authorization": "Bearer k"}


def openai_text(reply: Any) -> str:
    return str(reply["choices"][0]["message"]["content"])


def anthropic_text(reply: Any) -> str:
    return str(reply["content"][0]["text"])


def gemini_text(reply: Any) -> str:
    return str(reply["candidates"][0]["content"]["parts"][0]["text"])


def bedrock_text(reply: Any) -> str:
    return str(reply["output"]["message"]["content"][0]["text"])


WIRE_ASKS: list[tuple[str, str, dict[str, Any], dict[str, str], Any]] = [
    ("openai", "/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": ASK}],
                                        "response_format": {"type": "json_schema",
                                                            "json_schema": {"name": "x", "schema": SCHEMA}}},
     OPENAI, openai_text),
    ("anthropic output_config", "/v1/messages", {"model": "m", "max_tokens": 99, "messages": [
        {"role": "user", "content": ASK}], "output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}},
     ANTHROPIC_BEARER, anthropic_text),
    ("anthropic output_format (beta)", "/v1/messages", {"model": "m", "max_tokens": 99, "messages": [
        {"role": "user", "content": ASK}], "output_format": {"type": "json_schema", "schema": SCHEMA}},
     ANTHROPIC_BEARER, anthropic_text),
    ("gemini responseJsonSchema", "/v1beta/models/m:generateContent", {"contents": [
        {"role": "user", "parts": [{"text": ASK}]}], "generationConfig": {
        "responseMimeType": "application/json", "responseJsonSchema": SCHEMA}}, GEMINI, gemini_text),
    ("gemini responseSchema", "/v1/models/m:generateContent", {"contents": [
        {"role": "user", "parts": [{"text": ASK}]}], "generationConfig": {
        "responseMimeType": "application/json", "responseSchema": {
            "type": "OBJECT", "property_ordering": ["title", "tags", "score", "kind"], "properties": {
                "title": {"type": "STRING"}, "tags": {"type": "ARRAY", "items": {"type": "STRING"}, "min_items": "1"},
                "score": {"type": "NUMBER", "minimum": 6}, "kind": {"type": "STRING", "enum": ["book", "film"]}},
            "required": ["title", "tags", "score", "kind"]}}}, GEMINI, gemini_text),
    ("bedrock outputConfig", "/model/m/converse", {"messages": [{"role": "user", "content": [{"text": ASK}]}],
                                                   "outputConfig": {"textFormat": {"type": "json_schema", "structure": {
                                                       "jsonSchema": {"schema": json.dumps(SCHEMA), "name": "x"}}}}},
     BEDROCK, bedrock_text),
]


@pytest.mark.parametrize(("path", "body", "headers", "text"), [ask[1:] for ask in WIRE_ASKS],
                         ids=[ask[0] for ask in WIRE_ASKS])
async def test_json_schema_output_in_every_wire_format(server: LocalProviderServer, session: aiohttp.ClientSession,
                                                       path: str, body: dict[str, Any], headers: dict[str, str],
                                                       text: Any) -> None:
    status, reply = await post(session, server.url + path, body, headers)
    assert status == 200, reply
    value = json.loads(text(reply))
    jsonschema.validate(value, SCHEMA)
    assert value == EXPECTED


async def test_json_mode_without_a_schema(server: LocalProviderServer, session: aiohttp.ClientSession) -> None:
    messages = [{"role": "user", "content": "Reply in JSON"}]
    _, reply = await post(session, server.openai_base_url + "/chat/completions", {
        "model": "m", "messages": messages, "response_format": {"type": "json_object"}}, OPENAI)
    assert json.loads(openai_text(reply)) == {"message": "Hello from the local openai server! You said: Reply in JSON"}
    _, reply = await post(session, server.url + "/v1beta/models/m:generateContent", {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"responseMimeType": "application/json"}}, GEMINI)
    assert json.loads(gemini_text(reply)) == {"message": "Hello from the local gemini server! You said: hi"}
    _, reply = await post(session, server.url + "/v1beta/models/m:generateContent", {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"responseMimeType": "text/x.enum", "responseSchema": {"type": "STRING",
                                                                                   "enum": ["up", "down"]}}}, GEMINI)
    assert gemini_text(reply) == "up"


@pytest.mark.parametrize(("path", "body", "headers", "message"), [
    ("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "hi"}],
                              "response_format": {"type": "json_object"}}, OPENAI, "must contain the word 'json'"),
    ("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "hi"}],
                              "response_format": {"type": "json_schema"}}, OPENAI, "response_format.json_schema"),
    ("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "hi"}], "response_format": {
        "type": "json_schema", "json_schema": {"name": "x", "schema": "{}"}}}, OPENAI, "expected an object"),
    ("/v1/messages", {"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}],
                      "output_config": {"format": {"type": "json"}}}, ANTHROPIC_BEARER, "output_config.format.type"),
    ("/v1beta/models/m:generateContent", {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                                          "generationConfig": {"responseJsonSchema": {"type": "object"}}},
     GEMINI, "response_mime_type"),
    ("/model/m/converse", {"messages": [{"role": "user", "content": [{"text": "hi"}]}], "outputConfig": {
        "textFormat": {"type": "json_schema", "structure": {"jsonSchema": {"schema": "{not json"}}}}},
     BEDROCK, "not valid JSON"),
])
async def test_a_malformed_json_ask_is_a_400(server: LocalProviderServer, session: aiohttp.ClientSession, path: str,
                                             body: dict[str, Any], headers: dict[str, str], message: str) -> None:
    status, reply = await post(session, server.url + path, body, headers)
    assert status == 400 and message in json.dumps(reply)


# ---- tool calls in each wire format ------------------------------------------------------------------------


TWO = 'Use get_time and get_weather for "Rome".'
OPENAI_TOOLS = [{"type": "function", "function": {"name": t.name, "parameters": CITY}} for t in TOOLS[:2]]


async def test_parallel_calls_and_the_switch_that_stops_them(server: LocalProviderServer,
                                                             session: aiohttp.ClientSession) -> None:
    messages = [{"role": "user", "content": TWO}]
    url = server.openai_base_url + "/chat/completions"
    _, reply = await post(session, url, {"model": "m", "messages": messages, "tools": OPENAI_TOOLS}, OPENAI)
    calls = reply["choices"][0]["message"]["tool_calls"]
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])["city"]) for c in calls] == [
        ("get_time", "Rome"), ("get_weather", "Rome")]
    assert len({c["id"] for c in calls}) == 2
    _, reply = await post(session, url, {"model": "m", "messages": messages, "tools": OPENAI_TOOLS,
                                         "parallel_tool_calls": False}, OPENAI)
    assert len(reply["choices"][0]["message"]["tool_calls"]) == 1

    tools = [{"name": t.name, "input_schema": CITY} for t in TOOLS[:2]]
    anthropic = {"model": "m", "max_tokens": 99, "messages": messages, "tools": tools}
    _, reply = await post(session, server.url + "/v1/messages", anthropic, ANTHROPIC_BEARER)
    assert [b["name"] for b in reply["content"]] == ["get_time", "get_weather"]
    anthropic["tool_choice"] = {"type": "auto", "disable_parallel_tool_use": True}
    _, reply = await post(session, server.url + "/v1/messages", anthropic, {"x-api-key": "k",
                                                                            "anthropic-version": "2023-06-01"})
    assert [b["name"] for b in reply["content"]] == ["get_time"]

    _, reply = await post(session, server.url + "/v1beta/models/m:generateContent", {
        "contents": [{"role": "user", "parts": [{"text": TWO}]}],
        "tools": [{"functionDeclarations": [{"name": t.name, "parametersJsonSchema": CITY} for t in TOOLS[:2]]}]},
        GEMINI)
    assert [p["functionCall"]["name"] for p in reply["candidates"][0]["content"]["parts"]] == ["get_time",
                                                                                               "get_weather"]
    _, reply = await post(session, server.url + "/model/m/converse", {
        "messages": [{"role": "user", "content": [{"text": TWO}]}],
        "toolConfig": {"tools": [{"toolSpec": {"name": t.name, "inputSchema": {"json": CITY}}} for t in TOOLS[:2]]}},
        BEDROCK)
    uses = [b["toolUse"] for b in reply["output"]["message"]["content"]]
    assert [(u["name"], u["input"]["city"]) for u in uses] == [("get_time", "Rome"), ("get_weather", "Rome")]
    assert reply["stopReason"] == "tool_use" and len({u["toolUseId"] for u in uses}) == 2
