"""The soak: many requests, many in flight, ~10 % of them with injected faults, and an account of every one.

    python -m benchmarks.soak [--requests 10000] [--concurrency 100] [--fault-rate 0.1] [--seed 1]

Requests go through the public API (`VlloraLLMClient.from_provider("openai", ...)`) to the fault-injecting
local provider server of `vllora_llm.testing`, in this process. Each request has a kind: plain (whole or
streamed), a per-request fault (sent in the `x-vllora-fault` header, so it hits every attempt: the outcome is
known exactly, attempts included), or a transient fault queued on the server (the next request to arrive
fails once and is retried). The run checks that every request ended in its expected result or typed error,
that none hung, that no connection leaked (none in use after the run, none open on the server after the
clients close, no file descriptor left), that no ResourceWarning or unclosed-session report appeared, and
that RSS stayed flat after warm-up; it prints those figures and exits 1 if any check failed.
`tests/reliability/test_soak.py` runs 1,000 requests of it in the default test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import builtins
import contextlib
import gc
import json
import os
import random
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from vllora_llm.client import Timeouts, VlloraLLMClient
from vllora_llm.error import (
    AuthenticationError,
    ConnectionError,
    InvalidRequestError,
    LLMError,
    ProviderError,
    RateLimitError,
    StreamError,
    TimeoutError,
)
from vllora_llm.testing import FAULT_HEADER, Fault, LocalProviderServer

MAX_RETRIES = 2
TIMEOUTS = Timeouts(connect=2, read=2.5, total=15)
"""A stall is caught after 2.5 s of silence; everything else answers in milliseconds (the margin is for a loaded
2-core machine, where 100 streams in flight can keep one waiting for a second)."""
HANG_GUARD_S = 30.0
"""A request still running after this long has hung."""
BIG = 1_000_000


@dataclass(frozen=True)
class Kind:
    name: str
    weight: float
    """Share of the faulty requests (plain kinds share the rest)."""
    stream: bool
    expect: str | type[LLMError]
    """"reply", "big" (the reply with a 1 MB delta in it) or the error class."""
    attempts: int = 1
    header_fault: Fault | None = None
    queued_fault: Fault | None = None
    """Pushed to the server's queue as this request starts: some request (maybe another) fails once."""


PLAIN = (Kind("ok", 0.5, False, "reply"), Kind("ok-stream", 0.5, True, "reply"))
FAULTY = (
    Kind("400", 6, False, InvalidRequestError, header_fault=Fault(status=400)),
    Kind("401-stream", 4, True, AuthenticationError, header_fault=Fault(status=401)),
    Kind("429-retry-after-too-long", 6, False, RateLimitError, header_fault=Fault(
        status=429, headers={"retry-after": "120"})),
    Kind("500-every-attempt", 6, False, ProviderError, MAX_RETRIES + 1, header_fault=Fault(status=500)),
    Kind("html-502-every-attempt", 4, True, ProviderError, MAX_RETRIES + 1, header_fault=Fault(html_error=True)),
    Kind("reset-before-headers", 5, False, ConnectionError, MAX_RETRIES + 1,
         header_fault=Fault(reset_before_headers=True)),
    Kind("reset-mid-body", 4, False, ConnectionError, MAX_RETRIES + 1,
         header_fault=Fault(chunk_size=64, cut_after_chunks=2)),
    Kind("cut-mid-stream", 6, True, StreamError, header_fault=Fault(cut_after_chunks=2, drip_s=0.002)),
    Kind("truncated-stream", 6, True, StreamError, header_fault=Fault(truncate_without_done=True)),
    Kind("malformed-json", 5, False, ProviderError, header_fault=Fault(malformed_json=True)),
    Kind("malformed-json-stream", 4, True, StreamError, header_fault=Fault(malformed_json=True)),
    Kind("stalled-stream", 2, True, TimeoutError, header_fault=Fault(stall_after_chunks=2)),
    Kind("gzip", 4, False, "reply", header_fault=Fault(gzip=True)),
    Kind("gzip-stream", 4, True, "reply", header_fault=Fault(gzip=True)),
    Kind("slow-drip-stream", 4, True, "reply", header_fault=Fault(drip_s=0.002)),
    Kind("slow-headers", 4, False, "reply", header_fault=Fault(delay_s=0.05)),
    Kind("1mb-event", 0.5, True, "big", header_fault=Fault(big_event_bytes=BIG)),
    Kind("transient-500", 5, False, "reply", queued_fault=Fault(status=500)),
    Kind("transient-503-stream", 4, True, "reply", queued_fault=Fault(status=503)),
    Kind("transient-429", 5, False, "reply", queued_fault=Fault(status=429, headers={"retry-after-ms": "5"})),
    Kind("transient-reset", 5, True, "reply", queued_fault=Fault(reset_before_headers=True)),
    Kind("transient-html-502", 4, False, "reply", queued_fault=Fault(html_error=True)),
)


