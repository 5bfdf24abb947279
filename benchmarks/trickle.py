"""`python -m benchmarks.trickle FORMAT [--shape S] [--events N] [--rounds R]`: streams read one event at a time.

The suite's server writes a whole stream at once, so each read holds many events and per-read costs are shared.
Here a server in its own process writes each SSE event on its own, `PAUSE` seconds apart, so the client reads
them one by one (what a model generating slowly looks like): per-read work (aiohttp's, the framer's, waking the
reader) dominates both sides. Client CPU per event, floor and library interleaved, medians of the rounds.
SSE formats only (Bedrock's event-stream frames are not cut here).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import socket
import statistics
import time
from multiprocessing.connection import Connection
from typing import Any

import aiohttp
from aiohttp import web

from .floor import FloorClient
from .library import LibraryClient
from .wire import SHAPES, payloads

PAUSE = 0.0002
BLANK = {"gemini": b"\r\n\r\n", "openai": b"\n\n", "anthropic": b"\n\n"}
"""What ends an event in each SSE format's benchmark stream (wire.py)."""


def _serve(conn: Connection, fmt: str, events: int) -> None:
    data = payloads(fmt, events)
    blank = BLANK[fmt]
    split = {shape: [piece + blank for piece in body.split(blank) if piece] for shape, body in data.streams.items()}

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        shape = request.path.split("/")[2]
        await request.read()
        response = web.StreamResponse(headers={"content-type": data.stream_type})
        await response.prepare(request)
        for event in split[shape]:
            await response.write(event)
            await asyncio.sleep(PAUSE)
        await response.write_eof()
        return response

    async def main() -> None:
        runner = web.ServerRunner(web.Server(handle, access_log=None), access_log=None)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        await web.SockSite(runner, sock).start()
        conn.send(sock.getsockname()[1])
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # anything from the parent stops it
        await runner.cleanup()

    asyncio.run(main())


async def _measure(fmt: str, shape: str, port: int, events: int, rounds: int) -> tuple[float, float]:
    base = f"http://127.0.0.1:{port}/{fmt}/{shape}/x"
    lib = LibraryClient(fmt, base)
    try:
        async with aiohttp.ClientSession() as session:
            floor = FloorClient(fmt, session, base)

            async def consume(client: Any) -> float:
                gc.collect()
                start = time.process_time()
                async for _ in client.stream():
                    pass
                return (time.process_time() - start) / events * 1e6

            await consume(floor)  # warm both
            await consume(lib)
            samples: dict[str, list[float]] = {"floor": [], "lib": []}
            for r in range(rounds):
                order = [("floor", floor), ("lib", lib)] if r % 2 == 0 else [("lib", lib), ("floor", floor)]
                for side, client in order:
                    samples[side].append(await consume(client))
            return statistics.median(samples["floor"]), statistics.median(samples["lib"])
    finally:
        await lib.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.trickle")
    parser.add_argument("format", choices=sorted(BLANK))
    parser.add_argument("--shape", default="text")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.shape not in SHAPES[args.format]:
        parser.error(f"{args.format} streams {', '.join(SHAPES[args.format])}")
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(theirs, args.format, args.events), daemon=True)
    server.start()
    try:
        port = ours.recv()
        floor, lib = asyncio.run(_measure(args.format, args.shape, port, args.events, args.rounds))
    finally:
        ours.send(None)
        server.join(5)
    print(f"{args.format} {args.shape}, one event per read: floor {floor:.2f} µs/event, vllora-llm {lib:.2f}, "
          f"ratio {lib / floor:.2f}x")


if __name__ == "__main__":
    main()
