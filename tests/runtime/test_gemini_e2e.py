"""The real client, end to end, against the local provider server speaking Gemini (generateContent).

`VlloraLLMClient.from_provider("gemini", ...)` over real HTTP on 127.0.0.1: n = 3 gives three choices, a
stream (alt=sse, CRLF-separated whole responses) gives text chunks and usage, a function call's
thoughtSignature survives the round trip (the server checks it the way Gemini 3 does), a recorded stream
replays through the client, and a 429's RetryInfo becomes the error's retry delay.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.errors import InvalidRequestError, PermissionDeniedError, RateLimitError, StreamError
from vllora_llm.engine.registry import load_plan
from vllora_llm.testing import Fault, LocalProviderServer, replay
from vllora_llm.tools.testing.wire_gemini import SKIP_SIGNATURE, signature_for

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings" / "gemini"
SSE = "text/event-stream; charset=utf-8"
HELLO = [{"role": "user", "content": "Say hello"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                       "additionalProperties": False},
    },
}


@pytest.fixture
async def client(server: LocalProviderServer) -> AsyncIterator[VlloraLLMClient]:
    async with VlloraLLMClient.from_provider(
        "gemini", api_key="AIza-test", base_url=server.base_url_for("gemini"), timeout=10, max_retries=0
    ) as c:
        yield c


async def test_n3_gives_three_choices(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    response = await client.completions().create({"model": "gemini-2.5-flash", "messages": HELLO, "n": 3})
    assert [c.index for c in response.choices] == [0, 1, 2]
    assert [c.message.text() for c in response.choices] == [
        f"[choice {i}] Hello from the local gemini server! You said: Say hello" for i in range(3)
    ]
    assert [c.finish_reason for c in response.choices] == ["stop"] * 3
    assert response.warnings == []
    assert response.usage is not None and response.usage.prompt_tokens == 2
    sent = server.last_request
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent.headers["x-goog-api-key"] == "AIza-test"
    assert sent.json == {"contents": [{"role": "user", "parts": [{"text": "Say hello"}]}],
                         "generationConfig": {"candidateCount": 3}}


async def test_stream_with_text(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    request = {"model": "gemini-2.5-flash", "messages": [{"role": "system", "content": "Be kind."}, *HELLO]}
    async with asyncio.timeout(10), client.completions().create_stream(request) as stream:
        pieces = [chunk.choices[0].delta.content async for chunk in stream if chunk.choices and
                  chunk.choices[0].delta.content]
    assert len(pieces) > 3
    assert "".join(pieces) == "Hello from the local gemini server! You said: Say hello"
    response = stream.response
    assert response.finish_reason() == "stop"
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (4, 10)
    sent = server.last_request
    assert (sent.path, sent.query) == ("/v1beta/models/gemini-2.5-flash:streamGenerateContent", {"alt": "sse"})
    assert sent.json["systemInstruction"] == {"parts": [{"text": "Be kind."}]}


async def test_stream_n2(client: VlloraLLMClient) -> None:
    request = {"model": "gemini-2.5-flash", "messages": HELLO, "n": 2}
    async with asyncio.timeout(10), client.completions().create_stream(request) as stream:
        async for _ in stream:
            pass
    assert [c.message.text() for c in stream.response.choices] == [
        f"[choice {i}] Hello from the local gemini server! You said: Say hello" for i in range(2)
    ]


async def run_tool_turn(client: VlloraLLMClient, model: str, *, stream: bool) -> dict[str, Any]:
    """Ask with a tool; return the assistant message (as a dict) the client decoded."""
    request = {"model": model, "messages": [{"role": "user", "content": "Weather in Paris?"}],
               "tools": [WEATHER_TOOL], "tool_choice": "required"}
    if stream:
        async with asyncio.timeout(10), client.completions().create_stream(request) as result:
            async for _ in result:
                pass
        response = result.response
    else:
        response = await client.completions().create(request)
    assert response.finish_reason() == "tool_calls"
    return response.message().to_dict()


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
async def test_thought_signature_round_trip(client: VlloraLLMClient, server: LocalProviderServer,
                                            stream: bool) -> None:
    model = "gemini-3-pro-preview"
    assistant = await run_tool_turn(client, model, stream=stream)
    (call,) = assistant["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"example"}'}
    assert call["signature"] == signature_for("get_weather", {"city": "example"})
    follow_up = {
        "model": model,
        "messages": [{"role": "user", "content": "Weather in Paris?"}, assistant,
                     {"role": "tool", "tool_call_id": call["id"], "content": "sunny"}],
        "tools": [WEATHER_TOOL],
    }
    response = await client.completions().create(follow_up)
    assert response.message().text() == 'Hello from the local gemini server! The tool returned: {"output":"sunny"}'
    sent_call = server.last_request.json["contents"][1]["parts"][0]
    assert sent_call["thoughtSignature"] == call["signature"]
    assert sent_call["functionCall"] == {"id": call["id"], "name": "get_weather", "args": {"city": "example"}}


async def test_a_wrong_signature_is_refused_like_gemini_3(client: VlloraLLMClient) -> None:
    assistant = await run_tool_turn(client, "gemini-3-pro-preview", stream=False)
    assistant["tool_calls"][0]["signature"] = "tampered"
    follow_up = {"model": "gemini-3-pro-preview", "messages": [
        {"role": "user", "content": "Weather in Paris?"}, assistant,
        {"role": "tool", "tool_call_id": assistant["tool_calls"][0]["id"], "content": "sunny"}]}
    with pytest.raises(InvalidRequestError, match="thought_signature") as info:
        await client.completions().create(follow_up)
    assert info.value.status == 400 and info.value.error_type == "INVALID_ARGUMENT"


async def test_a_lost_signature_gets_the_sentinel(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    follow_up = {"model": "gemini-3-flash-preview", "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                              "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"sky": "clear"}'}]}
    response = await client.completions().create(follow_up)
    assert response.message().text().endswith('The tool returned: {"sky":"clear"}')
    assert server.last_request.json["contents"][1]["parts"][0]["thoughtSignature"] == SKIP_SIGNATURE


async def test_recorded_stream_replays_through_the_client(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    recording = RECORDINGS / "stream_function_call_thought_signature.sse"
    server.faults.push(replay(recording, content_type=SSE, chunk_size=7))
    async with asyncio.timeout(10), client.completions().create_stream(
        {"model": "gemini-3-pro-preview", "messages": HELLO}
    ) as stream:
        async for _ in stream:
            pass
    (call,) = stream.response.message().tool_calls or []
    first = json.loads(next(line for line in recording.read_text().splitlines() if line.startswith("data: "))[6:])
    part = first["candidates"][0]["content"]["parts"][0]
    assert (call.function.name, call.signature) == (part["functionCall"]["name"], part["thoughtSignature"])
    assert stream.response.finish_reason() == "tool_calls"


async def test_a_bare_json_error_mid_stream_raises_through_the_client(
    client: VlloraLLMClient, server: LocalProviderServer
) -> None:
    # The recording ends with a multi-line JSON error object written without `data:`; the spec declares
    # `stray_lines: as_data`, so the runtime's framer must deliver it and the decoder must raise.
    server.faults.push(replay(RECORDINGS / "stream_error_mid_stream.sse", content_type=SSE, chunk_size=7))
    received = []
    with pytest.raises(StreamError) as raised:
        async with asyncio.timeout(10), client.completions().create_stream(
            {"model": "gemini-2.5-flash", "messages": HELLO}
        ) as stream:
            async for chunk in stream:
                received.append(chunk)
    assert received, "the events before the error reach the caller"
    assert raised.value.body is not None and "499" in str(raised.value.body)


async def test_429_retry_info_becomes_retry_after(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(Fault(status=429))
    with pytest.raises(RateLimitError) as info:
        await client.completions().create({"model": "gemini-2.5-flash", "messages": HELLO})
    assert info.value.retry_after == 1.0
    assert info.value.error_type == "RESOURCE_EXHAUSTED"


async def test_missing_key_is_refused(server: LocalProviderServer) -> None:
    async with aiohttp.ClientSession() as session, session.post(
        server.base_url_for("gemini") + "/v1beta/models/gemini-2.5-flash:generateContent",
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    ) as answer:
        body = await answer.json()
    assert answer.status == 403
    error = plan_error(answer.status, body)
    assert isinstance(error, PermissionDeniedError)
    assert "unregistered callers" in str(error)


def plan_error(status: int, body: Any) -> Exception:
    return load_plan("gemini").error(status, {}, json.dumps(body).encode())


async def test_google_api_key_is_accepted_too(server: LocalProviderServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_API_KEY", "from-google-env")
    async with VlloraLLMClient.from_provider("gemini", base_url=server.base_url_for("gemini")) as c:
        await c.completions().create({"model": "gemini-2.5-flash", "messages": HELLO})
    assert server.last_request.headers["x-goog-api-key"] == "from-google-env"


async def test_the_base_url_comes_from_the_official_sdks_variable(
    server: LocalProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GOOGLE_GEMINI_BASE_URL, the variable google-genai reads for its base URL (the bare origin there too)."""
    from google import genai

    url = server.base_url_for("gemini")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", url)
    assert genai.Client(api_key="k")._api_client._http_options.base_url.rstrip("/") == url.rstrip("/")
    async with VlloraLLMClient.from_provider("gemini", api_key="k") as c:
        reply = await c.completions().create({"model": "gemini-2.5-flash", "messages": HELLO})
    assert reply.text() and server.last_request.path == "/v1beta/models/gemini-2.5-flash:generateContent"


async def test_without_alt_sse_the_server_streams_one_json_array(server: LocalProviderServer) -> None:
    async with aiohttp.ClientSession(headers={"x-goog-api-key": "k"}) as session, session.post(
        server.base_url_for("gemini") + "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    ) as answer:
        events = await answer.json()
    assert isinstance(events, list) and events[-1]["candidates"][0]["finishReason"] == "STOP"
    text = "".join(p.get("text", "") for e in events for c in e["candidates"] for p in c["content"]["parts"])
    assert text == "Hello from the local gemini server! You said: hi"
