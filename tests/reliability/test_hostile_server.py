"""A hostile provider endpoint, one attack per row: what it sends, and the typed error the caller must get.

Every row runs under a memory cap (`RLIMIT_AS`: the process's current address space plus 384 MiB), so a
regression that buffers a bomb or an endless line fails with `MemoryError` instead of swapping, and with short
limits and timeouts so the whole table takes seconds. Each row also checks that the error is an `LLMError`
(never `MemoryError`, `RecursionError`, `ValueError`), that the key shows nowhere in it, how long the call took,
and that no connection was left checked out of the pool.

A row against a server that never finishes (`fires`: the configured timer that must end it) proves the client
does not hang by facts a loaded machine cannot change: the error names that timer, the call lasted at least
the timer's time (it did not fire early) and ended before a hang guard; its upper bound is the timer plus
`LOAD_SLACK`, generous on a 2-core machine shared with other work, and still below any other timer that could
end the call instead. The clock times the call only (not building the client or returning its connections).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import resource
import struct
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from vllora_llm.client import Limits, Timeouts, VlloraLLMClient
from vllora_llm.engine.errors import InvalidRequestError, LLMError, ProviderError, StreamError
from vllora_llm.engine.errors import TimeoutError as LLMTimeoutError

from ._support import connections, wait_until

KEY = "sk-hostile-SECRET-key"
MiB = 1024 * 1024
SMALL = Limits(max_response_bytes=1 * MiB, max_error_bytes=64 * 1024, max_event_bytes=256 * 1024)
QUICK = Timeouts(connect=2, read=0.5, total=5)
REQUEST: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
LOAD_SLACK = 2.0
"""Seconds a timer row's call may last beyond its timer: scheduling delay under heavy CPU load (a row once
took over 1.5 s for a 0.5 s timer, client start-up included), well short of the next timer (`total`: 5 s)."""


def _gzip_bomb(mebibytes: int) -> bytes:
    """`mebibytes` MiB of zeros in about 1 KB per MiB: one compressed block repeated (a full flush resets the
    compressor, so every later MiB compresses to the same bytes)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * MiB
    head = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    return head + block * (mebibytes - 1)


BOMB = _gzip_bomb(1024)  # 1 MB on the wire, 1 GiB decoded
DEEP = b'{"a":' * 1000 + b"1" + b"}" * 1000


def _chunk(content: str) -> bytes:
    event = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
             "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}
    return b"data: " + json.dumps(event).encode() + b"\n\n"


FINISH = (b'data: {"id":"c","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,'
          b'"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')


def _frame(total: int) -> bytes:
    """An AWS event-stream prelude announcing a `total`-byte frame (its CRC is right: only the size is hostile)."""
    lengths = struct.pack(">II", total, 0)
    return lengths + struct.pack(">I", zlib.crc32(lengths))


# ---- the hostile server: the first path segment names the attack ---------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _stream(request: web.Request, gzip: bool = False, ctype: str = "text/event-stream") -> web.StreamResponse:
    headers = {"content-type": ctype}
    if gzip:
        headers["content-encoding"] = "gzip"
    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    return response


async def _forever(response: web.StreamResponse, piece: bytes, every: float = 0.0, up_to: int = 512 * MiB) -> None:
    """Write `piece` again and again until `up_to` bytes or the client leaves."""
    sent = 0
    with contextlib.suppress(ConnectionError, RuntimeError):
        while sent < up_to:
            await response.write(piece)
            sent += len(piece)
            await asyncio.sleep(every)


