"""AiohttpTransport against a tiny aiohttp server on 127.0.0.1: keep-alive, gzip, streaming by raw chunks,
early close, and failures mapped to our error classes."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from vllora_llm.client import ProviderModelInstance, VlloraLLMClient
from vllora_llm.engine.errors import ConnectionError as LLMConnectionError
from vllora_llm.engine.errors import SpecError, StreamError
from vllora_llm.engine.errors import TimeoutError as LLMTimeoutError
from vllora_llm.engine.registry import load_plan
from vllora_llm.engine.wire import WireRequest
from vllora_llm.runtime.transport import AiohttpTransport, Response, StreamResponse, Timeouts, call_timeouts

LONG_LINE = b"data: " + b"x" * 300_000 + b"\n\n"  # longer than aiohttp's line-iterator limit


@dataclass
class Seen:
    peers: list[object] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    disconnects: int = 0


def app(seen: Seen) -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        seen.peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        seen.bodies.append(await request.read())
        seen.headers.append(dict(request.headers))
        return web.Response(body=b"echo:" + seen.bodies[-1], headers={"x-answer": "42"}, status=201)

    async def gzipped(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(b"hello gzip"), headers={"content-encoding": "gzip"})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(text="late")

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        mode = request.query.get("mode", "")
        try:
            await response.write(LONG_LINE)
            for i in range(3):
                await response.write(f"data: {i}\n\n".encode())
                await asyncio.sleep(0.01)
            if mode == "stall":
                await asyncio.sleep(2)
            if mode == "forever":
                while True:
                    await response.write(b"data: more\n\n")
                    await asyncio.sleep(0.01)
            if mode == "reset":
                assert request.transport is not None
                request.transport.abort()
                return response
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            seen.disconnects += 1
            raise
        return response

    async def drip(request: web.Request) -> web.StreamResponse:
        """Each event written on its own, so the client reads them one per read (a model generating slowly)."""
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for i in range(int(request.query.get("events", "20"))):
            await response.write(f"data: {i}\n\n".encode())
            await asyncio.sleep(0.003)
        await response.write_eof()
        return response

    async def big(request: web.Request) -> web.StreamResponse:
        """4 MB as fast as the client takes them, then the end."""
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for _ in range(64):
            await response.write(b"x" * 65536)
        await response.write_eof()
        return response

    application = web.Application()
    application.router.add_get("/drip", drip)
    application.router.add_get("/big", big)
    application.router.add_post("/echo", echo)
    application.router.add_get("/gzip", gzipped)
    application.router.add_get("/slow", slow)
    application.router.add_get("/stream", stream)
    return application


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Seen]]:
    seen = Seen()
    runner = web.AppRunner(app(seen), shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    t = AiohttpTransport(Timeouts(connect=2, read=2, total=5))
    try:
        yield t
    finally:
        await t.aclose()


def wire(url: str, method: str = "GET", body: bytes = b"", **headers: str) -> WireRequest:
    return WireRequest(method=method, url=url, headers=dict(headers), body=body)


async def test_send_reuses_one_connection(server: tuple[str, Seen], transport: AiohttpTransport) -> None:
    base, seen = server
    assert transport._session is None  # created lazily, inside the running loop
    for i in range(3):
        response = await transport.send(wire(base + "/echo", "POST", f"body{i}".encode(), **{"x-k": "v"}))
        assert (response.status, response.body) == (201, f"echo:body{i}".encode())
        assert response.headers["X-Answer"] == "42"  # case-insensitive
    assert len(set(seen.peers)) == 1  # keep-alive: one TCP connection for all three
    assert seen.headers[0]["x-k"] == "v"
    assert seen.headers[0]["Content-Type"] == "application/json"  # a body without a content type is JSON


async def test_gzip_is_decoded(server: tuple[str, Seen], transport: AiohttpTransport) -> None:
    base, _ = server
    assert (await transport.send(wire(base + "/gzip"))).body == b"hello gzip"


async def test_stream_reads_raw_chunks_including_long_lines(
    server: tuple[str, Seen], transport: AiohttpTransport
) -> None:
    base, seen = server
    response = await transport.open_stream(wire(base + "/stream"))
    assert response.status == 200
    body = b"".join([chunk async for chunk in response.iter_bytes()])
    assert body == LONG_LINE + b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
    assert await response.read_chunk() == b""  # the end stays the end
    # released, not closed: the next request reuses the connection
    await transport.send(wire(base + "/echo", "POST", b"x"))
    await transport.send(wire(base + "/echo", "POST", b"y"))
    assert len(set(seen.peers)) == 1


async def test_early_close_drops_the_connection(server: tuple[str, Seen], transport: AiohttpTransport) -> None:
    base, seen = server
    response = await transport.open_stream(wire(base + "/stream?mode=forever"))
    async for _ in response.iter_bytes():
        break
    await asyncio.sleep(0)  # the generator's finally runs when it is closed
    response.close()
    async with asyncio.timeout(3):
        while seen.disconnects == 0:
            await asyncio.sleep(0.01)
    assert seen.disconnects == 1


async def test_read_timeout_mid_stream(server: tuple[str, Seen]) -> None:
    base, _ = server
    transport = AiohttpTransport(Timeouts(connect=1, read=0.2, total=5))
    try:
        response = await transport.open_stream(wire(base + "/stream?mode=stall"))
        with pytest.raises(LLMTimeoutError, match="read timeout"):
            async with asyncio.timeout(3):
                await response.read()
    finally:
        await transport.aclose()


async def test_stream_read_timeouts_on_an_owned_session(server: tuple[str, Seen]) -> None:
    """The transport's own watches time a stream (aiohttp keeps only the socket connect): the wait for the
    headers, a body that goes silent after some bytes (a quarter of `read` late at most), and a per-call
    `call_timeouts` override of both; the messages are the read timeout's."""
    base, _ = server
    transport = AiohttpTransport(Timeouts(connect=1, read=5, total=5))
    loop = asyncio.get_running_loop()
    try:
        with call_timeouts(Timeouts(connect=1, read=0.2, total=5)):
            started = loop.time()
            with pytest.raises(LLMTimeoutError, match=r"GET http://127.0.0.1:\d+/slow: no data for 0.2 s"):
                await transport.open_stream(wire(base + "/slow"))
            assert 0.19 <= loop.time() - started < 1.0
            response = await transport.open_stream(wire(base + "/stream?mode=stall"))
            started = loop.time()
            with pytest.raises(LLMTimeoutError, match=r"/stream: no data for 0.2 s \(read timeout\)") as info:
                await response.read()
            assert 0.15 <= loop.time() - started < 1.0  # (the stall starts ~0.03 s after the headers)
            assert info.value.retryable
            with pytest.raises(LLMTimeoutError, match="read timeout"):  # the failure stays: no silent end
                await response.read_chunk()
        assert transport._watches.calls == {}
    finally:
        await transport.aclose()


