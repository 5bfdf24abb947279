"""The measurements: floor and library in the same run, interleaved round by round, medians of the rounds.

Client CPU is `time.process_time()` of this process (the server is another process). Each round runs the
floor and the library back to back, alternating which goes first, so background load hits both alike.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from .floor import FloorClient
from .library import LibraryClient, spec_available
from .server import BenchServer
from .wire import FORMATS, REPLY, SHAPES, payloads

TARGETS = {"sequential": 1.3, "stream": 2.0, "concurrent": 1.3, "import": 1.3, "rss": 1.3}
"""Issue 17's targets, library / floor in one run (for requests/s, floor / library)."""


@dataclass(frozen=True)
class Workload:
    requests: int = 1000
    """Sequential non-streamed requests per round and side."""
    rounds: int = 7
    events: int = 5000
    """Chunks in each stream (each round streams each shape once per side)."""
    total: int = 500
    inflight: int = 100
    burst_rounds: int = 21
    """Rounds of the 100-in-flight measure: a round lasts ~50 ms, so a stall of the machine moves one round's
    rate by 10-20 %; three times the rounds of the other measures keep its median steady (~4 s more)."""
    imports: int = 9
    rss_requests: int = 300
    rss_runs: int = 3


QUICK = Workload(requests=20, rounds=2, events=200, total=40, inflight=10, burst_rounds=2, imports=2, rss_requests=10,
                 rss_runs=1)

Sample = tuple[float, float]  # (wall seconds, client CPU seconds)


async def _timed(run: Callable[[], Awaitable[Any]]) -> Sample:
    wall, cpu = time.perf_counter(), time.process_time()
    await run()
    return time.perf_counter() - wall, time.process_time() - cpu


async def _interleaved(rounds: int, floor: Callable[[], Awaitable[Any]],
                       lib: Callable[[], Awaitable[Any]]) -> tuple[list[Sample], list[Sample]]:
    out: dict[str, list[Sample]] = {"floor": [], "lib": []}
    for r in range(rounds):
        order = [("floor", floor), ("lib", lib)] if r % 2 == 0 else [("lib", lib), ("floor", floor)]
        for side, run in order:
            gc.collect()
            out[side].append(await _timed(run))
    return out["floor"], out["lib"]


def _median(samples: list[Sample], index: int, per: int, scale: float = 1e6) -> float:
    return statistics.median(s[index] for s in samples) / per * scale


def _pair(floor: float, lib: float, *, higher_is_better: bool = False) -> dict[str, float]:
    ratio = floor / lib if higher_is_better else lib / floor
    return {"floor": round(floor, 2), "vllora": round(lib, 2), "ratio": round(ratio, 3)}


async def _bench_format(fmt: str, server: BenchServer, w: Workload) -> dict[str, Any]:
    libs = {shape: LibraryClient(fmt, server.base_url(fmt, shape)) for shape in SHAPES[fmt]}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=w.inflight)) as session:
        floors = {shape: FloorClient(fmt, session, server.base_url(fmt, shape)) for shape in SHAPES[fmt]}
        try:
            expected = payloads(fmt, w.events).expected
            for shape, lib in libs.items():
                await lib.check_stream(shape, expected[shape])
            entry = await _measure(fmt, floors["text"], libs["text"], w)
            entry["streams"] = {"text": entry["stream_us_per_chunk"]}
            for shape in SHAPES[fmt][1:]:
                entry["streams"][shape] = await _measure_stream(floors[shape], libs[shape], w)
            return entry
        finally:
            for lib in libs.values():
                await lib.aclose()


async def _measure_stream(floor: FloorClient, lib: LibraryClient, w: Workload) -> dict[str, Any]:
    """One stream shape: per chunk, client CPU and wall, interleaved rounds."""
    chunks = {"floor": 0, "lib": 0}

    def consume(side: str, client: FloorClient | LibraryClient) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            chunks[side] = 0
            async for _ in client.stream():
                chunks[side] += 1

        return run

    await consume("floor", floor)()  # warm
    await consume("lib", lib)()
    str_f, str_l = await _interleaved(w.rounds, consume("floor", floor), consume("lib", lib))
    return {"cpu": _pair(_median(str_f, 1, w.events), _median(str_l, 1, w.events)),
            "wall": _pair(_median(str_f, 0, w.events), _median(str_l, 0, w.events)),
            "events": w.events, "floor_items": chunks["floor"], "vllora_chunks": chunks["lib"]}