def _handlers(target: str) -> dict[str, Handler]:
    async def redirect(request: web.Request) -> web.StreamResponse:
        code = int(request.match_info["attack"].split("-")[1])
        location = f"{target.replace('http://', 'http://u:hunter2@')}/steal?api_key={KEY}"
        return web.Response(status=code, headers={"Location": location}, text="moved")

    async def gzip_body(request: web.Request) -> web.StreamResponse:
        return web.Response(body=BOMB, headers={"content-encoding": "gzip", "content-type": "application/json"})

    async def gzip_error(request: web.Request) -> web.StreamResponse:
        return web.Response(status=500, body=BOMB, headers={"content-encoding": "gzip"})

    async def gzip_stream_raw(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream", "content-encoding": "gzip"})
        await response.prepare(request)
        await _forever(response, BOMB, up_to=len(BOMB))
        return response

    async def huge_body(request: web.Request) -> web.StreamResponse:
        response = await _stream(request, ctype="application/json")
        await _forever(response, b" " * MiB)
        return response

    async def endless_line(request: web.Request) -> web.StreamResponse:
        response = await _stream(request)
        await response.write(b"data: ")
        await _forever(response, b"x" * 65536)
        return response

    async def endless_event(request: web.Request) -> web.StreamResponse:
        response = await _stream(request)
        await _forever(response, b"data: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n" * 2000)
        return response

    async def huge_frame(request: web.Request) -> web.StreamResponse:
        response = await _stream(request, ctype="application/vnd.amazon.eventstream")
        await response.write(_frame(20 * MiB))
        await _forever(response, b"\0" * 65536, up_to=20 * MiB)
        return response

    async def keepalive(request: web.Request) -> web.StreamResponse:
        response = await _stream(request)
        await _forever(response, b": keep-alive\n\n", every=0.05)
        return response

    async def pings(request: web.Request) -> web.StreamResponse:
        response = await _stream(request)
        await _forever(response, b'event: ping\ndata: {"type": "ping"}\n\n', every=0.05)
        return response

    async def drip(request: web.Request) -> web.StreamResponse:
        response = await _stream(request)
        await _forever(response, b"d", every=0.05)
        return response

    async def slow_progress(request: web.Request) -> web.StreamResponse:
        response = await _stream(request)
        await _forever(response, _chunk("tick "), every=0.1)
        return response

    async def deep_body(request: web.Request) -> web.StreamResponse:
        return web.Response(body=DEEP, content_type="application/json")

    async def deep_error(request: web.Request) -> web.StreamResponse:
        return web.Response(status=400, body=DEEP, content_type="application/json")

    async def deep_event(request: web.Request) -> web.StreamResponse:
        response = await _stream(request)
        deep = b'{"choices":[{"index":0,"delta":{"content":"x"},"logprobs":' + b"[" * 5000 + b"]" * 5000 + b"}]}"
        await response.write(b"data: " + deep + b"\n\n" + FINISH)
        return response

    async def huge_retry(request: web.Request) -> web.StreamResponse:
        response = await _stream(request)
        await response.write(b"retry: " + b"9" * 5000 + b"\n\n" + _chunk("ok") + FINISH)
        return response

    async def endless_deltas(request: web.Request) -> web.StreamResponse:
        response = await _stream(request)
        up_to = 3 * MiB if request.match_info["attack"] == "short-deltas" else 512 * MiB
        await _forever(response, _chunk("x" * 100) * 200, up_to=up_to)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write(FINISH)
        return response

    async def steady(request: web.Request) -> web.StreamResponse:  # a control: slow, but every gap < stream_idle
        response = await _stream(request)
        for _ in range(4):
            await response.write(b": keep-alive\n\n")
            await asyncio.sleep(0.15)
            await response.write(b": keep-alive\n\n")
            await asyncio.sleep(0.15)
            await response.write(_chunk("tick "))
        await response.write(FINISH)
        return response

    async def brotli(request: web.Request) -> web.StreamResponse:  # an encoding we never asked for
        return web.Response(body=b"\x8b\x03\x80junk", headers={"content-encoding": "br",
                                                                "content-type": "text/event-stream"})

    async def big_length(request: web.Request) -> web.StreamResponse:  # refused from its header alone
        response = web.StreamResponse(headers={"content-type": "application/json", "content-length": str(300 * MiB)})
        await response.prepare(request)
        await _forever(response, b" " * MiB, up_to=300 * MiB)
        return response

    table: dict[str, Handler] = {f"redirect-{code}": redirect for code in (301, 302, 303, 307, 308)}
    table.update({
        "gzip-body": gzip_body, "gzip-error": gzip_error, "gzip-stream": gzip_stream_raw,
        "huge-body": huge_body, "endless-line": endless_line, "endless-event": endless_event,
        "huge-frame": huge_frame, "keepalive": keepalive, "pings": pings, "drip": drip,
        "slow-progress": slow_progress, "deep-body": deep_body, "deep-error": deep_error,
        "deep-event": deep_event, "huge-retry": huge_retry, "endless-deltas": endless_deltas,
        "short-deltas": endless_deltas,
        "steady": steady, "prompt": huge_retry, "brotli": brotli, "big-length": big_length,
    })
    return table


@dataclass
class Hostile:
    url: str
    target_hits: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
async def hostile() -> AsyncIterator[Hostile]:
    hits: list[dict[str, str]] = []

    async def steal(request: web.Request) -> web.Response:
        hits.append(dict(request.headers))
        return web.Response(text="{}")

    target_app = web.Application()
    target_app.router.add_route("*", "/{tail:.*}", steal)
    async with TestServer(target_app, host="127.0.0.1") as target:
        handlers = _handlers(str(target.make_url("")).rstrip("/"))

        async def dispatch(request: web.Request) -> web.StreamResponse:
            return await handlers[request.match_info["attack"]](request)

        app = web.Application()
        app.router.add_route("*", "/{attack}/{tail:.*}", dispatch)
        async with TestServer(app, host="127.0.0.1") as server:
            yield Hostile(str(server.make_url("")).rstrip("/"), hits)


@pytest.fixture(autouse=True)
def memory_cap() -> Iterator[None]:
    """Cap the address space at what the process has now plus 384 MiB while a row runs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as status:
        found = re.search(r"VmSize:\s+(\d+) kB", status.read())
    assert found is not None
    cap = int(found.group(1)) * 1024 + 384 * MiB
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# ---- the table ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attack:
    attack: str
    stream: bool
    expect: type[LLMError] | None  # None: the call must succeed
    says: str = ""
    provider: str = "openai"
    timeout: Timeouts = QUICK
    limits: Limits = SMALL
    aggregate: bool = True
    within: float = 5.0
    pause: float = 0.0  # the caller's own time per chunk (not the server's silence)
    fires: float | None = None  # the configured timer (s) that must end the call: `within` is derived from it

    @property
    def bound(self) -> float:
        """The most the call may last: its timer plus `LOAD_SLACK`, or `within`."""
        return self.within if self.fires is None else self.fires + LOAD_SLACK

    @property
    def id(self) -> str:
        return f"{self.attack}-{'stream' if self.stream else 'plain'}" + ("" if self.aggregate else "-unaggregated")


ROWS = [
    *(Attack(f"redirect-{code}", stream, ProviderError, "redirect refused")
      for code in (301, 302, 303, 307, 308) for stream in (False, True)),
    Attack("gzip-body", False, ProviderError, "max_response_bytes"),
    Attack("gzip-error", False, ProviderError, "max_error_bytes"),
    Attack("gzip-stream", True, StreamError, "max_event_bytes"),
    Attack("huge-body", False, ProviderError, "max_response_bytes"),
    Attack("big-length", False, ProviderError, "max_response_bytes"),
    Attack("brotli", False, ProviderError, "unsupported Content-Encoding 'br'"),
    Attack("brotli", True, ProviderError, "unsupported Content-Encoding 'br'"),
    Attack("endless-line", True, StreamError, "a line is over"),
    Attack("endless-event", True, StreamError, "an event's data is over"),
    Attack("huge-frame", True, StreamError, "max_event_bytes", provider="bedrock"),
    Attack("keepalive", True, LLMTimeoutError, "stream_idle", fires=QUICK.read),
    Attack("pings", True, LLMTimeoutError, "stream_idle", provider="anthropic", fires=QUICK.read),
    Attack("drip", True, LLMTimeoutError, "stream_idle", fires=QUICK.read),
    Attack("drip", False, LLMTimeoutError, "total timeout", timeout=Timeouts(connect=2, read=0.5, total=1), fires=1),
    Attack("slow-progress", True, LLMTimeoutError, "stream_total",
           timeout=Timeouts(connect=2, read=0.5, total=5, stream_total=0.6), fires=0.6),
    Attack("deep-body", False, ProviderError, "max_json_depth"),
    Attack("deep-error", False, InvalidRequestError, "max_json_depth"),
    Attack("deep-event", True, StreamError, "nested too deeply"),
    Attack("huge-retry", True, None),
    Attack("endless-deltas", True, StreamError, "response size limit"),
    Attack("short-deltas", True, StreamError, "response size limit"),  # 3 MiB: over the 1 MiB limit...
    Attack("short-deltas", True, None, aggregate=False),  # ...unless the stream keeps nothing
    # Controls: progress slower than `read` overall but never idle that long, and a caller slower than `read`.
    Attack("steady", True, None, within=3.0),
    Attack("prompt", True, None, pause=0.8, within=4.0),
]


def _client(hostile: Hostile, row: Attack) -> VlloraLLMClient:
    base = f"{hostile.url}/{row.attack}"
    options: dict[str, Any] = {"api_key": KEY, "timeout": row.timeout, "limits": row.limits, "max_retries": 0}
    if row.provider == "openai":
        return VlloraLLMClient.from_provider("openai", base_url=f"{base}/v1", **options)
    if row.provider == "bedrock":
        return VlloraLLMClient.from_provider("bedrock", base_url=base, region="us-east-1", **options)
    return VlloraLLMClient.from_provider(row.provider, base_url=base, **options)


async def _call(client: VlloraLLMClient, row: Attack) -> None:
    request = dict(REQUEST, model="anthropic.claude-3-haiku" if row.provider == "bedrock" else "m")
    if not row.stream:
        await client.completions().create(request)
        return
    chunks = 0
    async for _ in client.completions().create_stream(request, aggregate=row.aggregate):
        chunks += 1
        await asyncio.sleep(row.pause)
    assert chunks > 0


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.id)
async def test_hostile_server(hostile: Hostile, row: Attack) -> None:
    client = _client(hostile, row)
    failure: LLMError | None = None
    async with client:
        started = time.monotonic()
        try:
            await asyncio.wait_for(_call(client, row), row.bound + 5)  # (the hang guard: not an LLMError)
        except LLMError as err:
            failure = err
        elapsed = time.monotonic() - started
        assert await wait_until(lambda: connections(client)[0] == 0), "a connection was left checked out"
    if row.expect is None:
        assert failure is None, f"{type(failure).__name__}: {failure}"
    else:
        assert isinstance(failure, row.expect), f"{type(failure).__name__}: {failure}"
        text = f"{failure} {failure!r} {failure.args} {failure.body!r}"
        assert row.says in str(failure), str(failure)
        assert KEY not in text and "hunter2" not in text
    assert elapsed < row.bound, f"took {elapsed:.2f} s"
    if row.fires is not None:  # the timer's own time, at least (a loaded machine only makes this longer)
        assert elapsed >= row.fires - 0.01, f"ended after {elapsed:.2f} s, before its {row.fires} s timer"
    assert hostile.target_hits == []  # a redirect was never followed: the key never reached the target
