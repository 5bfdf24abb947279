"""Existing SDK code pointed at `vllora-llm mock-server`: the official openai (chat and Responses), anthropic,
google-genai and botocore (bedrock-runtime Converse) clients, plain and streamed, one JSON-output call and one
tool round trip each, against the server running as the CLI runs it (a subprocess on a free 127.0.0.1 port)."""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest

if TYPE_CHECKING:  # the SDKs are imported by the fixtures, so collecting the suite does not load them
    import anthropic
    import openai
    from google import genai

KEY = "sdk-test-key-0123456789"
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 7}},
    "required": ["city"],
}
ANSWER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "forecast": {"type": "array", "items": {"$ref": "#/$defs/day"}, "minItems": 2},
    },
    "required": ["city", "unit", "forecast"],
    "additionalProperties": False,
    "$defs": {"day": {"type": "object", "properties": {"high": {"type": "number"}}, "required": ["high"],
                      "additionalProperties": False}},
}
ASK_JSON = 'Give the forecast for "Lyon" as JSON.'
ASK_TOOL = 'What is the weather in "Paris"? Use get_weather.'


def weather(city: str, days: int = 1) -> str:
    return f"sunny in {city}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cli() -> str:
    script = Path(sys.executable).with_name("vllora-llm")
    found = str(script) if script.exists() else shutil.which("vllora-llm")
    assert found, "the vllora-llm command is not installed (pip install -e '.[dev]')"
    return found


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([cli(), "mock-server", "--port", str(port)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "vllora-llm mock-server printed nothing in 30 s"
        first = process.stdout.readline()
        assert f"listening on http://127.0.0.1:{port}" in first, first
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def answer_is_valid(text: str) -> dict[str, Any]:
    value = json.loads(text)
    jsonschema.validate(value, ANSWER_SCHEMA)
    assert value["city"] == "Lyon"  # the quoted phrase of the question fills the first string
    return dict(value)


# ---- openai ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openai_client(url: str) -> Iterator[openai.OpenAI]:
    import openai

    with openai.OpenAI(api_key=KEY, base_url=url + "/v1", max_retries=0) as client:
        yield client


def test_openai_plain_and_streamed(openai_client: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "hi"}]
    reply = openai_client.chat.completions.create(model="gpt-4.1-mini", messages=messages)
    assert reply.choices[0].message.content == "Hello from the local openai server! You said: hi"
    stream = openai_client.chat.completions.create(model="gpt-4.1-mini", messages=messages, stream=True,
                                                   stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == reply.choices[0].message.content
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_openai_json_schema(openai_client: openai.OpenAI) -> None:
    reply = openai_client.chat.completions.create(
        model="gpt-4.1-mini", messages=[{"role": "user", "content": ASK_JSON}],
        response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": ANSWER_SCHEMA,
                                                                "strict": True}})
    assert reply.choices[0].finish_reason == "stop"
    answer_is_valid(reply.choices[0].message.content or "")
    import openai

    with pytest.raises(openai.BadRequestError, match="must contain the word 'json'"):
        openai_client.chat.completions.create(model="gpt-4.1-mini", messages=[{"role": "user", "content": "hi"}],
                                              response_format={"type": "json_object"})


@pytest.mark.parametrize("stream", [False, True])
def test_openai_tool_round_trip(openai_client: openai.OpenAI, stream: bool) -> None:
    tools: Any = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}]
    messages: list[Any] = [{"role": "user", "content": ASK_TOOL}]
    if stream:
        with openai_client.chat.completions.stream(model="gpt-4.1-mini", messages=messages, tools=tools) as events:
            first = events.get_final_completion()
    else:
        first = openai_client.chat.completions.create(model="gpt-4.1-mini", messages=messages, tools=tools)
    assert first.choices[0].finish_reason == "tool_calls"
    [call] = first.choices[0].message.tool_calls or []
    assert call.type == "function"
    arguments = json.loads(call.function.arguments)
    assert (call.function.name, arguments) == ("get_weather", {"city": "Paris", "days": 1})
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": weather(**arguments)}]
    final = openai_client.chat.completions.create(model="gpt-4.1-mini", messages=messages, tools=tools)
    assert final.choices[0].message.content == "Hello from the local openai server! The tool returned: sunny in Paris"


