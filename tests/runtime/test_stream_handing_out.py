"""`async for` over a `ResultStream` hands out the chunks already decoded from one generator frame (no coroutine
per chunk); what a caller sees is what `__anext__` gives: each chunk once and in order, `aggregate()` equal to
exactly the chunks handed out so far, a loop left by `break` continued by the next loop, `aclose()` ending the
loop at its next step even with decoded chunks waiting, and `__anext__` calls mixed in."""

from __future__ import annotations

import asyncio
import json
import weakref

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.gateway import ChatCompletionRequest
from vllora_llm.runtime import result_stream
from vllora_llm.runtime.provider_stream import DECODE_BATCH
from vllora_llm.testing import LocalProviderServer, replay

REQUEST = ChatCompletionRequest.from_dict({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
EVENTS = 3 * DECODE_BATCH + 5
WORDS = [f"w{i} " for i in range(EVENTS)]


def _body() -> bytes:
    """An OpenAI chat stream of one-word deltas, written in one piece (so most chunks wait, decoded, in the
    chunk stream's queue when they are handed out)."""
    events = [{"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"content": word}}]} for word in WORDS]
    events.append({"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"


def _client(server: LocalProviderServer) -> VlloraLLMClient:
    server.faults.push(replay(_body(), content_type="text/event-stream"))
    return VlloraLLMClient.from_provider("openai", api_key="k-out", base_url=server.openai_base_url, max_retries=0)


async def test_aggregate_is_the_chunks_handed_out_so_far_at_every_step() -> None:
    async with LocalProviderServer() as server, _client(server) as client:
        stream = client.completions().create_stream(REQUEST)
        seen: list[str] = []
        async for chunk in stream:
            seen.append(chunk.choices[0].delta.content or "")
            assert (stream.aggregate().text() or "") == "".join(seen)
        assert stream.done and stream.response.text() == "".join(WORDS)
        assert stream.response.finish_reason() == "stop"


async def test_the_chunks_are_folded_when_the_aggregate_is_asked_for() -> None:
    """The stream keeps the chunks it handed out and folds them at `aggregate()`: a chunk the caller changed
    before then is aggregated as changed; one changed after it was folded is not."""
    async with LocalProviderServer() as server, _client(server) as client:
        stream = client.completions().create_stream(REQUEST)
        handed = [chunk async for chunk in stream]
        handed[0].choices[0].delta.content = "W0 "
        assert (stream.aggregate().text() or "").startswith("W0 w1 ")
        handed[1].choices[0].delta.content = "changed after folding "
        assert stream.response.text() == "W0 " + "".join(WORDS[1:])


async def test_a_long_stream_folds_its_kept_chunks_as_it_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past `KEEP_AT_MOST` kept chunks, a read folds them: memory stays bounded, the aggregate stays exact."""
    monkeypatch.setattr(result_stream, "KEEP_AT_MOST", 8)
    async with LocalProviderServer() as server, _client(server) as client:
        stream = client.completions().create_stream(REQUEST)
        handed = [chunk async for chunk in stream]
        handed[0].choices[0].delta.content = "changed after folding "
        handed[-2].choices[0].delta.content = "LAST "  # (after the last read: still kept, not folded)
        assert stream.response.text() == "".join(WORDS[:-1]) + "LAST "


async def test_a_loop_left_by_break_is_continued_by_the_next_loop() -> None:
    async with LocalProviderServer() as server, _client(server) as client:
        stream = client.completions().create_stream(REQUEST)
        first: list[str | None] = []
        async for chunk in stream:
            first.append(chunk.choices[0].delta.content)
            if len(first) == DECODE_BATCH // 2:  # (mid-batch: the rest of the batch is decoded and waiting)
                break
        assert stream.aggregate().text() == "".join(WORDS[:DECODE_BATCH // 2])
        rest = [chunk.choices[0].delta.content async for chunk in stream]
        assert first + rest == [*WORDS, None]
        assert stream.response.text() == "".join(WORDS)


async def test_aclose_in_the_loop_ends_it_with_chunks_waiting() -> None:
    async with LocalProviderServer() as server, _client(server) as client:
        stream = client.completions().create_stream(REQUEST)
        seen = 0
        async for _ in stream:
            seen += 1
            if seen == 3:
                await stream.aclose()
        assert seen == 3 and not stream.done
        assert stream.aggregate().text() == "".join(WORDS[:3])
        assert [chunk async for chunk in stream] == []


async def test_anext_calls_mixed_into_a_loop_take_the_next_chunks() -> None:
    async with LocalProviderServer() as server, _client(server) as client:
        stream = client.completions().create_stream(REQUEST)
        got: list[str | None] = []
        async for chunk in stream:
            got.append(chunk.choices[0].delta.content)
            if len(got) % 5 == 0 and len(got) < EVENTS:
                got.append((await stream.__anext__()).choices[0].delta.content)
        assert got == [*WORDS, None]
        assert stream.response.text() == "".join(WORDS)


async def test_a_bare_break_releases_the_stream_within_a_few_loop_steps() -> None:
    """Left by `break`, the loop's generator is closed by the event loop at its next steps (not at shutdown), and
    with it the stream and its HTTP response (the server sees the disconnect while the loop keeps running)."""
    async with LocalProviderServer() as server, VlloraLLMClient.from_provider(
        "openai", api_key="k-out", base_url=server.openai_base_url, max_retries=0
    ) as client:
        server.faults.push(replay(_body(), content_type="text/event-stream", chunk_size=64, drip_s=0.02))
        stream = client.completions().create_stream(REQUEST)
        async for _ in stream:
            break
        released = weakref.ref(stream._chunks)  # (the chunk stream: freed, and closed, with the stream)
        del stream
        for _ in range(3):  # (two are enough: the finalizer schedules the close, a task runs it)
            await asyncio.sleep(0)
        assert released() is None
        async with asyncio.timeout(2):
            while server.disconnects == 0:
                await asyncio.sleep(0.005)


async def test_a_stream_that_keeps_nothing_hands_out_every_chunk() -> None:
    async with LocalProviderServer() as server, _client(server) as client:
        stream = client.completions().create_stream(REQUEST, aggregate=False)
        got = [chunk.choices[0].delta.content async for chunk in stream]
        assert got == [*WORDS, None] and stream.done
        with pytest.raises(RuntimeError, match="aggregate=False"):
            stream.aggregate()
