"""The local provider server, driven over real HTTP on 127.0.0.1 with a plain aiohttp client: reply shapes,
SSE framing, tool calls, usage, auth, and every fault kind (the runtime tests rely on these behaviours)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from vllora_llm.testing import FAULT_HEADER, Fault, FaultQueue, FaultSpecError, LocalProviderServer, replay
from vllora_llm.tools.testing.replies import example_value

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings" / "openai"
AUTH = {"Authorization": "Bearer test-key"}
PROMPT = [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Say hi"},
]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "metric": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "note": {"type": "string"},
            },
            "required": ["city", "days", "metric", "tags"],
        },
    },
}
WEATHER_ARGS = {"city": "example", "days": 1, "metric": True, "tags": ["example"], "note": "example"}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def chat(stream: bool = False, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": PROMPT, "stream": stream, **extra}


def chat_url(server: LocalProviderServer) -> str:
    return server.openai_base_url + "/chat/completions"


def sse_data(raw: bytes) -> list[str]:
    """The `data:` payload of each event (events end with a blank line; our server sends LF only)."""
    return [block.decode().removeprefix("data: ") for block in raw.split(b"\n\n") if block]


def stream_chunks(raw: bytes) -> list[dict[str, Any]]:
    data = sse_data(raw)
    assert data[-1] == "[DONE]"
    return [json.loads(item) for item in data[:-1]]


async def post(
    session: aiohttp.ClientSession,
    server: LocalProviderServer,
    body: Any,
    headers: dict[str, str] | None = None,
) -> tuple[aiohttp.ClientResponse, bytes]:
    headers = AUTH if headers is None else headers
    async with session.post(chat_url(server), json=body, headers=headers) as resp:
        return resp, await resp.read()


# --- replies ---------------------------------------------------------------------------------------------


async def test_non_stream_reply_has_openai_shape(
    server: LocalProviderServer, session: aiohttp.ClientSession
) -> None:
    resp, raw = await post(session, server, chat())
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.headers["x-request-id"] == "req_local_1"
    text = "Hello from the local openai server! You said: Say hi"
    assert json.loads(raw) == {
        "id": "chatcmpl-local-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 5,
            "completion_tokens": 10,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
        "system_fingerprint": "fp_local",
    }
    recorded = server.last_request
    assert (recorded.method, recorded.path, recorded.json) == ("POST", "/v1/chat/completions", chat())
    assert recorded.headers["authorization"] == "Bearer test-key"


async def test_stream_framing(server: LocalProviderServer, session: aiohttp.ClientSession) -> None:
    resp, raw = await post(session, server, chat(stream=True))
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    assert raw.endswith(b"\n\ndata: [DONE]\n\n")
    chunks = stream_chunks(raw)
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == "chatcmpl-local-1" for c in chunks)
    assert all("usage" not in c for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    pieces = [c["choices"][0]["delta"]["content"] for c in chunks[1:-1]]
    assert len(pieces) > 3
    assert "".join(pieces) == "Hello from the local openai server! You said: Say hi"
    assert chunks[-1]["choices"] == [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]


async def test_stream_usage_chunk(server: LocalProviderServer, session: aiohttp.ClientSession) -> None:
    _, raw = await post(session, server, chat(stream=True, stream_options={"include_usage": True}))
    chunks = stream_chunks(raw)
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == 5
    assert chunks[-1]["usage"]["completion_tokens"] == 10
    assert chunks[-1]["usage"]["total_tokens"] == 15


async def test_tool_call_reply(server: LocalProviderServer, session: aiohttp.ClientSession) -> None:
    _, raw = await post(session, server, chat(tools=[WEATHER_TOOL]))
    assert json.loads(raw)["choices"][0]["finish_reason"] == "stop"  # no tool named: a text answer
    _, raw = await post(session, server, chat(tools=[WEATHER_TOOL], tool_choice="required"))
    choice = json.loads(raw)["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == WEATHER_ARGS

    _, raw = await post(session, server, chat(tools=[WEATHER_TOOL], tool_choice="none"))
    assert json.loads(raw)["choices"][0]["finish_reason"] == "stop"


async def test_streamed_tool_call_arguments_reassemble(
    server: LocalProviderServer, session: aiohttp.ClientSession
) -> None:
    _, raw = await post(session, server, chat(stream=True, tools=[WEATHER_TOOL], tool_choice="required"))
    chunks = stream_chunks(raw)
    deltas = [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls", [])]
    first, rest = deltas[0], deltas[1:]
    assert first["index"] == 0 and first["id"].startswith("call_") and first["type"] == "function"
    assert first["function"] == {"name": "get_weather", "arguments": ""}
    assert len(rest) > 3
    assert all(set(d) == {"index", "function"} and set(d["function"]) == {"arguments"} for d in rest)
    arguments: dict[int, str] = {}
    for delta in rest:
        arguments[delta["index"]] = arguments.get(delta["index"], "") + delta["function"]["arguments"]
    assert json.loads(arguments[0]) == WEATHER_ARGS
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_reply_after_tool_result_mentions_it(
    server: LocalProviderServer, session: aiohttp.ClientSession
) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    messages = [
        *PROMPT,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"},
    ]
    _, raw = await post(session, server, chat(messages=messages, tools=[WEATHER_TOOL]))
    choice = json.loads(raw)["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert "sunny, 21 C" in choice["message"]["content"]


async def test_n_choices(server: LocalProviderServer, session: aiohttp.ClientSession) -> None:
    _, raw = await post(session, server, chat(n=3))
    choices = json.loads(raw)["choices"]
    assert [c["index"] for c in choices] == [0, 1, 2]
    assert all(c["message"]["content"].startswith(f"[choice {c['index']}] Hello") for c in choices)

    _, raw = await post(session, server, chat(stream=True, n=3))
    texts: dict[int, str] = {}
    for chunk in stream_chunks(raw):
        for c in chunk["choices"]:
            texts[c["index"]] = texts.get(c["index"], "") + (c["delta"].get("content") or "")
    assert texts == {i: choices[i]["message"]["content"] for i in range(3)}


async def test_max_tokens_truncates_with_finish_length(
    server: LocalProviderServer, session: aiohttp.ClientSession
) -> None:
    _, raw = await post(session, server, chat(max_tokens=3))
    body = json.loads(raw)
    assert body["choices"][0]["message"]["content"] == "Hello from the"
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 3


@pytest.mark.parametrize(
    ("headers", "body", "status", "param"),
    [
        ({}, chat(), 401, None),
        ({"Authorization": "Basic abc"}, chat(), 401, None),
        (AUTH, {"messages": PROMPT}, 400, "model"),
        (AUTH, chat(n=0), 400, "n"),
    ],
    ids=["no-auth", "not-bearer", "no-model", "bad-n"],
)
async def test_request_errors_use_openai_error_shape(
    server: LocalProviderServer,
    session: aiohttp.ClientSession,
    headers: dict[str, str],
    body: Any,
    status: int,
    param: str | None,
) -> None:
    resp, raw = await post(session, server, body, headers)
    assert resp.status == status
    error = json.loads(raw)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]


def test_example_value_from_schema() -> None:
    schema = {
        "type": "object",
        "required": ["a", "b", "c", "d"],
        "properties": {
            "a": {"$ref": "#/$defs/unit"},
            "b": {"type": ["null", "number"]},
            "c": {"anyOf": [{"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}]},
            "d": {"type": "string", "const": "fixed"},
        },
        "$defs": {"unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    }
    assert example_value(schema) == {"a": "celsius", "b": 1, "c": {"x": "example"}, "d": "fixed"}
    assert example_value(None) == {}


# --- faults ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{"retry-after": "1"}, {"retry-after-ms": "250"}, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}],
    ids=["seconds", "ms", "http-date"],
)
async def test_status_fault_with_retry_after(
    server: LocalProviderServer, session: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    server.faults.push(Fault(status=429, headers=headers))
    resp, raw = await post(session, server, chat())
    assert resp.status == 429
    for name, value in headers.items():
        assert resp.headers[name] == value
    assert json.loads(raw)["error"]["code"] == "rate_limit_exceeded"
    resp, _ = await post(session, server, chat())
    assert resp.status == 200  # the queue was consumed


async def test_fault_queue_is_fifo_with_times(
    server: LocalProviderServer, session: aiohttp.ClientSession
) -> None:
    server.faults.push(Fault(status=500, times=2), Fault(status=503, body={"error": "custom"}))
    assert server.faults.pending == 3
    statuses, bodies = [], []
    for _ in range(4):
        resp, raw = await post(session, server, chat())
        statuses.append(resp.status)
        bodies.append(json.loads(raw))
    assert statuses == [500, 500, 503, 200]
    assert bodies[0]["error"]["type"] == "server_error"
    assert bodies[2] == {"error": "custom"}
    assert len(server.requests) == 4


async def test_reset_before_headers(server: LocalProviderServer, session: aiohttp.ClientSession) -> None:
    server.faults.push(Fault(reset_before_headers=True))
    with pytest.raises(aiohttp.ClientConnectionError):
        await post(session, server, chat())
    assert len(server.requests) == 1  # recorded even though never answered
    resp, _ = await post(session, server, chat())
    assert resp.status == 200


async def read_until_error(resp: aiohttp.ClientResponse) -> tuple[bytes, BaseException | None]:
    received = b""
    try:
        async for piece in resp.content.iter_any():
            received += piece
    except (TimeoutError, aiohttp.ClientError) as exc:
        return received, exc
    return received, None


async def test_cut_after_chunks(server: LocalProviderServer, session: aiohttp.ClientSession) -> None:
    server.faults.push(Fault(cut_after_chunks=2))
    async with session.post(chat_url(server), json=chat(True), headers=AUTH) as resp:
        received, error = await read_until_error(resp)
    assert isinstance(error, aiohttp.ClientPayloadError)
    assert len(sse_data(received)) == 2 and b"[DONE]" not in received


async def test_truncate_without_done(server: LocalProviderServer, session: aiohttp.ClientSession) -> None:
    server.faults.push(Fault(truncate_without_done=True))
    resp, raw = await post(session, server, chat(stream=True))
    assert resp.status == 200
    data = sse_data(raw)
    assert b"[DONE]" not in raw
    assert json.loads(data[-1])["choices"][0]["finish_reason"] == "stop"


async def test_stall_is_seen_as_client_timeout_and_disconnect(
    server: LocalProviderServer, session: aiohttp.ClientSession
) -> None:
    server.faults.push(Fault(stall_after_chunks=1))
    timeout = aiohttp.ClientTimeout(sock_read=0.2)
    async with session.post(chat_url(server), json=chat(True), headers=AUTH, timeout=timeout) as resp:
        received, error = await read_until_error(resp)
    assert isinstance(error, asyncio.TimeoutError)
    assert len(sse_data(received)) == 1
    await wait_for(lambda: server.disconnects == 1)


async def test_disconnect_counted_when_client_closes_mid_stream(
    server: LocalProviderServer, session: aiohttp.ClientSession
) -> None:
    server.faults.push(Fault(drip_s=0.05))
    async with session.post(chat_url(server), json=chat(True), headers=AUTH) as resp:
        await resp.content.readuntil(b"\n\n")
        resp.close()  # drop the connection, as breaking out of a stream does
    await wait_for(lambda: server.disconnects == 1)
    await wait_for(lambda: server.open_connections == 0)


async def test_delay_and_drip(server: LocalProviderServer, session: aiohttp.ClientSession) -> None:
    server.faults.push(Fault(delay_s=0.1), Fault(drip_s=0.01))
    started = time.monotonic()
    await post(session, server, chat())
    assert time.monotonic() - started >= 0.1
    started = time.monotonic()
    _, raw = await post(session, server, chat(stream=True))
    assert time.monotonic() - started >= 0.01 * (len(sse_data(raw)) - 1)


async def test_malformed_json(server: LocalProviderServer, session: aiohttp.ClientSession) -> None:
    server.faults.push(Fault(malformed_json=True), Fault(malformed_json=True))
    resp, raw = await post(session, server, chat())
    assert resp.status == 200
    with pytest.raises(ValueError):
        json.loads(raw)
    _, raw = await post(session, server, chat(stream=True))
    data = sse_data(raw)
    json.loads(data[0])
    with pytest.raises(ValueError):
        json.loads(data[1])


async def test_html_error(server: LocalProviderServer, session: aiohttp.ClientSession) -> None:
    server.faults.push(Fault(html_error=True))
    resp, raw = await post(session, server, chat())
    assert resp.status == 502
    assert resp.headers["Content-Type"].startswith("text/html")
    assert b"<h1>502 Bad Gateway</h1>" in raw


@pytest.mark.parametrize("stream", [False, True])
async def test_gzip_is_decoded_by_the_client(
    server: LocalProviderServer, session: aiohttp.ClientSession, stream: bool
) -> None:
    server.faults.push(Fault(gzip=True))
    resp, raw = await post(session, server, chat(stream=stream))
    assert resp.headers["Content-Encoding"] == "gzip"
    if stream:
        assert len(stream_chunks(raw)) > 3
    else:
        assert json.loads(raw)["choices"][0]["message"]["content"].startswith("Hello")


async def test_big_event(server: LocalProviderServer, session: aiohttp.ClientSession) -> None:
    server.faults.push(Fault(big_event_bytes=200_000))
    _, raw = await post(session, server, chat(stream=True))
    events = [block + b"\n\n" for block in raw.split(b"\n\n") if block]
    assert len(events[1]) == 200_000
    assert json.loads(events[1][len(b"data: ") :])["choices"][0]["delta"]["content"].startswith("xxxx")
    assert stream_chunks(raw)[-1]["choices"][0]["finish_reason"] == "stop"


async def test_fault_from_request_header(server: LocalProviderServer, session: aiohttp.ClientSession) -> None:
    server.faults.push(Fault(status=500))
    fault = json.dumps({"status": 429, "headers": {"retry-after": "2"}})
    resp, _ = await post(session, server, chat(), {**AUTH, FAULT_HEADER: fault})
    assert (resp.status, resp.headers["retry-after"]) == (429, "2")
    assert len(server.faults) == 1  # the queue is left alone

    resp, raw = await post(session, server, chat(), {**AUTH, FAULT_HEADER: '{"explode": true}'})
    assert resp.status == 400
    assert "explode" in json.loads(raw)["error"]["message"]


@pytest.mark.parametrize("chunk_size", [1, 7, None])
async def test_replay_writes_recorded_bytes_verbatim(
    server: LocalProviderServer, session: aiohttp.ClientSession, chunk_size: int | None
) -> None:
    path = RECORDINGS / "stream_text_with_usage.sse"
    server.faults.push(replay(path, content_type="text/event-stream", chunk_size=chunk_size))
    resp, raw = await post(session, server, chat(stream=True), headers={})  # replays skip the auth check
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/event-stream"
    assert raw == path.read_bytes()


async def test_replay_pieces_arrive_separately(
    server: LocalProviderServer, session: aiohttp.ClientSession
) -> None:
    recorded = b"data: {}\n\ndata: [DONE]\n\n"
    server.faults.push(replay(recorded, content_type="text/event-stream", chunk_size=5))
    server.faults.push(Fault(replay_body=b"x" * 10, chunk_size=5, drip_s=0.02))
    async with session.post(chat_url(server), json=chat(True)) as resp:
        assert await resp.read() == recorded
    async with session.post(chat_url(server), json=chat(True)) as resp:
        pieces = [piece async for piece in resp.content.iter_any()]
    assert pieces == [b"xxxxx", b"xxxxx"]


# --- the handle ------------------------------------------------------------------------------------------


async def test_keep_alive_connection_is_reused_and_reset_clears_state(
    server: LocalProviderServer, session: aiohttp.ClientSession
) -> None:
    assert server.url.startswith("http://127.0.0.1:") and server.openai_base_url == server.url + "/v1"
    await post(session, server, chat())
    await post(session, server, chat())
    assert [r.connection for r in server.requests] == [1, 1]
    assert server.open_connections == 1
    server.faults.push(Fault(status=500))
    server.reset()
    assert (server.requests, len(server.faults), server.disconnects) == ([], 0, 0)


async def test_server_takes_an_initial_fault_queue(session: aiohttp.ClientSession) -> None:
    async with LocalProviderServer(faults=FaultQueue([Fault(status=503)])) as server:
        resp, _ = await post(session, server, chat())
        assert resp.status == 503


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"status": 42}, "status"),
        ({"times": 0}, "times"),
        ({"drip_s": "slow"}, "drip_s"),
        ({"gzip": 1}, "gzip"),
        ({"nope": 1}, "unknown"),
    ],
)
def test_fault_validation(data: dict[str, Any], message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        Fault.from_dict(data)


async def wait_for(condition: Any, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)
