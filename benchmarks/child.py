"""Child processes of the suite: peak RSS of the sequential workload, and start-up (import) cost.

`python -m benchmarks.child rss SIDE FORMAT BASE_URL N` runs N sequential requests through the floor or the
library and prints its peak RSS (KiB). `python -m benchmarks.child start FORMAT BASE_URL` imports
`vllora_llm.client`, builds a client with `from_provider` and prints the time it took and which of the
spec-compiler's dependencies (yaml, jsonschema, jmespath) and the CLI got imported.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

HEAVY = ("yaml", "jsonschema", "jmespath", "vllora_llm.tools")


async def _rss(side: str, fmt: str, base_url: str, n: int) -> None:
    if side == "floor":
        import aiohttp

        from .floor import FloorClient

        async with aiohttp.ClientSession() as session:
            floor = FloorClient(fmt, session, base_url)
            for _ in range(n):
                await floor.complete()
    else:
        from .library import LibraryClient

        lib = LibraryClient(fmt, base_url)
        try:
            for _ in range(n):
                await lib.complete()
        finally:
            await lib.aclose()


def peak_rss_kib() -> int:
    """This process's peak RSS. Linux's `ru_maxrss` survives exec (it would report the forking parent's
    size), so /proc's VmHWM, which belongs to this program's own address space, is read where it exists."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv: list[str]) -> None:
    if argv[0] == "rss":
        side, fmt, base_url, n = argv[1], argv[2], argv[3], int(argv[4])
        asyncio.run(_rss(side, fmt, base_url, n))
        print(json.dumps({"maxrss_kib": peak_rss_kib()}))
    elif argv[0] == "start":
        fmt, base_url = argv[1], argv[2]
        started = time.perf_counter()
        from vllora_llm.client import VlloraLLMClient

        imported = time.perf_counter()
        VlloraLLMClient.from_provider(fmt, api_key="bench", base_url=base_url)
        built = time.perf_counter()
        print(json.dumps({"import_s": imported - started, "from_provider_s": built - imported,
                          "loaded": [m for m in HEAVY if m in sys.modules]}))
    else:
        raise SystemExit(f"unknown child command {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