# ---- openai Responses API -----------------------------------------------------------------------------------


def test_openai_responses_plain_and_streamed(openai_client: openai.OpenAI) -> None:
    from openai.types.responses import ResponseStreamEvent
    from pydantic import TypeAdapter

    reply = openai_client.responses.create(model="gpt-4.1-mini", input="hi", instructions="Be brief.",
                                           metadata={"k": "v"})
    assert reply.output_text == "Hello from the local openai server! You said: hi"
    assert reply.status == "completed" and reply.instructions == "Be brief." and reply.metadata == {"k": "v"}
    assert reply.usage is not None and reply.usage.total_tokens == reply.usage.input_tokens + reply.usage.output_tokens
    with openai_client.responses.stream(model="gpt-4.1-mini", input="hi") as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert final.output_text == reply.output_text and final.status == "completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert len(deltas) > 3 and "".join(deltas) == reply.output_text
    strict: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)  # every event is one of the SDK's own types
    for event in openai_client.responses.create(model="gpt-4.1-mini", input="hi", stream=True):
        strict.validate_python(event.model_dump(mode="json"))


def test_openai_responses_json_schema(openai_client: openai.OpenAI) -> None:
    text: Any = {"format": {"type": "json_schema", "name": "answer", "schema": ANSWER_SCHEMA, "strict": True}}
    reply = openai_client.responses.create(model="gpt-4.1-mini", input=ASK_JSON, text=text)
    answer_is_valid(reply.output_text)
    import openai

    with pytest.raises(openai.BadRequestError, match="must contain the word 'json'"):
        openai_client.responses.create(model="gpt-4.1-mini", input="hi", text={"format": {"type": "json_object"}})


@pytest.mark.parametrize("stream", [False, True])
def test_openai_responses_tool_round_trip(openai_client: openai.OpenAI, stream: bool) -> None:
    """Turn 2 continues turn 1 on the server (`previous_response_id`); a stateless turn 2 (`store: false`, the
    output items sent back as input) gets the same answer."""
    tools: Any = [{"type": "function", "name": "get_weather", "parameters": WEATHER_SCHEMA, "strict": False}]
    if stream:
        with openai_client.responses.stream(model="gpt-4.1-mini", input=ASK_TOOL, tools=tools) as events:
            first = events.get_final_response()
    else:
        first = openai_client.responses.create(model="gpt-4.1-mini", input=ASK_TOOL, tools=tools)
    [call] = [item for item in first.output if item.type == "function_call"]
    arguments = json.loads(call.arguments)
    assert (call.name, arguments) == ("get_weather", {"city": "Paris", "days": 1})
    result: Any = {"type": "function_call_output", "call_id": call.call_id, "output": weather(**arguments)}
    final = openai_client.responses.create(model="gpt-4.1-mini", previous_response_id=first.id, input=[result],
                                           tools=tools)
    assert final.output_text == "Hello from the local openai server! The tool returned: sunny in Paris"
    again = openai_client.responses.create(
        model="gpt-4.1-mini", store=False, tools=tools,
        input=[{"role": "user", "content": ASK_TOOL}, *[item.model_dump() for item in first.output], result])
    assert again.output_text == final.output_text
    import openai

    with pytest.raises(openai.NotFoundError, match="not found"):  # store=false kept nothing
        openai_client.responses.create(model="gpt-4.1-mini", previous_response_id=again.id, input="hi")


# ---- anthropic ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def anthropic_client(url: str) -> Iterator[anthropic.Anthropic]:
    import anthropic

    with anthropic.Anthropic(api_key=KEY, base_url=url, max_retries=0) as client:
        yield client


