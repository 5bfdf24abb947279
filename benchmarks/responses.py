"""The Responses rows: a 5,000-delta Responses stream through the public API vs the floor, translated and native.

Via chat: the floor is what a careful hand-written translator does: one aiohttp session, `POST
/v1/chat/completions`, the SSE lines split by hand, each chunk decoded by msgspec into a small Struct, and one
small `response.output_text.delta` event Struct made per delta. The library call is
`client.responses().create_stream(...)` on an OpenAI-shaped chat spec that translates (`together`: request
translated, chunks decoded, every event built, the conversation stored).
Native: the server answers `POST /v1/responses` with OpenAI's own events (5,000 `output_text.delta` between
`created` / `in_progress` and `completed`); the floor splits the SSE by hand and decodes each event into a
small Struct, the library (`openai`, which serves it natively) decodes every event into its typed event.
Both against the same local server answering precomputed bytes. Client CPU per stream (process time, medians
of interleaved rounds) is compared; target <= 3x.
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


class _AnyEvent(msgspec.Struct):
    type: str
    sequence_number: int
    delta: str | None = None


def native_body(deltas: int = DELTAS) -> bytes:
    """A natively served Responses stream of `deltas` text deltas, framed as OpenAI frames it."""
    response = {"id": "resp_1", "object": "response", "created_at": 1, "status": "in_progress", "model": "gpt-4o-mini",
                "output": [], "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "metadata": {}}
    item = {"id": "msg_1", "type": "message", "status": "in_progress", "role": "assistant", "content": []}
    events: list[dict[str, Any]] = [{"type": "response.created", "response": response},
                                    {"type": "response.in_progress", "response": response},
                                    {"type": "response.output_item.added", "output_index": 0, "item": item}]
    events += [{"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0,
                "delta": f"w{i} ", "logprobs": [], "obfuscation": "abcdef"} for i in range(deltas)]
    text = "".join(f"w{i} " for i in range(deltas))
    done = {**item, "status": "completed", "content": [{"type": "output_text", "text": text, "annotations": []}]}
    usage = {"input_tokens": 1, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": deltas,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": deltas + 1}
    events += [{"type": "response.output_item.done", "output_index": 0, "item": done},
               {"type": "response.completed", "response": {**response, "status": "completed", "output": [done],
                                                            "usage": usage}}]
    return b"".join(f"event: {e['type']}\ndata: ".encode() + json.dumps({**e, "sequence_number": i}).encode()
                    + b"\n\n" for i, e in enumerate(events))


def stream_body(deltas: int = DELTAS) -> bytes:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        data = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + json.dumps(data).encode() + b"\n\n"

    parts = [chunk({"role": "assistant", "content": ""})]
    parts += [chunk({"content": f"w{i} "}) for i in range(deltas)]
    parts.append(chunk({}, "stop"))
    return b"".join(parts) + b"data: [DONE]\n\n"


async def _measure(streams: int, rounds: int, native: bool) -> dict[str, Any]:
    from vllora_llm.client import InMemoryResponseStore, VlloraLLMClient

    body = native_body() if native else stream_body()

    async def answer(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/event-stream")

    app = web.Application()
    app.router.add_post("/v1/responses" if native else "/v1/chat/completions", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    request = {"model": "gpt-4o-mini", "input": "hi"}
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    decoder = msgspec.json.Decoder(_Chunk)
    event_decoder = msgspec.json.Decoder(_AnyEvent)
    encoder = msgspec.json.Encoder()
    floor_cpu: list[float] = []
    lib_cpu: list[float] = []
    try:
        async with ClientSession() as session, VlloraLLMClient.from_provider(
                "openai" if native else "together", api_key="bench", base_url=base,
                response_store=InMemoryResponseStore(max_entries=4)
        ) as client:

            async def native_floor_once() -> int:
                count = 0
                async with session.post(base + "/responses", data=encoder.encode({**request, "stream": True}),
                                        headers={"authorization": "Bearer bench",
                                                 "content-type": "application/json"}) as response:
                    buffer = b""
                    async for data in response.content.iter_any():
                        buffer += data
                        *blocks, buffer = buffer.split(b"\n\n")
                        for block in blocks:
                            line = block[block.index(b"data: ") + 6:]
                            count += event_decoder.decode(line).type == "response.output_text.delta"
                return count

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

            floor_stream = native_floor_once if native else floor_once
            for once in (floor_stream, library_once):
                assert await once() == DELTAS  # warm-up (connections, the spec's compile)
            for _ in range(rounds):  # interleaved, so both see the same machine load
                for once, samples in ((floor_stream, floor_cpu), (library_once, lib_cpu)):
                    start = time.process_time()
                    for _ in range(streams):
                        await once()
                    samples.append((time.process_time() - start) / streams * 1e3)
    finally:
        await runner.cleanup()
    floor, library = statistics.median(floor_cpu), statistics.median(lib_cpu)
    return {"deltas": DELTAS, "floor_ms": floor, "vllora_ms": library, "ratio": library / floor, "target": TARGET}


def run(quick: bool = False) -> dict[str, Any]:
    """The row via chat (its numbers at the top level), and the native row under `native`."""
    result = asyncio.run(_measure(streams=1 if quick else 5, rounds=2 if quick else 7, native=False))
    result["native"] = asyncio.run(_measure(streams=1 if quick else 5, rounds=2 if quick else 7, native=True))
    return result


def row(result: dict[str, Any]) -> str:
    lines = []
    for how, numbers in (("via chat", result), ("native", result.get("native"))):
        if numbers:
            label = f"Responses stream of {numbers['deltas']:,} deltas ({how}), client CPU, ms/stream"
            lines.append(ratio_row(label, numbers["floor_ms"], numbers["vllora_ms"], numbers["ratio"],
                                   numbers["target"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return oneshot.main("python -m benchmarks.responses", __doc__, run, row, argv)


if __name__ == "__main__":
    raise SystemExit(main())