@dataclass
class Tally:
    sent: int = 0
    expected: int = 0
    exhausted_transient: int = 0
    """Plain or transient requests that met several queued faults in a row and ran out of retries: a typed
    error, accounted for (a queued fault goes to whichever request arrives next)."""
    unexpected: int = 0
    hung: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class SoakReport:
    requests: int
    concurrency: int
    seconds: float
    faulty: int
    tallies: dict[str, Tally]
    in_use_after: int
    open_on_server_after_close: int
    fd_delta: int
    resource_warnings: list[str]
    loop_reports: list[str]
    rss_mb: list[float]
    """RSS after each tenth of the requests."""
    server_requests: int

    @property
    def accounted(self) -> int:
        return sum(t.expected + t.exhausted_transient for t in self.tallies.values())

    @property
    def hung(self) -> int:
        return sum(t.hung for t in self.tallies.values())

    @property
    def unexpected(self) -> int:
        return sum(t.unexpected for t in self.tallies.values())

    @property
    def leaked(self) -> int:
        return self.in_use_after + self.open_on_server_after_close + max(self.fd_delta, 0)

    @property
    def rss_growth_mb(self) -> float:
        """From the end of warm-up (the first fifth of the requests) to the end."""
        return self.rss_mb[-1] - self.rss_mb[1] if len(self.rss_mb) > 1 else 0.0

    @property
    def rss_flat(self) -> bool:
        return self.rss_growth_mb <= max(10.0, 0.1 * self.rss_mb[1]) if len(self.rss_mb) > 1 else True

    @property
    def problems(self) -> list[str]:
        out = []
        if self.accounted != self.requests:
            out.append(f"{self.requests - self.accounted} request(s) not accounted for")
        if self.hung:
            out.append(f"{self.hung} request(s) hung")
        if self.leaked:
            out.append(f"{self.leaked} connection(s) or descriptor(s) leaked")
        if self.resource_warnings or self.loop_reports:
            out.append(f"{len(self.resource_warnings) + len(self.loop_reports)} ResourceWarning / unclosed report(s)")
        if not self.rss_flat:
            out.append(f"RSS grew {self.rss_growth_mb:.1f} MB after warm-up")
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        n, pct = self.requests, 100 * self.faulty / max(self.requests, 1)
        lines = [
            f"vllora-llm soak: {n:,} requests, {self.concurrency} in flight, through "
            f"VlloraLLMClient.from_provider('openai') to the local provider server",
            f"  injected faults:  {self.faulty:,} requests ({pct:.1f} %) across {len(FAULTY)} kinds",
            f"  accounted for:    {self.accounted:,}/{n:,}   (expected result {self.expected:,}; typed error after "
            f"transient faults used up the retries {self.exhausted:,}; unexpected {self.unexpected}; "
            f"hung {self.hung})",
            f"  connections:      {self.leaked} leaked   (in use after the run {self.in_use_after}; open on the "
            f"server after close {self.open_on_server_after_close}; file descriptors {self.fd_delta:+d})",
            f"  warnings:         {len(self.resource_warnings)} ResourceWarning, "
            f"{len(self.loop_reports)} unclosed-session / loop error reports",
            f"  memory:           RSS {self.rss_mb[1]:.1f} MB after warm-up, {self.rss_mb[-1]:.1f} MB at the end "
            f"({self.rss_growth_mb:+.1f} MB): {'flat' if self.rss_flat else 'NOT FLAT'}   "
            f"[{' '.join(f'{r:.0f}' for r in self.rss_mb)}]",
            f"  time:             {self.seconds:.1f} s, {n / self.seconds:,.0f} requests/s "
            f"({self.server_requests:,} HTTP requests with retries)",
            "  by kind:          " + ", ".join(
                f"{name} {t.expected + t.exhausted_transient}/{t.sent}" for name, t in self.tallies.items()),
        ]
        for name, tally in self.tallies.items():
            for example in tally.examples[:3]:
                lines.append(f"  unexpected {name}: {example}")
        lines.append("  result:           " + ("OK" if self.ok else "FAILED: " + "; ".join(self.problems)))
        return "\n".join(lines)

    @property
    def expected(self) -> int:
        return sum(t.expected for t in self.tallies.values())

    @property
    def exhausted(self) -> int:
        return sum(t.exhausted_transient for t in self.tallies.values())


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def plan_kinds(requests: int, fault_rate: float, seed: int) -> list[Kind]:
    rng = random.Random(seed)
    total = sum(k.weight for k in FAULTY)
    kinds = []
    for _ in range(requests):
        if rng.random() < fault_rate:
            kinds.append(rng.choices(FAULTY, weights=[k.weight / total for k in FAULTY])[0])
        else:
            kinds.append(rng.choice(PLAIN))
    return kinds


def reply(i: int) -> str:
    return f"Hello from the local openai server! You said: soak {i}"