async def _measure(fmt: str, floor: FloorClient, lib: LibraryClient, w: Workload) -> dict[str, Any]:
    await lib.check()
    for _ in range(max(10, w.requests // 10)):  # warm both connection pools and caches
        await floor.complete()
        await lib.complete()

    async def floor_seq() -> None:
        for _ in range(w.requests):
            await floor.complete()

    async def lib_seq() -> None:
        for _ in range(w.requests):
            await lib.complete()

    def burst(call: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
        async def run() -> None:
            left = w.total

            async def worker() -> None:
                nonlocal left
                while left > 0:
                    left -= 1
                    await call()

            await asyncio.gather(*(worker() for _ in range(w.inflight)))

        return run

    seq_f, seq_l = await _interleaved(w.rounds, floor_seq, lib_seq)
    stream = await _measure_stream(floor, lib, w)
    con_f, con_l = await _interleaved(w.burst_rounds, burst(floor.complete), burst(lib.complete))
    return {
        "sequential_us_per_request": {"cpu": _pair(_median(seq_f, 1, w.requests), _median(seq_l, 1, w.requests)),
                                      "wall": _pair(_median(seq_f, 0, w.requests), _median(seq_l, 0, w.requests))},
        "stream_us_per_chunk": stream,
        "concurrent_requests_per_s": {
            "wall": _pair(w.total / statistics.median(s[0] for s in con_f),
                          w.total / statistics.median(s[0] for s in con_l), higher_is_better=True),
            "cpu_us_per_request": _pair(_median(con_f, 1, w.total), _median(con_l, 1, w.total)),
            "total": w.total, "inflight": w.inflight},
    }


# ---- child processes -----------------------------------------------------------------------------------------


def _child_env(**extra: str) -> dict[str, str]:
    """Children keep compiled bytecode (in a temp folder, not the source tree), as an installed package has
    its .pyc files; with PYTHONDONTWRITEBYTECODE every start would compile the library's sources again."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "vllora-bench-pycache")
    env.update(extra)
    return env


def _python(*args: str, **env: str) -> str:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300,
                          env=_child_env(**env), cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if done.returncode != 0:
        raise RuntimeError(f"child {args} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


_IMPORT = "import time; t = time.perf_counter(); import {m}; print(time.perf_counter() - t)"


def bench_import(w: Workload) -> dict[str, Any]:
    """Fresh interpreters, interleaved: `import vllora_llm.client` vs `import aiohttp, msgspec` (ms)."""
    floor: list[float] = []
    lib: list[float] = []
    for module in ("aiohttp, msgspec", "vllora_llm.client"):  # not counted: writes the bytecode caches
        _python("-c", _IMPORT.format(m=module))
    for i in range(w.imports):
        pair = [(floor, "aiohttp, msgspec"), (lib, "vllora_llm.client")]
        for bucket, module in pair if i % 2 == 0 else pair[::-1]:
            bucket.append(float(_python("-c", _IMPORT.format(m=module))) * 1e3)
    return {"ms": _pair(statistics.median(floor), statistics.median(lib)), "runs": w.imports}


def bench_start(fmt: str, base: str, w: Workload) -> dict[str, Any]:
    """`import vllora_llm.client` + `from_provider` in fresh processes sharing a new compiled-spec cache: the
    first finds it empty (reads the YAML, validates, stores), the others start warm."""
    with tempfile.TemporaryDirectory(prefix="vllora-bench-specs-") as folder:
        runs = [json.loads(_python("-m", "benchmarks.child", "start", fmt, base, VLLORA_SPEC_CACHE=folder))
                for _ in range(1 + max(1, w.imports // 2))]
    cold, warm = runs[0], runs[1:]
    return {"cold_import_ms": round(cold["import_s"] * 1e3, 2),
            "cold_from_provider_ms": round(cold["from_provider_s"] * 1e3, 2),
            "cold_loaded": cold["loaded"],
            "warm_import_ms": round(statistics.median(r["import_s"] for r in warm) * 1e3, 2),
            "warm_from_provider_ms": round(statistics.median(r["from_provider_s"] for r in warm) * 1e3, 2),
            "warm_loaded": sorted({m for r in warm for m in r["loaded"]})}


def bench_rss(fmt: str, base: str, w: Workload) -> dict[str, Any]:
    """Peak RSS (MiB) of a child doing the sequential workload through the floor, then the library."""
    floor: list[float] = []
    lib: list[float] = []
    for i in range(w.rss_runs):
        pair = [(floor, "floor"), (lib, "lib")]
        for bucket, side in pair if i % 2 == 0 else pair[::-1]:
            out = json.loads(_python("-m", "benchmarks.child", "rss", side, fmt, base, str(w.rss_requests)))
            bucket.append(out["maxrss_kib"] / 1024)
    return {"mib": _pair(statistics.median(floor), statistics.median(lib)), "runs": w.rss_runs}


# ---- the run -------------------------------------------------------------------------------------------------


def run(w: Workload, formats: tuple[str, ...] = FORMATS, log: Callable[[str], None] = print) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": sys.platform,
                    "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]},
        "workload": w.__dict__, "targets": TARGETS, "formats": {}}
    started = time.perf_counter()
    with BenchServer(w.events) as server:
        log("import time (fresh processes) ...")
        results["import"] = bench_import(w)
        for fmt in formats:
            base = server.base_url(fmt)
            if not spec_available(fmt):
                results["formats"][fmt] = {"skipped": f"no specs/providers/{fmt}.yaml yet; floor not run either"}
                log(f"{fmt}: skipped (no spec)")
                continue
            log(f"{fmt}: sequential, stream, {w.inflight} in flight ...")
            try:
                entry = asyncio.run(_bench_format(fmt, server, w))
            except Exception as exc:  # a spec being written may not work yet: report it, measure the rest
                results["formats"][fmt] = {"skipped": f"{type(exc).__name__}: {exc}"[:500]}
                log(f"{fmt}: skipped ({type(exc).__name__}: {exc})")
                continue
            log(f"{fmt}: peak RSS, start-up ...")
            entry["rss"] = bench_rss(fmt, base, w)
            entry["start"] = bench_start(fmt, base, w)
            results["formats"][fmt] = entry
    results["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["seconds"] = round(time.perf_counter() - started, 1)
    return results


__all__ = ["QUICK", "REPLY", "TARGETS", "Workload", "run"]
