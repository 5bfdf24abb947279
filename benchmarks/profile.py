"""`python -m benchmarks.profile FORMAT [sequential|stream|concurrent] [--shape text|tools|thinking] [--side lib|floor]
[-n N] [--top K]`:
cProfile one workload of one side against the benchmark server, to see what dominates."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
from typing import Any

import aiohttp

from .floor import FloorClient
from .library import LibraryClient
from .server import BenchServer
from .wire import FORMATS


async def _workload(side: str, fmt: str, base: str, what: str, n: int, profiler: cProfile.Profile) -> None:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
    client: Any = FloorClient(fmt, session, base) if side == "floor" else LibraryClient(fmt, base)
    try:
        for _ in range(20):
            await client.complete()
        profiler.enable()
        if what == "sequential":
            for _ in range(n):
                await client.complete()
        elif what == "stream":
            for _ in range(n):
                async for _chunk in client.stream():
                    pass
        else:
            left = n

            async def worker() -> None:
                nonlocal left
                while left > 0:
                    left -= 1
                    await client.complete()

            await asyncio.gather(*(worker() for _ in range(100)))
        profiler.disable()
    finally:
        if side != "floor":
            await client.aclose()
        await session.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument("format", choices=FORMATS)
    parser.add_argument("what", nargs="?", default="sequential", choices=("sequential", "stream", "concurrent"))
    parser.add_argument("--side", default="lib", choices=("lib", "floor"))
    parser.add_argument("--shape", default="text", choices=("text", "tools", "thinking"),
                        help="the stream shape (see benchmarks/wire.py)")
    parser.add_argument("-n", type=int, default=2000, help="requests (streams: how many 5,000-chunk streams)")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--sort", default="tottime")
    args = parser.parse_args()
    profiler = cProfile.Profile()
    with BenchServer(5000) as server:
        n = args.n if args.what != "stream" or args.n < 100 else 3
        asyncio.run(_workload(args.side, args.format, server.base_url(args.format, args.shape), args.what, n, profiler))
    pstats.Stats(profiler).strip_dirs().sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