def judge(kind: Kind, i: int, outcome: Any) -> str:
    """"expected", "exhausted" (typed, accounted for) or "unexpected"."""
    if kind.expect in ("reply", "big"):
        if isinstance(outcome, str):
            if kind.expect == "big":  # the 1 MB delta is x's; the reply itself has none
                good = outcome.count("x") >= BIG - 1000 and outcome.replace("x", "") == reply(i)
            else:
                good = outcome == reply(i)
            return "expected" if good else "unexpected"
        if isinstance(outcome, LLMError) and outcome.retryable and outcome.attempts == MAX_RETRIES + 1:
            return "exhausted"
        return "unexpected"
    if type(outcome) is kind.expect and outcome.attempts == kind.attempts:
        return "expected"
    return "unexpected"


async def _one(client: VlloraLLMClient, kind: Kind, i: int) -> Any:
    request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"soak {i}"}]}
    try:
        if kind.stream:
            stream = client.completions().create_stream(request)
            async for _ in stream:
                pass
            if stream.response.finish_reason() != "stop":
                return f"finish_reason {stream.response.finish_reason()!r}"
            return stream.response.text()
        return (await client.completions().create(request)).text()
    except LLMError as err:
        return err


async def run_soak(requests: int = 10_000, concurrency: int = 100, *, fault_rate: float = 0.1, seed: int = 1,
                   progress: bool = False) -> SoakReport:
    """Run the soak in the running loop and return its report (see the module docstring)."""
    kinds = plan_kinds(requests, fault_rate, seed)
    tallies = {k.name: Tally() for k in (*PLAIN, *FAULTY)}
    loop_reports: list[str] = []
    loop = asyncio.get_running_loop()
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: loop_reports.append(str(context.get("message"))))
    rss: list[float] = []
    server_requests = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with LocalProviderServer() as server:
            fds_before = open_fds()
            clients = {
                kind.name: VlloraLLMClient.from_provider(
                    "openai", api_key="sk-soak", base_url=server.openai_base_url, timeout=TIMEOUTS,
                    max_retries=MAX_RETRIES, backoff_base=0.005, max_backoff=0.02,
                    headers={FAULT_HEADER: json.dumps(_fault_dict(kind.header_fault))} if kind.header_fault else None,
                )
                for kind in (*PLAIN, *FAULTY)
            }
            done = 0
            started = time.perf_counter()
            todo: Iterator[int] = iter(range(requests))

            async def worker() -> None:
                nonlocal done, server_requests
                for i in todo:
                    kind = kinds[i]
                    tally = tallies[kind.name]
                    tally.sent += 1
                    if kind.queued_fault is not None:
                        server.faults.push(kind.queued_fault)
                    try:
                        async with asyncio.timeout(HANG_GUARD_S):
                            outcome = await _one(clients[kind.name], kind, i)
                    except builtins.TimeoutError:
                        tally.hung += 1
                        continue
                    except Exception as exc:  # not an LLMError: an untyped failure
                        outcome = exc
                    verdict = judge(kind, i, outcome)
                    if verdict == "expected":
                        tally.expected += 1
                    elif verdict == "exhausted":
                        tally.exhausted_transient += 1
                    else:
                        tally.unexpected += 1
                        tally.examples.append(repr(outcome)[:300])
                    done += 1
                    if done % max(requests // 10, 1) == 0:
                        server_requests += len(server.requests)
                        server.requests.clear()  # the server's request log is test scaffolding, not the client
                        gc.collect()
                        rss.append(rss_mb())
                        if progress:
                            print(f"  {done:,}/{requests:,} done, RSS {rss[-1]:.1f} MB", file=sys.stderr)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            seconds = time.perf_counter() - started
            server_requests += len(server.requests)
            in_use = sum(_in_use(client) for client in clients.values())
            for client in clients.values():
                await client.aclose()
            with contextlib.suppress(builtins.TimeoutError):
                async with asyncio.timeout(2):
                    while server.open_connections:
                        await asyncio.sleep(0.01)
            open_after = server.open_connections
            await asyncio.sleep(0)
            clients.clear()
            gc.collect()
            fd_delta = open_fds() - fds_before
        gc.collect()
    loop.set_exception_handler(previous_handler)
    resource = [str(w.message) for w in caught
                if issubclass(w.category, ResourceWarning) or "nclosed" in str(w.message)]
    return SoakReport(
        requests=requests, concurrency=concurrency, seconds=seconds, faulty=sum(k in FAULTY for k in kinds),
        tallies={name: t for name, t in tallies.items() if t.sent}, in_use_after=in_use,
        open_on_server_after_close=open_after, fd_delta=fd_delta, resource_warnings=resource,
        loop_reports=loop_reports, rss_mb=rss or [rss_mb()], server_requests=server_requests,
    )


def _fault_dict(fault: Fault) -> dict[str, Any]:
    defaults = asdict(Fault())
    return {k: v for k, v in asdict(fault).items() if v != defaults[k]}


def _in_use(client: VlloraLLMClient) -> int:
    session = getattr(getattr(client.instance, "transport", None), "_session", None)
    connector = session.connector if session is not None else None
    return len(getattr(connector, "_acquired", ())) if connector is not None else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    report = asyncio.run(run_soak(args.requests, args.concurrency, fault_rate=args.fault_rate, seed=args.seed,
                                  progress=True))
    print(report.render())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
