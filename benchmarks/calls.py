"""`python -m benchmarks.calls FORMAT [--callgrind] [--opcodes] [-n N]`: the per-call cost of a whole
non-streamed call, without I/O.

`client.completions().create(request)` with the benchmark's request, its transport replaced by one answering
the benchmark's response bytes at once (no socket, no event loop: the call's coroutine is driven by hand), so
what is counted is the library's own work per call: validation, mapping, encoding, the call layers, decoding.

- `--callgrind`: instructions per call under valgrind's callgrind (`PYTHONHASHSEED=0`, `VLLORA_SPEC_CACHE=off`,
  the cycle collector off): a run of 2N calls minus one of N, divided by N (start-up and warm-up cancel out).
- `--opcodes`: bytecodes executed per Python function in one call (`sys.settrace` opcode events): where the
  interpreter's share goes, function by function.
- neither: µs per call (`process_time`), a quick look (noisy on a shared machine).
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import re
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from .wire import FORMATS, MAX_TOKENS, MODELS, PROMPT, SYSTEM, payloads

_HEADERS = {"content-type": "application/json"}


def bench_completions(fmt: str, transport: Any) -> tuple[Any, Any]:
    """The completions client of `fmt` over `transport` (no socket) and the benchmark's request: what the
    harnesses without I/O (this one, `benchmarks.streams`) call."""
    from vllora_llm.client import VlloraLLMClient
    from vllora_llm.types.gateway import ChatCompletionMessage, ChatCompletionRequest

    client = VlloraLLMClient.from_provider(fmt, api_key="bench", base_url="http://127.0.0.1:1", max_retries=0,
                                           transport=transport)
    request = ChatCompletionRequest(
        model=MODELS[fmt],
        messages=[ChatCompletionMessage.new_text("system", SYSTEM), ChatCompletionMessage.new_text("user", PROMPT)],
        max_tokens=MAX_TOKENS,
    )
    return client.completions(), request


def caller(fmt: str) -> Any:
    """A function making one whole call (returns the result) through a client whose transport answers at once."""
    from vllora_llm.runtime.transport import Response

    body = payloads(fmt, 10).response

    class Answering:
        limits = None

        async def send(self, wire: Any) -> Response:
            return Response(200, _HEADERS, body)

        async def open_stream(self, wire: Any) -> Any:
            raise NotImplementedError

        async def aclose(self) -> None:
            return None

    completions, request = bench_completions(fmt, Answering())

    def one() -> Any:
        call = completions.create(request)
        try:
            call.send(None)
        except StopIteration as done:
            return done.value
        raise AssertionError("the call waited on something")

    if not one().text().startswith("Hello"):
        raise AssertionError(f"{fmt}: unexpected reply")
    return one


def _run(fmt: str, n: int) -> None:
    one = caller(fmt)
    for _ in range(200):
        one()
    gc.collect()
    gc.disable()
    for _ in range(n):
        one()


def _callgrind(fmt: str, n: int) -> float:
    env = {**os.environ, "PYTHONHASHSEED": "0", "VLLORA_SPEC_CACHE": "off"}
    counts = []
    for calls in (n, 2 * n):
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m",
             "benchmarks.calls", fmt, "--run", str(calls)], env=env, capture_output=True, text=True, check=True)
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            raise RuntimeError(done.stderr[-2000:])
        counts.append(int(found.group(1)))
    return (counts[1] - counts[0]) / n


def _opcodes(fmt: str) -> list[tuple[int, str]]:
    one = caller(fmt)
    counts: collections.Counter[str] = collections.Counter()

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            code = frame.f_code
            counts[f"{os.path.basename(code.co_filename)}:{code.co_firstlineno} {code.co_name}"] += 1
        return trace

    sys.settrace(trace)
    one()
    sys.settrace(None)
    return [(count, name) for name, count in counts.most_common()]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.calls")
    parser.add_argument("format", choices=FORMATS)
    parser.add_argument("-n", type=int, default=1000, help="calls (callgrind: N and 2N; timing: 20 x N)")
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--opcodes", action="store_true")
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)  # (the measured child of --callgrind)
    args = parser.parse_args()
    if args.run is not None:
        _run(args.format, args.run)
    elif args.callgrind:
        print(f"{args.format}: {_callgrind(args.format, args.n):,.0f} instructions per call")
    elif args.opcodes:
        rows = _opcodes(args.format)
        print(f"{args.format}: {sum(count for count, _ in rows)} bytecodes per call")
        for count, name in rows:
            print(f"{count:6d}  {name}")
    else:
        one = caller(args.format)
        for _ in range(200):
            one()
        start = time.process_time()
        for _ in range(20 * args.n):
            one()
        print(f"{args.format}: {(time.process_time() - start) / (20 * args.n) * 1e6:.2f} µs per call (CPU)")


if __name__ == "__main__":
    main()