async def test_a_stream_read_one_event_at_a_time_arms_no_timer_per_read(
    server: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiohttp's `sock_read` re-arms a timer on every piece of data; on a session the library owns, a stream's
    `read` is one timer for the stream (`ReadWatch`), however many reads the body takes. A caller's session
    keeps aiohttp's timer (the contrast: the test sees it)."""
    base, _ = server
    loop = asyncio.get_running_loop()
    real_call_at = loop.call_at

    async def timers_per_stream(transport: AiohttpTransport) -> list[str]:
        body = await (await transport.open_stream(wire(base + "/drip?events=5"))).read()  # warm: pooled
        assert body.count(b"data:") == 5
        scheduled: list[str] = []

        def call_at(when: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
            scheduled.append(getattr(callback, "__qualname__", repr(callback)))
            return real_call_at(when, callback, *args, **kwargs)

        monkeypatch.setattr(loop, "call_at", call_at)
        try:
            response = await transport.open_stream(wire(base + "/drip?events=20"))
            reads = 0
            while await response.read_chunk():
                reads += 1
        finally:
            monkeypatch.undo()
        assert reads >= 5  # (the events did come one or a few per read)
        return [name for name in scheduled if "_on_read_timeout" in name or "ReadWatch" in name]

    owned = AiohttpTransport(Timeouts(connect=1, read=20, total=5))  # (its one timer wakes after 5 s)
    try:
        assert await timers_per_stream(owned) == ["ReadWatch._wake"]
    finally:
        await owned.aclose()
    async with aiohttp.ClientSession() as session:
        theirs = AiohttpTransport(Timeouts(connect=1, read=20, total=5), session=session)
        assert len(await timers_per_stream(theirs)) >= 5  # aiohttp's, re-armed per read
        await theirs.aclose()


async def test_a_caller_slow_to_read_is_not_the_servers_silence(server: tuple[str, Seen]) -> None:
    """Bytes that arrived and wait unread (aiohttp stops reading the socket once its buffer is full, so the server
    cannot send more) do not count as silence: a caller busy for longer than `read` still gets the whole body."""
    base, _ = server
    transport = AiohttpTransport(Timeouts(connect=1, read=0.2, total=5))
    try:
        response = await transport.open_stream(wire(base + "/big"))
        await asyncio.sleep(0.6)
        assert len(b"".join([chunk async for chunk in response.iter_bytes()])) == 64 * 65536
    finally:
        await transport.aclose()


async def test_total_timeout(server: tuple[str, Seen]) -> None:
    base, _ = server
    transport = AiohttpTransport(0.2)
    try:
        with pytest.raises(LLMTimeoutError) as info:
            await transport.send(wire(base + "/slow"))
        assert "GET http://127.0.0.1" in str(info.value)
        with pytest.raises(LLMTimeoutError):
            await transport.open_stream(wire(base + "/slow"))
    finally:
        await transport.aclose()


async def test_whole_calls_share_one_timer_for_their_limits(
    server: tuple[str, Seen], transport: AiohttpTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`total` and `read` of the non-streamed calls in flight share one timer (aiohttp's own would schedule three
    per call: its total, and a read timer armed when the request is out and again when data arrives): the first
    call arms it, and calls whose limits fall after it schedule nothing; an ended call leaves no watch behind."""
    base, _ = server
    for _ in range(2):  # the pool holds open connections for 5 calls at once, the timer is armed
        await asyncio.gather(*(transport.send(wire(base + "/echo", "POST", b"warm")) for _ in range(5)))
    loop = asyncio.get_running_loop()
    scheduled: list[str] = []
    real_call_at = loop.call_at

    def call_at(when: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        scheduled.append(getattr(callback, "__qualname__", repr(callback)))
        return real_call_at(when, callback, *args, **kwargs)

    monkeypatch.setattr(loop, "call_at", call_at)
    response = await transport.send(wire(base + "/echo", "POST", b"x"))
    answers = await asyncio.gather(*(transport.send(wire(base + "/echo", "POST", b"y")) for _ in range(5)))
    monkeypatch.undo()
    assert response.body == b"echo:x" and all(answer.body == b"echo:y" for answer in answers)
    assert [name for name in scheduled if not name.startswith("RequestHandler.")] == []  # (but the server's)
    assert transport._watches.calls == {}
    timer = transport._watches._handle
    assert timer is not None and not timer.cancelled()
    await transport.aclose()  # the timer goes with the transport
    assert timer.cancelled() and transport._watches._handle is None


async def test_the_shared_timer_times_each_call_from_its_own_start(server: tuple[str, Seen]) -> None:
    """The timer armed for a call that ended wakes for the calls still in flight and sleeps until their own
    limits: a stalled call started later times out `total` after its own start, not after the first call's."""
    base, _ = server
    transport = AiohttpTransport(Timeouts(connect=1, read=5, total=0.6))
    try:
        await transport.send(wire(base + "/echo", "POST", b"first"))  # arms the timer for first start + 0.6 s
        await asyncio.sleep(0.3)
        started = asyncio.get_running_loop().time()
        with pytest.raises(LLMTimeoutError, match=r"total timeout \(0.6 s\)"):
            await transport.send(wire(base + "/slow"))
        assert 0.55 <= asyncio.get_running_loop().time() - started < 1.5
        with call_timeouts(Timeouts(connect=1, read=5, total=0.2)):  # a shorter limit re-arms the timer earlier
            started = asyncio.get_running_loop().time()
            with pytest.raises(LLMTimeoutError, match=r"total timeout \(0.2 s\)"):
                await transport.send(wire(base + "/slow"))
            assert asyncio.get_running_loop().time() - started < 0.5
    finally:
        await transport.aclose()


async def test_a_callers_own_session_is_used_and_timed_by_aiohttp(server: tuple[str, Seen]) -> None:
    """`AiohttpTransport(session=...)`: the caller's session sends the calls (its connector is not ours, so no
    watch can learn when a call is connected: aiohttp's own timers apply), and closing the transport leaves it
    open."""
    base, _ = server
    async with aiohttp.ClientSession() as session:
        transport = AiohttpTransport(Timeouts(connect=1, read=0.2, total=5), session=session)
        assert (await transport.send(wire(base + "/echo", "POST", b"mine"))).body == b"echo:mine"
        with pytest.raises(LLMTimeoutError, match=r"no data for 0.2 s \(read timeout\)"):
            await transport.send(wire(base + "/slow"))
        await transport.aclose()
        assert not session.closed
        assert transport._watches.calls == {}


async def test_reset_mid_stream_is_a_stream_error(server: tuple[str, Seen], transport: AiohttpTransport) -> None:
    base, _ = server
    response = await transport.open_stream(wire(base + "/stream?mode=reset"))
    with pytest.raises(StreamError, match="connection lost mid-stream") as info:
        await response.read()
    assert info.value.retryable


async def test_connection_refused_names_no_query(transport: AiohttpTransport) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(LLMConnectionError) as info:
            await transport.send(wire(f"http://127.0.0.1:{port}/x?key=SECRET", "POST", b"{}"))
    assert "SECRET" not in str(info.value)
    assert info.value.retryable


async def test_aclose_is_idempotent_and_session_recreated(server: tuple[str, Seen]) -> None:
    base, _ = server
    transport = AiohttpTransport()
    await transport.send(wire(base + "/gzip"))
    await transport.aclose()
    await transport.aclose()
    assert (await transport.send(wire(base + "/gzip"))).body == b"hello gzip"  # a fresh pool after close
    await transport.aclose()


def test_timeouts_coerce() -> None:
    assert Timeouts.coerce(None) == Timeouts()
    t = Timeouts(connect=1, read=2, total=3)
    assert Timeouts.coerce(t) is t
    assert Timeouts.coerce(5) == Timeouts(connect=5, read=5, total=5)
    assert Timeouts.coerce(300) == Timeouts(connect=10, read=120, total=300)


# ---- the seam: any Transport plugs in under the instance ------------------------------------------------


class RecordingTransport:
    """A transport that answers from memory (what an alternative HTTP stack or a test double looks like)."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.sent: list[WireRequest] = []
        self.closed = False

    async def send(self, wire: WireRequest) -> Response:
        self.sent.append(wire)
        return Response(200, {"content-type": "application/json"}, self.body)

    async def open_stream(self, wire: WireRequest) -> StreamResponse:
        raise NotImplementedError

    async def aclose(self) -> None:
        self.closed = True


async def test_custom_transport_plugs_in() -> None:
    body = b'{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}'
    transport = RecordingTransport(body)
    client = VlloraLLMClient.from_provider(
        "openai", api_key="sk-seam", base_url="http://unused.invalid/v1", transport=transport
    )
    response = await client.completions().create({"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert response.text() == "hi"
    [sent] = transport.sent
    assert sent.url == "http://unused.invalid/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-seam"
    assert sent.headers["user-agent"].startswith("vllora-llm/")
    await client.aclose()
    assert not transport.closed  # a transport passed in belongs to the caller


def test_unknown_framing_is_a_spec_error() -> None:
    plan = load_plan("openai")

    class OddPlan:
        name, auth, framing = plan.name, plan.auth, "carrier_pigeon"
        encode, decode, error, stream_decoder = plan.encode, plan.decode, plan.error, plan.stream_decoder

    with pytest.raises(SpecError, match="unknown stream framing 'carrier_pigeon'"):
        ProviderModelInstance(OddPlan(), api_key="k")
