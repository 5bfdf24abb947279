"""The real client, end to end, against recorded OpenAI streams replayed by the local provider server.

Each recording in tests/recordings/openai/ (in the repository) is replayed in 1-byte, 7-byte and whole
writes through `VlloraLLMClient.from_provider("openai", ...)` over real HTTP on 127.0.0.1; the aggregated
response must equal what an independent, naive reading of the same recording says (text, refusal, tool
calls, finish reasons, usage). Then: leaving a stream early closes the connection at once.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from vllora_llm.client import SyncVlloraLLMClient, VlloraLLMClient
from vllora_llm.engine.errors import InvalidRequestError, StreamError
from vllora_llm.runtime.transport import AiohttpTransport
from vllora_llm.testing import Fault, LocalProviderServer, replay
from vllora_llm.types.gateway import ChatCompletionMessageWithFinishReason, ToolCall, Usage

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings" / "openai"
STREAMS = sorted(RECORDINGS.glob("stream_*.sse"))
REQUEST = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
SSE = "text/event-stream; charset=utf-8"

pytestmark = pytest.mark.skipif(not STREAMS, reason=f"no recordings in {RECORDINGS}")


def expected_from_recording(path: Path) -> dict[str, Any]:
    """A deliberately naive reading of the recording: the oracle the client is checked against."""
    choices: dict[int, dict[str, Any]] = {}
    usage = None
    for line in path.read_text().splitlines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        event = json.loads(line[6:])
        usage = event.get("usage") or usage
        for choice in event.get("choices") or []:
            acc = choices.setdefault(choice["index"], {"content": "", "refusal": "", "calls": {}, "finish": None})
            delta = choice.get("delta") or {}
            acc["content"] += delta.get("content") or ""
            acc["refusal"] += delta.get("refusal") or ""
            for call in delta.get("tool_calls") or []:
                slot = acc["calls"].setdefault(call["index"], {"id": None, "name": "", "arguments": ""})
                slot["id"] = call.get("id") or slot["id"]
                function = call.get("function") or {}
                slot["name"] += function.get("name") or ""
                slot["arguments"] += function.get("arguments") or ""
            acc["finish"] = choice.get("finish_reason") or acc["finish"]
    # usage as the unified type models it (it keeps OpenAI's names; prediction-token counts have no field)
    return {"choices": choices, "usage": Usage.from_dict(usage).to_dict() if usage else None}


def summary(response: ChatCompletionMessageWithFinishReason) -> dict[str, Any]:
    choices = {}
    for choice in response.choices:
        message = choice.message
        calls = {
            i: {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
            for i, c in enumerate(message.tool_calls or [])
        }
        choices[choice.index] = {
            "content": message.text(),
            "refusal": message.refusal or "",
            "calls": calls,
            "finish": choice.finish_reason,
        }
    return {"choices": choices, "usage": response.usage.to_dict() if response.usage else None}


@pytest.fixture
async def client(server: LocalProviderServer) -> AsyncIterator[VlloraLLMClient]:
    async with VlloraLLMClient.from_provider(
        "openai", api_key="sk-test", base_url=server.openai_base_url, timeout=10
    ) as c:
        yield c


def chunk_sizes(path: Path) -> list[int | None]:
    # 1-byte writes cost one server write each: keep them to the recordings of ordinary size
    return [1, 7, None] if path.stat().st_size < 10_000 else [7, None]


CASES = [(p, size) for p in STREAMS for size in chunk_sizes(p)]


@pytest.mark.parametrize(("recording", "chunk_size"), CASES, ids=[f"{p.stem}-{size or 'whole'}" for p, size in CASES])
async def test_replayed_stream_aggregates_exactly(
    client: VlloraLLMClient, server: LocalProviderServer, recording: Path, chunk_size: int | None
) -> None:
    server.faults.push(replay(recording, content_type=SSE, chunk_size=chunk_size))
    async with asyncio.timeout(20):
        stream = client.completions().create_stream(REQUEST)
        chunks = [chunk async for chunk in stream]
    assert chunks
    assert summary(stream.response) == expected_from_recording(recording)
    assert server.last_request.json["stream"] is True


async def test_exact_values(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    async def run(name: str) -> ChatCompletionMessageWithFinishReason:
        server.faults.push(replay(RECORDINGS / name, content_type=SSE, chunk_size=7))
        async with asyncio.timeout(10), client.completions().create_stream(REQUEST) as stream:
            async for _ in stream:
                pass
        return stream.response

    refusal = await run("stream_refusal.sse")
    assert refusal.message().refusal == "I'm sorry, I can't assist with that request."
    assert refusal.message().content is None

    parallel = await run("stream_tool_calls_parallel_with_usage.sse")
    calls = parallel.message().tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("call_q2UyBRP7eXNTzAoR8lEhjc9Z", "get_country", "{}"),
        ("call_b51ijcpFkDiTQG1bQzsrmtW5", "get_product_name", "{}"),
    ]
    assert parallel.finish_reason() == "tool_calls"
    assert parallel.usage is not None
    assert (parallel.usage.prompt_tokens, parallel.usage.completion_tokens, parallel.usage.total_tokens) == (
        364,
        40,
        404,
    )

    n3 = await run("stream_n3_multiple_choices.sse")
    assert [c.index for c in n3.choices] == [0, 1, 2]


async def test_non_streamed_replay_and_error(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    body = (RECORDINGS / "response_tool_call.json").read_bytes()
    server.faults.push(replay(body, content_type="application/json", chunk_size=3))
    response = await client.completions().create(REQUEST)
    assert response.message().tool_calls == json_tool_calls(body)

    error = RECORDINGS / "error_400_unsupported_value.json"
    server.faults.push(replay(error, content_type="application/json", status=400))
    with pytest.raises(InvalidRequestError) as info:
        await client.completions().create(REQUEST)
    assert json.loads(error.read_text())["error"]["message"] in str(info.value)
    assert info.value.status == 400


async def test_chunks_read_together_with_an_error_event_reach_the_caller_first(
    client: VlloraLLMClient, server: LocalProviderServer
) -> None:
    # The whole body arrives in one read: the good chunks before the mid-stream error must still be delivered.
    recording = RECORDINGS.parent / "openai_compatible" / "openrouter_stream_comments_then_midstream_error.sse"
    server.faults.push(replay(recording, content_type=SSE))
    received = []
    with pytest.raises(StreamError, match="Token limit reached"):
        async for chunk in client.completions().create_stream(REQUEST):
            received.append(chunk)
    expected = sum(
        1 for line in recording.read_text().splitlines() if line.startswith("data: {") and '"error"' not in line
    )
    assert len(received) == expected > 0


def json_tool_calls(body: bytes) -> Any:
    calls = json.loads(body)["choices"][0]["message"]["tool_calls"]
    return [ToolCall.from_dict(c) for c in calls]


async def test_dict_request_and_warnings(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    request = {**REQUEST, "n": 2, "temperature": 0.5}
    response = await client.completions().create(request)
    assert [w.param for w in response.warnings] == ["n"]
    sent = server.last_request.json
    assert "n" not in sent and sent["temperature"] == 0.5
    stream = await client.completions().create_stream(request)
    assert [w.param for w in stream.warnings] == ["n"]
    async for _ in stream:
        pass
    assert [w.param for w in stream.response.warnings] == ["n"]


# ---- leaving early closes the connection ----------------------------------------------------------------


async def wait_for_disconnect(server: LocalProviderServer, before: int) -> None:
    async with asyncio.timeout(2):
        while server.disconnects == before:
            await asyncio.sleep(0.005)


def slow_replay() -> Fault:
    return replay(RECORDINGS / "stream_text_no_usage.sse", content_type=SSE, chunk_size=40, drip_s=0.02)


async def test_break_from_bare_async_for_closes(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(slow_replay())
    async for _ in client.completions().create_stream(REQUEST):
        break
    await wait_for_disconnect(server, 0)


async def test_break_inside_async_with_closes(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(slow_replay())
    async with client.completions().create_stream(REQUEST) as stream:
        async for _ in stream:
            break
    await wait_for_disconnect(server, 0)
    assert stream.aggregate().choices  # what arrived before the break is kept


async def test_aclose_on_awaited_stream_closes(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(slow_replay())
    stream = await client.completions().create_stream(REQUEST)
    await stream.__anext__()
    await stream.aclose()
    await wait_for_disconnect(server, 0)
    assert [c async for c in stream] == []


async def test_cancellation_closes(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(slow_replay())
    started = asyncio.Event()

    async def consume() -> None:
        async for _ in client.completions().create_stream(REQUEST):
            started.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(5):
        await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_for_disconnect(server, 0)


async def test_connection_reused_after_a_full_stream(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    for _ in range(3):
        async for _ in client.completions().create_stream(REQUEST):
            pass
    await client.completions().create(REQUEST)
    assert len({r.connection for r in server.requests}) == 1
    assert server.disconnects == 0


# ---- without an event loop of one's own -----------------------------------------------------------------


def test_sync_facade_end_to_end(threaded_server: LocalProviderServer) -> None:
    server = threaded_server
    with SyncVlloraLLMClient.from_provider("openai", api_key="sk-test", base_url=server.openai_base_url) as client:
        assert client.create(REQUEST).text() == "Hello from the local openai server! You said: hi"
        server.faults.push(replay(RECORDINGS / "stream_refusal.sse", content_type=SSE, chunk_size=7))
        stream = client.create_stream(REQUEST)
        assert len(list(stream)) > 3
        assert stream.response.message().refusal == "I'm sorry, I can't assist with that request."
        server.faults.push(slow_replay())
        for _ in client.create_stream(REQUEST):
            break  # dropping the iterator closes the connection on the client's loop
        deadline = time.monotonic() + 2
        while server.disconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert server.disconnects == 1


def test_one_client_across_asyncio_run_calls(threaded_server: LocalProviderServer) -> None:
    # A client made outside any loop and never closed: each asyncio.run() closes its pool on the way out
    # (no leaked socket), and the next run starts a fresh one instead of failing with "loop is closed".
    client = VlloraLLMClient.from_provider("openai", api_key="sk-test", base_url=threaded_server.openai_base_url)

    async def once() -> str:
        return (await client.completions().create(REQUEST)).text()

    assert asyncio.run(once()) == asyncio.run(once())
    transport = client.instance.transport
    assert isinstance(transport, AiohttpTransport)
    assert transport._session is not None and transport._session.closed
    assert len({r.connection for r in threaded_server.requests}) == 2


@pytest.mark.parametrize(
    "fault",
    [Fault(gzip=True), Fault(big_event_bytes=300_000), Fault(drip_s=0.002), Fault(chunk_size=1)],
    ids=["gzip", "300k-event", "drip", "1-byte-writes"],
)
async def test_generated_replies_through_faults(
    client: VlloraLLMClient, server: LocalProviderServer, fault: Fault
) -> None:
    expected = "Hello from the local openai server! You said: hi"
    server.faults.push(fault, fault)
    assert (await client.completions().create(REQUEST)).text() == expected
    stream = client.completions().create_stream(REQUEST)
    async for _ in stream:
        pass
    text = stream.response.text()
    if fault.big_event_bytes:
        assert len(text) > 299_000
        text = re.sub("x{1000,}", "", text)
    assert text == expected
