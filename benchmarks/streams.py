"""`python -m benchmarks.streams FORMAT [--shape S] [--stage STAGE] [--callgrind] [-n N]`: the per-event cost of
a stream's stages, without I/O.

The benchmark's stream bytes of one shape (5,000 events), in 64 KiB reads, through:

- `framing`: the spec's framer only (SSE, AWS event-stream);
- `decode`: framing, then the plan's stream decoder (`feed_all`, 32 frames at a time, as the runtime does);
- `aggregate`: the same, each chunk then added to a `StreamAggregator` (what a `ResultStream` does when its
  aggregate is asked for);
- `all` (default): the public API, `client.completions().create_stream(request)` iterated to the end, its
  transport answering the bytes at once (an event loop, no socket).

- `--callgrind`: instructions per event under valgrind's callgrind (`PYTHONHASHSEED=0`, `VLLORA_SPEC_CACHE=off`):
  a run of 2N streams minus one of N, divided by N x 5,000 (start-up and warm-up cancel out). Deterministic:
  what to decide with on a shared machine (but note that callgrind counts a large `memcpy` byte by byte).
- without it: µs per event (`process_time`, best of 11 streams), a quick look (noisy on a shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import subprocess
import sys
import time
import weakref
from collections.abc import Callable
from typing import Any

from .calls import bench_completions
from .wire import FORMATS, SHAPES, payloads

EVENTS = 5000
READ = 65536
STAGES = ("framing", "decode", "aggregate", "all")


def _public(fmt: str, body: bytes) -> Callable[[], int]:
    """One whole stream through the public API (its chunks counted), the transport answering `body`."""
    class Body:
        status = 200
        headers = {"content-type": "application/octet-stream"}

        def __init__(self) -> None:
            self.at = 0

        async def read_chunk(self) -> bytes:
            piece = body[self.at:self.at + READ]
            self.at += READ
            return piece

        async def read(self) -> bytes:
            return b""

        def close(self) -> None:
            return None

    class Answering:
        limits = None

        async def send(self, wire: Any) -> Any:
            raise NotImplementedError

        async def open_stream(self, wire: Any) -> Body:
            return Body()

        async def aclose(self) -> None:
            return None

    completions, request = bench_completions(fmt, Answering())

    async def consume() -> int:
        n = 0
        async for _ in completions.create_stream(request):
            n += 1
        return n

    loop = asyncio.new_event_loop()

    def one() -> int:
        return loop.run_until_complete(consume())

    weakref.finalize(one, loop.close)  # (the loop lives as long as the function running streams on it)
    return one


def _staged(fmt: str, body: bytes, stage: str) -> Callable[[], int]:
    """One whole stream through the framer, the decoder and the aggregator, as far as `stage`."""
    from vllora_llm.engine.aggregate import StreamAggregator
    from vllora_llm.engine.registry import load_plan
    from vllora_llm.runtime.limits import Limits
    from vllora_llm.runtime.provider_stream import DECODE_BATCH, FRAMERS

    plan = load_plan(fmt)
    limits = Limits()

    def one() -> int:
        """The frames (`framing`) or chunks the stage made."""
        framer = FRAMERS[plan.framing](plan, limits)
        decoder = plan.stream_decoder()
        aggregator = StreamAggregator()
        out: list[Any] = []
        made = 0
        for at in range(0, len(body) + READ, READ):
            piece = body[at:at + READ]
            frames = framer.feed(piece) if piece else framer.close()
            if stage == "framing":
                made += len(frames)
                continue
            for start in range(0, len(frames), DECODE_BATCH):
                decoder.feed_all(frames[start:start + DECODE_BATCH], out)
                if stage == "aggregate":
                    for chunk in out:
                        aggregator.add(chunk)
                made += len(out)
                out.clear()
            if not piece:
                break
        return made

    return one


def stream(fmt: str, shape: str, stage: str) -> Callable[[], int]:
    """A function running one stream of `shape` as far as `stage`; it returns the frames or chunks made."""
    body = payloads(fmt, EVENTS).streams[shape]
    return _public(fmt, body) if stage == "all" else _staged(fmt, body, stage)


def _callgrind(fmt: str, shape: str, stage: str, n: int) -> float:
    env = {**os.environ, "PYTHONHASHSEED": "0", "VLLORA_SPEC_CACHE": "off"}
    counts = []
    for runs in (n, 2 * n):
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m",
             "benchmarks.streams", fmt, "--shape", shape, "--stage", stage, "--run", str(runs)],
            env=env, capture_output=True, text=True, check=True)
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            raise RuntimeError(done.stderr[-2000:])
        counts.append(int(found.group(1)))
    return (counts[1] - counts[0]) / (n * EVENTS)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.streams")
    parser.add_argument("format", choices=FORMATS)
    parser.add_argument("--shape", default="text")
    parser.add_argument("--stage", choices=STAGES, default="all")
    parser.add_argument("-n", type=int, default=1, help="streams (callgrind: N and 2N)")
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)  # (the measured child of --callgrind)
    args = parser.parse_args()
    if args.shape not in SHAPES[args.format]:
        parser.error(f"{args.format} streams {', '.join(SHAPES[args.format])}")
    if args.run is not None:
        one = stream(args.format, args.shape, args.stage)
        one()  # (warm-up: first calls compile the generated code)
        gc.collect()
        for _ in range(args.run):
            one()
    elif args.callgrind:
        per = _callgrind(args.format, args.shape, args.stage, args.n)
        print(f"{args.format} {args.shape} {args.stage}: {per:,.0f} instructions per event")
    else:
        one = stream(args.format, args.shape, args.stage)
        one()
        best = min(_timed(one) for _ in range(11))
        print(f"{args.format} {args.shape} {args.stage}: {best / EVENTS * 1e6:.3f} µs per event (CPU)")


def _timed(one: Callable[[], Any]) -> float:
    start = time.process_time()
    one()
    return time.process_time() - start


if __name__ == "__main__":
    main()
