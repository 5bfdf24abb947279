"""The local provider server's thinking, read and sent back by the official SDKs (the oracles for its wire shapes):
anthropic (thinking and redacted_thinking blocks, streamed with signature_delta), botocore Converse
(reasoningContent, plain and streamed), google-genai (thought parts, and a Gemini 3 tool loop by automatic
function calling that only works because the SDK replays the thoughtSignature) and openai pointed at the DeepSeek
thinking mode (`reasoning_content`). Each SDK's history without the reasoning is refused, as by the real API."""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from vllora_llm.testing import LocalProviderServer
from vllora_llm.tools.testing.wire_anthropic import REDACTED_TRIGGER

KEY = "sdk-test-key-0123456789"
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
ASK = 'What is the weather in "Paris"? Use get_weather.'


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """The server on its own loop in a thread, since the SDKs here are the blocking ones."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = LocalProviderServer()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    try:
        yield server.url
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


# ---- anthropic -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("redacted", [False, True], ids=["thinking", "redacted"])
def test_anthropic_sdk_thinking_tool_round_trip(url: str, redacted: bool) -> None:
    import anthropic

    client = anthropic.Anthropic(api_key=KEY, base_url=url, max_retries=0)
    tools: Any = [{"name": "get_weather", "input_schema": SCHEMA}]
    thinking: Any = {"type": "enabled", "budget_tokens": 1024}
    messages: list[Any] = [{"role": "user", "content": ASK + (f" {REDACTED_TRIGGER}" if redacted else "")}]
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=2048, thinking=thinking, tools=tools,
                                messages=messages) as events:
        first = events.get_final_message()
    assert [block.type for block in first.content] == [
        "redacted_thinking" if redacted else "thinking", "tool_use"]
    if not redacted:
        assert first.content[0].signature and first.content[0].thinking.startswith("The user said:")  # type: ignore[union-attr]
    [use] = [block for block in first.content if block.type == "tool_use"]
    answer = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]}
    messages += [{"role": "assistant", "content": [block.model_dump() for block in first.content]}, answer]
    final = client.messages.create(model="claude-sonnet-4-5", max_tokens=2048, thinking=thinking, tools=tools,
                                   messages=messages)
    assert final.content[-1].text.endswith("The tool returned: sunny")  # type: ignore[union-attr]
    messages[1] = {"role": "assistant", "content": [use.model_dump()]}
    with pytest.raises(anthropic.BadRequestError, match="must start with a thinking block"):
        client.messages.create(model="claude-sonnet-4-5", max_tokens=2048, thinking=thinking, tools=tools,
                               messages=messages)


# ---- botocore: bedrock-runtime Converse ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bedrock(url: str) -> Any:
    import botocore.session

    session = botocore.session.get_session()
    return session.create_client("bedrock-runtime", region_name="us-east-1", endpoint_url=url,
                                 aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret-for-tests-only")


MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
THINKING = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
TOOL_CONFIG = {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": SCHEMA}}}]}


def test_botocore_converse_reasoning_round_trip(bedrock: Any) -> None:
    from botocore.exceptions import ClientError

    kwargs: dict[str, Any] = {"modelId": MODEL, "toolConfig": TOOL_CONFIG, "additionalModelRequestFields": THINKING}
    messages: list[Any] = [{"role": "user", "content": [{"text": ASK}]}]
    first = bedrock.converse(messages=messages, **kwargs)["output"]["message"]
    reasoning, use = first["content"]
    assert reasoning["reasoningContent"]["reasoningText"]["signature"] and "toolUse" in use
    answer = {"role": "user", "content": [{"toolResult": {"toolUseId": use["toolUse"]["toolUseId"],
                                                          "content": [{"text": "sunny"}]}}]}
    final = bedrock.converse(messages=[*messages, first, answer], **kwargs)["output"]["message"]
    assert final["content"][-1]["text"].endswith("The tool returned: sunny")
    with pytest.raises(ClientError, match="must start with a thinking block"):
        bedrock.converse(messages=[*messages, {"role": "assistant", "content": [use]}, answer], **kwargs)


@pytest.mark.parametrize("redacted", [False, True], ids=["thinking", "redacted"])
def test_botocore_converse_stream_reasoning_deltas(bedrock: Any, redacted: bool) -> None:
    prompt = ASK + (f" {REDACTED_TRIGGER}" if redacted else "")
    stream = bedrock.converse_stream(modelId=MODEL, toolConfig=TOOL_CONFIG, additionalModelRequestFields=THINKING,
                                     messages=[{"role": "user", "content": [{"text": prompt}]}])["stream"]
    pieces = [event["contentBlockDelta"]["delta"]["reasoningContent"] for event in stream
              if "reasoningContent" in event.get("contentBlockDelta", {}).get("delta", {})]
    if redacted:
        [piece] = pieces
        assert isinstance(piece["redactedContent"], bytes)  # a blob: botocore decoded the base64
    else:
        assert "".join(p.get("text", "") for p in pieces).startswith("The user said:")
        assert "signature" in pieces[-1] and all("signature" not in p for p in pieces[:-1])


# ---- google-genai ------------------------------------------------------------------------------------------------


def test_genai_thought_parts_and_a_gemini_3_tool_loop(url: str) -> None:
    from google import genai
    from google.genai import errors
    from google.genai import types as genai_types

    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    client = genai.Client(api_key=KEY, http_options=genai_types.HttpOptions(base_url=url))
    thinking = genai_types.ThinkingConfig(include_thoughts=True)
    reply = client.models.generate_content(model="gemini-2.5-flash", contents="hi",
                                           config=genai_types.GenerateContentConfig(thinking_config=thinking))
    parts = reply.candidates[0].content.parts  # type: ignore[index, union-attr]
    assert [bool(part.thought) for part in parts or ()] == [True, False]
    assert reply.text == "Hello from the local gemini server! You said: hi"  # the SDK leaves thoughts out
    assert reply.usage_metadata is not None and reply.usage_metadata.thoughts_token_count

    config = genai_types.GenerateContentConfig(tools=[get_weather], thinking_config=thinking)
    chat = client.chats.create(model="gemini-3-pro-preview", config=config)
    answer = chat.send_message(ASK)
    assert answer.text == 'Hello from the local gemini server! The tool returned: {"result":"sunny in Paris"}'
    history = chat.get_history()
    [call_part] = [part for content in history for part in content.parts or () if part.function_call]
    assert call_part.thought_signature  # replayed by the SDK, checked by the server
    stripped = [copy.deepcopy(content) for content in history[:-1]]
    for content in stripped:
        for part in content.parts or ():
            part.thought_signature = None
    with pytest.raises(errors.ClientError, match="thought_signature"):
        client.models.generate_content(model="gemini-3-pro-preview", contents=stripped, config=config)
    client.close()


# ---- openai, at DeepSeek's thinking mode -------------------------------------------------------------------------


def test_openai_sdk_deepseek_reasoning_content(url: str) -> None:
    import openai

    client = openai.OpenAI(api_key=KEY, base_url=url + "/v1", max_retries=0)
    tools: Any = [{"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}]
    messages: list[Any] = [{"role": "user", "content": ASK}]
    first = client.chat.completions.create(model="deepseek-chat", messages=messages, tools=tools,
                                           extra_body={"thinking": {"type": "enabled"}}).choices[0].message
    assert (first.model_extra or {})["reasoning_content"].startswith("The user said:")
    [call] = first.tool_calls or []
    answer = {"role": "tool", "tool_call_id": call.id, "content": "sunny"}
    kept = first.model_dump(exclude_none=True)
    final = client.chat.completions.create(model="deepseek-chat", messages=[*messages, kept, answer], tools=tools,
                                           extra_body={"thinking": {"type": "enabled"}})
    assert (final.choices[0].message.content or "").endswith("The tool returned: sunny")
    dropped = {k: v for k, v in kept.items() if k != "reasoning_content"}
    with pytest.raises(openai.BadRequestError, match="reasoning_content"):
        client.chat.completions.create(model="deepseek-chat", messages=[*messages, dropped, answer], tools=tools,
                                       extra_body={"thinking": {"type": "enabled"}})
    streamed = client.chat.completions.create(model="deepseek-reasoner", messages=messages, stream=True)
    reasoning = "".join(getattr(chunk.choices[0].delta, "reasoning_content", None) or ""
                        for chunk in streamed if chunk.choices)
    assert json.dumps(reasoning).startswith('"The user said:')
