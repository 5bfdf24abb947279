"""The Responses row: a 5,000-delta chat stream read as Responses events through the public API vs the floor.

The floor is what a careful hand-written translator does: one aiohttp session, `POST /v1/chat/completions`,
the SSE lines split by hand, each chunk decoded by msgspec into a small Struct, and one small
`response.output_text.delta` event Struct made per delta. The library call is
`client.responses().create_stream(...)` (request translated, chunks decoded, every event built, the
conversation stored) against the same local server answering the same precomputed bytes. Client CPU per
stream (process time, medians of interleaved rounds) is compared; target <= 3x.
`python -m benchmarks.responses [--quick]` runs it alone; `python -m benchmarks` runs it after the suite.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

import msgspec
from aiohttp import ClientSession, web

from . import oneshot
from .oneshot import ratio_row

TARGET = 3.0
DELTAS = 5000


class _Delta(msgspec.Struct):
    content: str | None = None


class _Choice(msgspec.Struct):
    delta: _Delta
    finish_reason: str | None = None


class _Chunk(msgspec.Struct):
    choices: list[_Choice]


class _Event(msgspec.Struct, tag_field="type", tag="response.output_text.delta"):
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    delta: str


def stream_body(deltas: int = DELTAS) -> bytes:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        data = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + json.dumps(data).encode() + b"\n\n"

    parts = [chunk({"role": "assistant", "content": ""})]
    parts += [chunk({"content": f"w{i} "}) for i in range(deltas)]
    parts.append(chunk({}, "stop"))
    return b"".join(parts) + b"data: [DONE]\n\n"


async def _measure(streams: int, rounds: int) -> dict[str, Any]:
    from vllora_llm.client import InMemoryResponseStore, VlloraLLMClient

    body = stream_body()

    async def answer(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/event-stream")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    request = {"model": "gpt-4o-mini", "input": "hi"}
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    decoder = msgspec.json.Decoder(_Chunk)
    encoder = msgspec.json.Encoder()
    floor_cpu: list[float] = []
    lib_cpu: list[float] = []
    try:
        async with ClientSession() as session, VlloraLLMClient.from_provider(
                "openai", api_key="bench", base_url=base, response_store=InMemoryResponseStore(max_entries=4)
        ) as client:

            async def floor_once() -> int:
                events: list[_Event] = []
                async with session.post(base + "/chat/completions", data=encoder.encode(chat),
                                        headers={"authorization": "Bearer bench",
                                                 "content-type": "application/json"}) as response:
                    buffer = b""
                    async for data in response.content.iter_any():
                        buffer += data
                        *lines, buffer = buffer.split(b"\n\n")
                        for line in lines:
                            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                                continue
                            for choice in decoder.decode(line[6:]).choices:
                                if choice.delta.content:
                                    events.append(_Event(sequence_number=len(events), item_id="msg_1",
                                                         output_index=0, content_index=0,
                                                         delta=choice.delta.content))
                return len(events)

            async def library_once() -> int:
                count = 0
                async with client.responses().create_stream(request) as stream:
                    async for event in stream:
                        count += event.type == "response.output_text.delta"
                return count

            for once in (floor_once, library_once):
                assert await once() == DELTAS  # warm-up (connections, the spec's compile)
            for _ in range(rounds):  # interleaved, so both see the same machine load
                for once, samples in ((floor_once, floor_cpu), (library_once, lib_cpu)):
                    start = time.process_time()
                    for _ in range(streams):
                        await once()
                    samples.append((time.process_time() - start) / streams * 1e3)
    finally:
        await runner.cleanup()
    floor, library = statistics.median(floor_cpu), statistics.median(lib_cpu)
    return {"deltas": DELTAS, "floor_ms": floor, "vllora_ms": library, "ratio": library / floor, "target": TARGET}


def run(quick: bool = False) -> dict[str, Any]:
    return asyncio.run(_measure(streams=1 if quick else 5, rounds=2 if quick else 7))


def row(result: dict[str, Any]) -> str:
    label = f"Responses stream of {result['deltas']:,} deltas (via chat), client CPU, ms/stream"
    return ratio_row(label, result["floor_ms"], result["vllora_ms"], result["ratio"], result["target"])


def main(argv: list[str] | None = None) -> int:
    return oneshot.main("python -m benchmarks.responses", __doc__, run, row, argv)


if __name__ == "__main__":
    raise SystemExit(main())
