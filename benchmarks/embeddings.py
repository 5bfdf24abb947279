"""The embeddings row: a 100-input x 1,536-float response decoded through the public API vs the floor.

The floor is what a careful hand-written client does: one aiohttp session, `POST /v1/embeddings`, the body
decoded by msgspec straight into a small Struct (`data: [{embedding: list[float], index}]`). The library
call is `client.embeddings().create(...)` against the same local server answering the same precomputed
bytes. Client CPU per request (process time, medians of interleaved rounds) is compared; target <= 1.5x.
`python -m benchmarks.embeddings [--quick]` runs it alone; `python -m benchmarks` runs it after the suite.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from typing import Any

import msgspec
from aiohttp import ClientSession, web

from . import oneshot
from .oneshot import ratio_row

TARGET = 1.5
INPUTS = 100
DIMENSIONS = 1536


class _Item(msgspec.Struct):
    embedding: list[float]
    index: int


class _Usage(msgspec.Struct):
    prompt_tokens: int
    total_tokens: int


class _Body(msgspec.Struct):
    data: list[_Item]
    model: str
    usage: _Usage


def response_body(inputs: int = INPUTS, dimensions: int = DIMENSIONS) -> bytes:
    rng = random.Random(7)
    data = [{"object": "embedding", "index": i, "embedding": [rng.uniform(-1, 1) for _ in range(dimensions)]}
            for i in range(inputs)]
    return json.dumps({"object": "list", "data": data, "model": "text-embedding-3-small",
                       "usage": {"prompt_tokens": inputs * 4, "total_tokens": inputs * 4}}).encode()


async def _measure(requests: int, rounds: int) -> dict[str, Any]:
    from vllora_llm.client import VlloraLLMClient

    body = response_body()

    async def answer(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application(client_max_size=1 << 24)
    app.router.add_post("/v1/embeddings", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    request = {"model": "text-embedding-3-small", "input": [f"text {i}" for i in range(INPUTS)]}
    decoder = msgspec.json.Decoder(_Body)
    encoder = msgspec.json.Encoder()
    floor_cpu: list[float] = []
    lib_cpu: list[float] = []
    try:
        async with ClientSession() as session, VlloraLLMClient.from_provider(
                "openai", api_key="bench", base_url=base) as client:

            async def floor_once() -> int:
                async with session.post(base + "/embeddings", data=encoder.encode(request),
                                        headers={"authorization": "Bearer bench",
                                                 "content-type": "application/json"}) as response:
                    decoded = decoder.decode(await response.read())
                return len(decoded.data)

            async def library_once() -> int:
                return len((await client.embeddings().create(request)).data)

            for once in (floor_once, library_once):
                assert await once() == INPUTS  # warm-up (connections, the spec's compile)
            for _ in range(rounds):  # interleaved, so both see the same machine load
                for once, samples in ((floor_once, floor_cpu), (library_once, lib_cpu)):
                    start = time.process_time()
                    for _ in range(requests):
                        await once()
                    samples.append((time.process_time() - start) / requests * 1e6)
    finally:
        await runner.cleanup()
    floor, library = statistics.median(floor_cpu), statistics.median(lib_cpu)
    return {"inputs": INPUTS, "dimensions": DIMENSIONS, "floor_us": floor, "vllora_us": library,
            "ratio": library / floor, "target": TARGET}


def run(quick: bool = False) -> dict[str, Any]:
    return asyncio.run(_measure(requests=3 if quick else 20, rounds=3 if quick else 7))


def row(result: dict[str, Any]) -> str:
    label = f"embeddings {result['inputs']} x {result['dimensions']:,} floats, client CPU, µs/request"
    return ratio_row(label, result["floor_us"], result["vllora_us"], result["ratio"], result["target"])


def main(argv: list[str] | None = None) -> int:
    return oneshot.main("python -m benchmarks.embeddings", __doc__, run, row, argv)


if __name__ == "__main__":
    raise SystemExit(main())
