"""The local provider server's Anthropic Messages wire format, driven over real HTTP with a plain aiohttp client:
auth and version headers, the error shape, deterministic replies, tool_use, thinking with checkable signatures,
the SSE event sequence, and the faults that act on streams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from vllora_llm.testing import Fault, LocalProviderServer
from vllora_llm.tools.testing.wire_anthropic import signature_for

HEADERS = {"x-api-key": "test-key", "anthropic-version": "2023-06-01"}
TOOL = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                                "required": ["city"]}}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def body(**extra: Any) -> dict[str, Any]:
    return {"model": "claude-x", "max_tokens": 1024, "messages": [{"role": "user", "content": "Say hi"}], **extra}


async def post(session: aiohttp.ClientSession, server: LocalProviderServer, payload: Any,
               headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    url = server.base_url_for("anthropic") + "/v1/messages"
    async with session.post(url, json=payload, headers=HEADERS if headers is None else headers) as response:
        return response.status, dict(response.headers), await response.read()


def events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in raw.decode().split("\n\n"):
        if block:
            name, data = block.split("\n", 1)
            out.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out


def test_the_server_speaks_anthropic(server: LocalProviderServer) -> None:
    assert "anthropic" in server.providers
    assert server.base_url_for("anthropic") == server.url


async def test_missing_api_key_is_401_in_anthropic_shape(server: LocalProviderServer,
                                                         session: aiohttp.ClientSession) -> None:
    status, headers, raw = await post(session, server, body(), headers={"anthropic-version": "2023-06-01"})
    assert status == 401
    assert json.loads(raw) == {"type": "error", "error": {"type": "authentication_error",
                                                          "message": "x-api-key header is required"}}
    assert headers["request-id"].startswith("req_local_")


async def test_version_header_and_max_tokens_are_required(server: LocalProviderServer,
                                                          session: aiohttp.ClientSession) -> None:
    status, _, raw = await post(session, server, body(), headers={"x-api-key": "k"})
    assert status == 400 and "anthropic-version" in json.loads(raw)["error"]["message"]
    payload = body()
    del payload["max_tokens"]
    status, _, raw = await post(session, server, payload)
    assert status == 400
    assert json.loads(raw)["error"] == {"type": "invalid_request_error", "message": "max_tokens: Field required"}


async def test_text_reply(server: LocalProviderServer, session: aiohttp.ClientSession) -> None:
    status, _, raw = await post(session, server, body(system="Be brief."))
    reply = json.loads(raw)
    assert status == 200
    assert reply["type"] == "message" and reply["role"] == "assistant" and reply["model"] == "claude-x"
    assert reply["content"] == [{"type": "text", "text": "Hello from the local anthropic server! You said: Say hi"}]
    assert reply["stop_reason"] == "end_turn" and reply["stop_sequence"] is None
    assert reply["usage"] == {"input_tokens": 4, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                              "output_tokens": 10}
    again = json.loads((await post(session, server, body(system="Be brief.")))[2])
    assert again["content"] == reply["content"]  # deterministic


async def test_tool_use_when_tools_are_given(server: LocalProviderServer, session: aiohttp.ClientSession) -> None:
    said = json.loads((await post(session, server, body(tools=[TOOL])))[2])
    assert said["stop_reason"] == "end_turn"  # no tool is mentioned: the model answers
    reply = json.loads((await post(session, server, body(tools=[TOOL], tool_choice={"type": "any"})))[2])
    assert reply["stop_reason"] == "tool_use"
    [call] = reply["content"]
    assert call["type"] == "tool_use" and call["name"] == "get_weather" and call["input"] == {"city": "example"}
    result = [{"type": "tool_result", "tool_use_id": call["id"], "content": "sunny"}]
    turns = [{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": [call]},
             {"role": "user", "content": result}]
    final = json.loads((await post(session, server, body(tools=[TOOL], messages=turns)))[2])
    assert final["content"][0]["text"].endswith("The tool returned: sunny")
    none = json.loads((await post(session, server, body(tools=[TOOL], tool_choice={"type": "none"},
                                                        messages=[{"role": "user", "content": "get_weather"}])))[2])
    assert none["content"][0]["type"] == "text"


async def test_thinking_blocks_carry_a_checkable_signature(server: LocalProviderServer,
                                                           session: aiohttp.ClientSession) -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024}
    reply = json.loads((await post(session, server, body(tools=[TOOL], max_tokens=2048, thinking=thinking,
                                                         tool_choice={"type": "auto"},
                                                         messages=[{"role": "user", "content": "get_weather?"}])))[2])
    first, call = reply["content"]
    assert first["type"] == "thinking" and first["signature"] == signature_for(first["thinking"])
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "ok"}]}
    back = body(tools=[TOOL], max_tokens=2048, thinking=thinking,
                messages=[{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": [first, call]},
                          result])
    assert (await post(session, server, back))[0] == 200
    back["messages"][1]["content"] = [{**first, "signature": "x" + first["signature"]}, call]
    status, _, raw = await post(session, server, back)
    assert status == 400 and "Invalid `signature`" in json.loads(raw)["error"]["message"]
    back["messages"][1]["content"] = [call]
    status, _, raw = await post(session, server, back)
    assert status == 400 and "must start with a thinking block" in json.loads(raw)["error"]["message"]


async def test_thinking_budget_rules(server: LocalProviderServer, session: aiohttp.ClientSession) -> None:
    status, _, raw = await post(session, server, body(thinking={"type": "enabled", "budget_tokens": 500}))
    assert status == 400 and "1024" in json.loads(raw)["error"]["message"]
    status, _, raw = await post(session, server, body(thinking={"type": "enabled", "budget_tokens": 1024}))
    assert status == 400 and "greater than `thinking.budget_tokens`" in json.loads(raw)["error"]["message"]


async def test_stop_sequences(server: LocalProviderServer, session: aiohttp.ClientSession) -> None:
    reply = json.loads((await post(session, server, body(stop_sequences=["server"])))[2])
    assert reply["content"] == [{"type": "text", "text": "Hello from the local anthropic "}]
    assert (reply["stop_reason"], reply["stop_sequence"]) == ("stop_sequence", "server")


async def test_stream_event_sequence(server: LocalProviderServer, session: aiohttp.ClientSession) -> None:
    status, headers, raw = await post(session, server, body(stream=True, tools=[TOOL], max_tokens=2048,
                                                            thinking={"type": "enabled", "budget_tokens": 1024},
                                                            messages=[{"role": "user", "content": "Call get_weather"}]))
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    seen = events(raw)
    names = [name for name, _ in seen]
    assert all(name == data["type"] for name, data in seen)
    assert names[:2] == ["message_start", "ping"] and names[-2:] == ["message_delta", "message_stop"]
    starts = [data["content_block"]["type"] for name, data in seen if name == "content_block_start"]
    assert starts == ["thinking", "tool_use"]
    deltas = [data["delta"]["type"] for name, data in seen if name == "content_block_delta"]
    assert deltas[0] == "thinking_delta" and "signature_delta" in deltas and deltas[-1] == "input_json_delta"
    arguments = "".join(d["delta"]["partial_json"] for n, d in seen if n == "content_block_delta"
                        and d["delta"]["type"] == "input_json_delta")
    assert json.loads(arguments) == {"city": "example"}
    assert seen[-2][1]["delta"]["stop_reason"] == "tool_use"


async def test_stream_faults(server: LocalProviderServer, session: aiohttp.ClientSession) -> None:
    server.faults.push(Fault(truncate_without_done=True))
    _, _, raw = await post(session, server, body(stream=True))
    assert [name for name, _ in events(raw)][-1] == "message_delta"  # no message_stop

    server.faults.push(Fault(big_event_bytes=5000))
    _, _, raw = await post(session, server, body(stream=True))
    sizes = [len(block) + 2 for block in raw.split(b"\n\n") if block]
    assert 5000 in sizes

    server.faults.push(Fault(malformed_json=True))
    _, _, raw = await post(session, server, body(stream=True))
    assert b'"index": 0, \n\n' in raw