def test_anthropic_plain_and_streamed(anthropic_client: anthropic.Anthropic) -> None:
    messages: Any = [{"role": "user", "content": "hi"}]
    reply = anthropic_client.messages.create(model="claude-sonnet-4-5", max_tokens=256, messages=messages)
    assert [block.type for block in reply.content] == ["text"]
    assert reply.content[0].text == "Hello from the local anthropic server! You said: hi"  # type: ignore[union-attr]
    with anthropic_client.messages.stream(model="claude-sonnet-4-5", max_tokens=256, messages=messages) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 3 and "".join(pieces) == reply.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"


def test_anthropic_json_output(anthropic_client: anthropic.Anthropic) -> None:
    ask: Any = {"model": "claude-sonnet-4-5", "max_tokens": 256, "messages": [{"role": "user", "content": ASK_JSON}],
                "output_config": {"format": {"type": "json_schema", "schema": ANSWER_SCHEMA}}}
    reply = anthropic_client.messages.create(**ask)
    assert reply.stop_reason == "end_turn"
    answer = answer_is_valid(reply.content[0].text)  # type: ignore[union-attr]
    with anthropic_client.messages.stream(**ask) as stream:
        assert answer_is_valid(stream.get_final_text()) == answer


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_tool_round_trip(anthropic_client: anthropic.Anthropic, stream: bool) -> None:
    tools: Any = [{"name": "get_weather", "description": "Weather", "input_schema": WEATHER_SCHEMA}]
    messages: list[Any] = [{"role": "user", "content": ASK_TOOL}]
    if stream:
        with anthropic_client.messages.stream(model="claude-sonnet-4-5", max_tokens=256, messages=messages,
                                              tools=tools) as events:
            first = events.get_final_message()
    else:
        first = anthropic_client.messages.create(model="claude-sonnet-4-5", max_tokens=256, messages=messages,
                                                 tools=tools)
    assert first.stop_reason == "tool_use"
    [use] = [block for block in first.content if block.type == "tool_use"]
    assert (use.name, use.input) == ("get_weather", {"city": "Paris", "days": 1})
    messages += [{"role": "assistant", "content": [block.model_dump() for block in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                               "content": weather(**use.input)}]}]  # type: ignore[arg-type]
    final = anthropic_client.messages.create(model="claude-sonnet-4-5", max_tokens=256, messages=messages,
                                             tools=tools)
    assert final.content[0].text == (  # type: ignore[union-attr]
        "Hello from the local anthropic server! The tool returned: sunny in Paris")


# ---- google-genai -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def genai_client(url: str) -> Iterator[genai.Client]:
    from google import genai
    from google.genai import types as genai_types

    client = genai.Client(api_key=KEY, http_options=genai_types.HttpOptions(base_url=url))
    yield client
    client.close()


def test_genai_plain_and_streamed(genai_client: genai.Client) -> None:
    reply = genai_client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert reply.text == "Hello from the local gemini server! You said: hi"
    pieces = [chunk.text or "" for chunk in genai_client.models.generate_content_stream(model="gemini-2.5-flash",
                                                                                       contents="hi")]
    assert len(pieces) > 3 and "".join(pieces) == reply.text


@pytest.mark.parametrize("field", ["response_json_schema", "response_schema"])
def test_genai_json_output(genai_client: genai.Client, field: str) -> None:
    from google.genai import types as genai_types

    schema = ANSWER_SCHEMA if field == "response_json_schema" else {
        **ANSWER_SCHEMA, "additionalProperties": None, "$defs": None,
        "properties": {**ANSWER_SCHEMA["properties"], "forecast": {  # type: ignore[dict-item]
            "type": "array", "minItems": 2, "items": {"type": "object", "properties": {"high": {"type": "number"}},
                                                      "required": ["high"]}}}}
    schema = {k: v for k, v in schema.items() if v is not None}
    config = genai_types.GenerateContentConfig(response_mime_type="application/json", **{field: schema})
    reply = genai_client.models.generate_content(model="gemini-2.5-flash", contents=ASK_JSON, config=config)
    answer = answer_is_valid(reply.text or "")
    if field == "response_json_schema":
        assert reply.parsed == answer


def test_genai_tool_round_trip_by_automatic_function_calling(genai_client: genai.Client) -> None:
    from google.genai import types as genai_types

    def get_weather(city: str, days: int = 1) -> str:
        """The weather forecast for a city."""
        return weather(city, days)

    chat = genai_client.chats.create(model="gemini-2.5-flash",
                                     config=genai_types.GenerateContentConfig(tools=[get_weather]))
    reply = chat.send_message(ASK_TOOL)
    assert reply.text == 'Hello from the local gemini server! The tool returned: {"result":"sunny in Paris"}'
    history = chat.get_history()
    [call] = [part.function_call for content in history for part in content.parts or () if part.function_call]
    assert (call.name, call.args) == ("get_weather", {"city": "Paris", "days": 1})


# ---- botocore: bedrock-runtime Converse ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def bedrock(url: str) -> Any:
    import botocore.session

    session = botocore.session.get_session()
    return session.create_client("bedrock-runtime", region_name="us-east-1", endpoint_url=url,
                                 aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret-for-tests-only")


MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def streamed_converse(bedrock: Any, **kwargs: Any) -> tuple[str, list[dict[str, Any]], str]:
    """Text, tool uses ({toolUseId, name, input}) and the stop reason of a `converse_stream` call."""
    text, uses, stop = "", [], ""
    for event in bedrock.converse_stream(modelId=MODEL, **kwargs)["stream"]:
        if "contentBlockStart" in event:
            uses.append({**event["contentBlockStart"]["start"]["toolUse"], "input": ""})
        delta = event.get("contentBlockDelta", {}).get("delta", {})
        text += delta.get("text", "")
        if "toolUse" in delta:
            uses[-1]["input"] += delta["toolUse"]["input"]
        stop = event.get("messageStop", {}).get("stopReason", stop)
    return text, [{**use, "input": json.loads(use["input"])} for use in uses], stop


def test_bedrock_plain_and_streamed(bedrock: Any) -> None:
    messages = [{"role": "user", "content": [{"text": "hi"}]}]
    reply = bedrock.converse(modelId=MODEL, messages=messages)
    assert reply["output"]["message"]["content"] == [{"text": "Hello from the local bedrock server! You said: hi"}]
    text, uses, stop = streamed_converse(bedrock, messages=messages)
    assert (text, uses, stop) == ("Hello from the local bedrock server! You said: hi", [], "end_turn")


def test_bedrock_json_output(bedrock: Any) -> None:
    output = {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {
        "schema": json.dumps(ANSWER_SCHEMA), "name": "answer"}}}}
    messages = [{"role": "user", "content": [{"text": ASK_JSON}]}]
    reply = bedrock.converse(modelId=MODEL, messages=messages, outputConfig=output)
    answer = answer_is_valid(reply["output"]["message"]["content"][0]["text"])
    text, _, stop = streamed_converse(bedrock, messages=messages, outputConfig=output)
    assert (answer_is_valid(text), stop) == (answer, "end_turn")


@pytest.mark.parametrize("stream", [False, True])
def test_bedrock_tool_round_trip(bedrock: Any, stream: bool) -> None:
    tool_config = {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": WEATHER_SCHEMA}}}]}
    messages: list[dict[str, Any]] = [{"role": "user", "content": [{"text": ASK_TOOL}]}]
    if stream:
        _, uses, stop = streamed_converse(bedrock, messages=messages, toolConfig=tool_config)
    else:
        first = bedrock.converse(modelId=MODEL, messages=messages, toolConfig=tool_config)
        uses = [block["toolUse"] for block in first["output"]["message"]["content"] if "toolUse" in block]
        stop = first["stopReason"]
    [use] = uses
    assert (stop, use["name"], use["input"]) == ("tool_use", "get_weather", {"city": "Paris", "days": 1})
    messages += [{"role": "assistant", "content": [{"toolUse": use}]},
                 {"role": "user", "content": [{"toolResult": {"toolUseId": use["toolUseId"],
                                                              "content": [{"text": weather(**use["input"])}]}}]}]
    final = bedrock.converse(modelId=MODEL, messages=messages, toolConfig=tool_config)
    assert final["output"]["message"]["content"] == [
        {"text": "Hello from the local bedrock server! The tool returned: sunny in Paris"}]
