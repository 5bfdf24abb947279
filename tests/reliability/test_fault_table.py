"""The fault table: every way the provider side can misbehave, one row each, run through the public API
against the local provider server.

A row says which faults the server applies to the next requests (one per attempt, in order), whether the
call streams, and what the caller must see: the reply, or one exact error class with its attempt count,
within a time limit. Adding a case is adding a row. Every row also checks that no connection is left in
use afterwards. Rows with `api="responses"` go through `client.responses()` on a translated provider
(Anthropic's wire format): there a stream that fails after it opened must also have ended with the `error` and
`response.failed` events before the typed error. Cancellation (the task or the loop) and the connect timeout
follow the table.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from vllora_llm.client import SyncVlloraLLMClient, VlloraLLMClient
from vllora_llm.engine.errors import (
    ConnectionError,
    InvalidRequestError,
    LLMError,
    ProviderError,
    RateLimitError,
    StreamError,
    TimeoutError,
)
from vllora_llm.runtime.transport import AiohttpTransport, Timeouts
from vllora_llm.testing import Fault, LocalProviderServer, replay

from ._support import REPLY, REQUEST, client_for, connections, wait_until, write_acme_spec

FAST = Timeouts(connect=1, read=0.3, total=1)
"""The default timeouts of a row: a stall is caught in 0.3 s."""
GUARD = 10.0
"""No row may take longer than this; a call still running then has hung (the row fails, the suite goes on)."""
REPLY_1MB = "big"

SSE = "text/event-stream; charset=utf-8"
FIRST_CHUNK = (
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\n\n'
)
ERROR_EVENT = b'data: {"error":{"message":"The server is overloaded","type":"server_error","code":null}}\n\n'
HTML_PAGE = b"<html><body><h1>Welcome to nginx!</h1></body></html>\n"
ANTHROPIC_ERROR_EVENT = (Path(__file__).resolve().parents[1] / "recordings" / "anthropic"
                         / "stream_error_overloaded_midstream_handwritten.sse").read_bytes()
RESPONSES: dict[str, Any] = {"api": "responses", "provider": "anthropic"}
RESPONSES_REQUEST: dict[str, Any] = {"model": "claude-sonnet-4-5", "input": "hi"}


def http_date(seconds: float) -> str:
    """A header value the runner turns into the HTTP date `seconds` from the moment the row runs."""
    return f"http-date+{seconds}"


def acme_429(delay: str) -> Fault:
    body = {"error": {"message": "Slow down.", "type": "rate_limit_error", "retry_delay": delay}}
    return Fault(status=429, body=body)


@dataclass(frozen=True)
class Row:
    id: str
    faults: tuple[Fault, ...]
    """Applied to the next requests in order, one per attempt (`Fault.times` repeats one)."""
    stream: bool
    expect: str | type[LLMError]
    """`REPLY`, `REPLY_1MB` (the reply with a 1 MB delta inside), or the exact error class raised."""
    attempts: int
    """Requests the server saw; also `err.attempts` for an error."""
    max_s: float
    """The call ends within this many seconds (a generous bound on a busy 2-core machine)."""
    min_s: float = 0.0
    """...and not sooner: a server's retry delay was honoured."""
    match: str = ""
    """Text `str(err)` must contain."""
    status: int | None = None
    retry_after: float | None = None
    chunks_first: bool = False
    """A stream error that must come after chunks reached the caller (so it cannot have been retried)."""
    timeout: Timeouts = FAST
    call_timeout: Timeouts | float | None = None
    """A per-call timeout (`create(..., timeout=)`) over the client's."""
    provider: str = "openai"
    max_retries: int = 2
    api: str = "chat"
    """`chat` (`client.completions()`) or `responses` (`client.responses()`, on the `anthropic` provider)."""


TABLE: list[Row] = [
    # ---- retry hints: every header form, a delay from the body, and hints too long to wait for ----------
    Row("429-retry-after-seconds", (Fault(status=429, headers={"retry-after": "0.3"}),), False, REPLY, 2, 1.5,
        min_s=0.28),
    Row("429-retry-after-http-date", (Fault(status=429, headers={"retry-after": http_date(1.5)}),), False, REPLY,
        2, 2.5, min_s=0.45),
    Row("429-retry-after-ms", (Fault(status=429, headers={"retry-after-ms": "300"}),), False, REPLY, 2, 1.5,
        min_s=0.28),
    Row("429-retry-delay-in-body", (acme_429("0.3s"),), False, REPLY, 2, 1.5, min_s=0.28, provider="acme"),
    Row("429-stream-then-success", (Fault(status=429, headers={"retry-after-ms": "50"}),), True, REPLY, 2, 1.5),
    Row("429-retry-after-too-long", (Fault(status=429, headers={"retry-after": "120"}),), False, RateLimitError, 1,
        0.7, status=429, retry_after=120, match="openai 429"),
    Row("429-http-date-too-long", (Fault(status=429, headers={"retry-after": http_date(120)}),), False,
        RateLimitError, 1, 0.7, status=429, retry_after=120),
    Row("429-body-delay-too-long", (acme_429("90s"),), False, RateLimitError, 1, 0.7, status=429, retry_after=90,
        provider="acme", match="Slow down."),
    Row("x-should-retry-true", (Fault(status=400, headers={"x-should-retry": "true"}),), False, REPLY, 2, 1.5),
    Row("x-should-retry-false", (Fault(status=503, headers={"x-should-retry": "false"}),), False, ProviderError, 1,
        0.7, status=503),
    Row("529-overloaded-by-spec-rule", (Fault(status=529, body={"error": {"message": "Overloaded"}}),), False,
        REPLY, 2, 1.5, provider="acme"),
    # ---- statuses: retried ones then success, exhausted retries, and ones never retried -------------------
    Row("408-then-success", (Fault(status=408),), False, REPLY, 2, 1.5),
    Row("409-then-success", (Fault(status=409),), False, REPLY, 2, 1.5),
    Row("500-then-success", (Fault(status=500),), False, REPLY, 2, 1.5),
    Row("500-then-success-stream", (Fault(status=500),), True, REPLY, 2, 1.5),
    Row("503-504-then-success", (Fault(status=503), Fault(status=504)), False, REPLY, 3, 1.5),
    Row("500-retries-exhausted", (Fault(status=500, times=3),), False, ProviderError, 3, 1.5, status=500,
        match="after 3 attempts"),
    Row("500-max-retries-0", (Fault(status=500),), False, ProviderError, 1, 0.7, status=500, max_retries=0),
    Row("400-never-retried", (Fault(status=400),), False, InvalidRequestError, 1, 0.7, status=400),
    # ---- connections reset before the headers, in the body, mid-stream ------------------------------------
    Row("reset-before-headers", (Fault(reset_before_headers=True),), False, REPLY, 2, 1.5),
    Row("reset-before-headers-stream", (Fault(reset_before_headers=True),), True, REPLY, 2, 1.5),
    Row("reset-before-headers-exhausted", (Fault(reset_before_headers=True, times=3),), False, ConnectionError, 3,
        1.5),
    Row("reset-mid-body", (Fault(chunk_size=16, cut_after_chunks=2),), False, REPLY, 2, 1.5),
    Row("reset-mid-body-exhausted", (Fault(chunk_size=16, cut_after_chunks=2, times=3),), False, ConnectionError,
        3, 1.5, match="connection lost"),
    Row("reset-mid-stream-before-any-chunk", (Fault(cut_after_chunks=0),), True, REPLY, 2, 1.5),
    Row("reset-mid-stream-after-chunks", (Fault(cut_after_chunks=2),), True, StreamError, 1, 0.7,
        chunks_first=True, match="connection lost mid-stream"),
    # ---- truncation: a stream that ends without its terminal event is never an answer --------------------
    Row("truncated-stream-no-done", (Fault(truncate_without_done=True),), True, StreamError, 1, 0.7,
        chunks_first=True, match="truncated"),
    Row("truncated-stream-html-page", (replay(HTML_PAGE, content_type="text/html"),), True, StreamError, 1, 0.7,
        match="truncated"),
    Row("error-event-mid-stream", (replay(FIRST_CHUNK + ERROR_EVENT, content_type=SSE, chunk_size=len(FIRST_CHUNK),
                                          drip_s=0.05),), True, StreamError, 1, 0.7, chunks_first=True,
        match="The server is overloaded"),
    # ---- slow, stalled, timed out --------------------------------------------------------------------------
    Row("slow-drip-stream", (Fault(drip_s=0.03),), True, REPLY, 1, 2.0),
    Row("slow-drip-body", (Fault(chunk_size=32, drip_s=0.02),), False, REPLY, 1, 2.0),
    Row("stalled-stream-after-chunks", (Fault(stall_after_chunks=2),), True, TimeoutError, 1, 1.0,
        chunks_first=True, match="read timeout"),
    Row("stalled-stream-before-any-chunk", (Fault(stall_after_chunks=0, times=3),), True, TimeoutError, 3, 2.0,
        min_s=0.85, match="read timeout"),
    Row("slow-headers-read-timeout", (Fault(delay_s=2),), False, TimeoutError, 1, 1.0, max_retries=0,
        match="read timeout"),
    Row("slow-headers-then-success", (Fault(delay_s=2),), False, REPLY, 2, 1.5),
    Row("stalled-body-read-timeout", (Fault(chunk_size=16, drip_s=1.5),), False, TimeoutError, 1, 1.2, min_s=0.28,
        timeout=Timeouts(connect=1, read=0.3, total=5), max_retries=0, match="no data for 0.3 s (read timeout)"),
    Row("total-timeout-dripping-body", (Fault(chunk_size=16, drip_s=0.1),), False, TimeoutError, 1, 1.0,
        timeout=Timeouts(connect=1, read=1, total=0.4), max_retries=0, match="total timeout (0.4 s)"),
    Row("per-call-timeout", (Fault(delay_s=2),), False, TimeoutError, 1, 1.0, max_retries=0,
        timeout=Timeouts(connect=5, read=5, total=5), call_timeout=0.3, match="0.3 s"),
    Row("per-call-timeout-stream-stall", (Fault(stall_after_chunks=2),), True, TimeoutError, 1, 1.0,
        timeout=Timeouts(connect=5, read=5, total=5), call_timeout=Timeouts(connect=1, read=0.3, total=1),
        chunks_first=True, match="no data for 0.3 s"),
    # ---- bodies that are not what they claim ----------------------------------------------------------------
    Row("malformed-json-body", (Fault(malformed_json=True),), False, ProviderError, 1, 0.7, status=200,
        match="not valid JSON: '{\"id\": \"chatcmpl-local-broken\""),
    Row("malformed-json-stream-event", (Fault(malformed_json=True, drip_s=0.05),), True, StreamError, 1, 0.7,
        chunks_first=True, match="not valid JSON"),
    Row("empty-200-body", (Fault(status=200, body=b""),), False, ProviderError, 1, 0.7, status=200,
        match="not valid JSON"),
    Row("html-proxy-page-then-success", (Fault(html_error=True),), False, REPLY, 2, 1.5),
    Row("html-proxy-page-exhausted", (Fault(html_error=True, times=3),), False, ProviderError, 3, 1.5, status=502,
        match="502 Bad Gateway"),
    Row("1mb-single-sse-event", (Fault(big_event_bytes=1_000_000),), True, REPLY_1MB, 1, 3.0),
    Row("gzip-body", (Fault(gzip=True),), False, REPLY, 1, 1.0),
    Row("gzip-stream", (Fault(gzip=True),), True, REPLY, 1, 1.0),
    # ---- the Responses API (translated through the chat spec): the same faults, its own events -------------
    Row("responses-429-retried", (Fault(status=429, headers={"retry-after-ms": "50"}),), False, REPLY, 2, 1.5,
        **RESPONSES),
    Row("responses-429-retried-stream", (Fault(status=429, headers={"retry-after-ms": "50"}),), True, REPLY, 2,
        1.5, **RESPONSES),
    Row("responses-429-exhausted-stream", (Fault(status=429, headers={"retry-after-ms": "10"}, times=3),), True,
        RateLimitError, 3, 1.5, status=429, **RESPONSES),
    Row("responses-cut-stream-before-any-chunk", (Fault(cut_after_chunks=0),), True, REPLY, 2, 1.5, **RESPONSES),
    Row("responses-cut-stream", (Fault(cut_after_chunks=4),), True, StreamError, 1, 0.7, chunks_first=True,
        match="connection lost mid-stream", **RESPONSES),
    Row("responses-error-event", (replay(ANTHROPIC_ERROR_EVENT, content_type=SSE),), True, StreamError, 1, 0.7,
        chunks_first=True, match="Overloaded", **RESPONSES),
    Row("responses-stalled-stream", (Fault(stall_after_chunks=4),), True, TimeoutError, 1, 1.0, chunks_first=True,
        match="read timeout", **RESPONSES),
    Row("responses-stalled-before-any-chunk", (Fault(stall_after_chunks=0, times=3),), True, TimeoutError, 3, 2.0,
        min_s=0.85, match="read timeout", **RESPONSES),  # retried while no chunk reached the caller; then failed
    Row("responses-500-then-success", (Fault(status=500),), False, REPLY, 2, 1.5, **RESPONSES),
]


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_acme_spec(tmp_path_factory.mktemp("specs"))


def materialize(fault: Fault) -> Fault:
    """Turn `http_date(n)` placeholders into real HTTP dates, now."""
    headers = dict(fault.headers)
    for name, value in headers.items():
        if value.startswith("http-date+"):
            headers[name] = formatdate(time.time() + float(value.removeprefix("http-date+")), usegmt=True)
    return replace(fault, headers=headers)


async def call(client: VlloraLLMClient, row: Row) -> tuple[Any, int]:
    """(the reply text or the LLMError raised, chunks the caller received first)."""
    if row.api == "responses":
        return await call_responses(client, row)
    received = 0
    try:
        if row.stream:
            stream = client.completions().create_stream(REQUEST, timeout=row.call_timeout)
            async for _ in stream:
                received += 1
            return stream.response.text(), received
        return (await client.completions().create(REQUEST, timeout=row.call_timeout)).text(), received
    except LLMError as err:
        return err, received


async def call_responses(client: VlloraLLMClient, row: Row) -> tuple[Any, int]:
    """`call` through `client.responses()`: text deltas count as chunks; a stream that failed once open must
    have ended with `error` then `response.failed` (the same error) before raising."""
    if not row.stream:
        try:
            return (await client.responses().create(RESPONSES_REQUEST, timeout=row.call_timeout)).output_text, 0
        except LLMError as err:
            return err, 0
    kinds: list[str] = []
    stream = client.responses().create_stream(RESPONSES_REQUEST, timeout=row.call_timeout)
    try:
        async for event in stream:
            kinds.append(event.type)
    except LLMError as err:
        if kinds:
            assert kinds[-2:] == ["error", "response.failed"], kinds
            assert stream.error is err and stream.response.status == "failed"
        return err, kinds.count("response.output_text.delta")
    assert kinds[-1] == "response.completed", kinds
    return stream.response.output_text, kinds.count("response.output_text.delta")


@pytest.mark.parametrize("row", TABLE, ids=[row.id for row in TABLE])
async def test_fault(row: Row, server: LocalProviderServer, spec_dir: Path) -> None:
    server.faults.push(*(materialize(f) for f in row.faults))
    loop = asyncio.get_running_loop()
    base_url = server.base_url_for(row.provider) if row.api == "responses" else server.openai_base_url
    async with client_for(
        server, provider=row.provider, spec_path=[spec_dir], timeout=row.timeout, max_retries=row.max_retries,
        base_url=base_url,
    ) as client:
        started = loop.time()
        try:
            async with asyncio.timeout(GUARD):
                outcome, received = await call(client, row)
        except builtins.TimeoutError:
            pytest.fail(f"{row.id}: the call hung (still running after {GUARD} s)")
        elapsed = loop.time() - started
        in_use, _ = connections(client)

    assert len(server.requests) == row.attempts, f"{row.id}: the server saw {len(server.requests)} requests"
    if isinstance(row.expect, str):
        assert not isinstance(outcome, LLMError), f"{row.id}: expected the reply, got {outcome!r}"
        if row.expect == REPLY_1MB:
            assert outcome.count("x") >= 999_000 and outcome.replace("x", "") == REPLY.replace("x", "")
        else:
            assert outcome == (REPLY.replace("openai", row.provider) if row.api == "responses" else REPLY)
    else:
        assert type(outcome) is row.expect, f"{row.id}: expected {row.expect.__name__}, got {outcome!r}"
        assert outcome.attempts == row.attempts
        assert outcome.provider == row.provider
        assert row.match in str(outcome), str(outcome)
        if row.status is not None:
            assert outcome.status == row.status
        if row.retry_after is not None:
            assert outcome.retry_after == pytest.approx(row.retry_after, abs=2)
        if row.chunks_first:
            assert received >= 1, f"{row.id}: the error should come after chunks reached the caller"
    assert row.min_s <= elapsed <= row.max_s, f"{row.id}: took {elapsed:.3f} s"
    assert in_use == 0, f"{row.id}: {in_use} connection(s) still in use after the call"


def test_the_table_covers_every_fault_of_the_issue() -> None:
    """The faults the reliability issue lists, each by at least one row."""
    ids = " ".join(row.id for row in TABLE)
    for needed in ["429-retry-after-seconds", "429-retry-after-http-date", "429-retry-after-ms",
                   "429-retry-delay-in-body", "x-should-retry-true", "x-should-retry-false", "500-then-success",
                   "reset-before-headers", "reset-mid-body", "truncated-stream", "slow-drip", "stalled-stream",
                   "malformed-json", "1mb-single-sse-event", "html-proxy-page", "gzip-body", "gzip-stream",
                   "per-call-timeout", "total-timeout", "408", "409", "503", "responses-429-retried",
                   "responses-cut-stream", "responses-error-event"]:
        assert needed in ids, needed
    classes = {row.expect for row in TABLE if not isinstance(row.expect, str)}
    assert {RateLimitError, ProviderError, InvalidRequestError, ConnectionError, StreamError, TimeoutError} <= classes


# ---- connect timeout: a listener whose backlog is full never completes the handshake ------------------------


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):  # fill the accept queue: later SYNs are dropped, so connect() waits
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
async def test_connect_timeout(unanswered_port: int, stream: bool) -> None:
    async with VlloraLLMClient.from_provider(
        "openai", api_key="k", base_url=f"http://127.0.0.1:{unanswered_port}/v1",
        timeout=Timeouts(connect=0.3, read=5, total=5), max_retries=1, backoff_base=0.01,
    ) as client:
        started = time.monotonic()
        with pytest.raises(TimeoutError, match=r"connect timeout \(0.3 s\)") as info:
            async with asyncio.timeout(GUARD):
                if stream:
                    await client.completions().create_stream(REQUEST)
                else:
                    await client.completions().create(REQUEST)
        assert time.monotonic() - started < 2 * 0.3 + 0.7
        assert info.value.attempts == 2


# ---- cancellation and leaving early release the connection at once -------------------------------------------


async def _cancel_create(client: VlloraLLMClient) -> None:
    task = asyncio.create_task(client.completions().create(REQUEST))
    await asyncio.sleep(0.15)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def _cancel_stream(client: VlloraLLMClient) -> None:
    started = asyncio.Event()

    async def consume() -> None:
        async for _ in client.completions().create_stream(REQUEST):
            started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def _break_stream(client: VlloraLLMClient) -> None:
    async for _ in client.completions().create_stream(REQUEST):
        break


async def _exception_inside_async_with(client: VlloraLLMClient) -> None:
    with pytest.raises(KeyError):
        async with client.completions().create_stream(REQUEST) as stream:
            async for _ in stream:
                raise KeyError("the caller's own bug")


async def _wait_for_timeout(client: VlloraLLMClient) -> None:
    with pytest.raises(builtins.TimeoutError):
        async with asyncio.timeout(0.15):  # the caller's own deadline cancels the call
            await client.completions().create(REQUEST)


CANCELLATIONS = [
    ("cancel-waiting-for-headers", Fault(delay_s=5), _cancel_create),
    ("cancel-reading-the-body", Fault(chunk_size=8, drip_s=0.05), _cancel_create),
    ("cancel-stalled-stream", Fault(stall_after_chunks=2), _cancel_stream),
    ("cancel-dripping-stream", Fault(drip_s=0.05), _cancel_stream),
    ("break-out-of-stream", Fault(drip_s=0.05), _break_stream),
    ("exception-inside-async-with", Fault(drip_s=0.05), _exception_inside_async_with),
    ("callers-deadline", Fault(delay_s=5), _wait_for_timeout),
]


@pytest.mark.parametrize(("fault", "leave"), [c[1:] for c in CANCELLATIONS], ids=[c[0] for c in CANCELLATIONS])
async def test_leaving_releases_the_connection_at_once(server: LocalProviderServer, fault: Fault, leave: Any) -> None:
    async with client_for(server, timeout=Timeouts(connect=1, read=10, total=10)) as client:
        await client.completions().create(REQUEST)  # warm: one idle keep-alive connection
        baseline = sum(connections(client))
        assert baseline == 1 and server.open_connections == 1
        server.faults.push(fault)
        async with asyncio.timeout(GUARD):
            await leave(client)
        assert await wait_until(lambda: server.disconnects == 1), "the server never saw the client go"
        assert await wait_until(lambda: server.open_connections <= baseline)
        in_use, idle = connections(client)
        assert in_use == 0 and in_use + idle <= baseline
        assert (await client.completions().create(REQUEST)).text() == REPLY  # the pool still works


async def _cancel_responses_stream(client: VlloraLLMClient) -> None:
    started = asyncio.Event()

    async def consume() -> None:
        async for event in client.responses().create_stream(RESPONSES_REQUEST):
            if event.type == "response.output_text.delta":
                started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def _break_responses_stream(client: VlloraLLMClient) -> None:
    async for event in client.responses().create_stream(RESPONSES_REQUEST):
        if event.type == "response.output_text.delta":
            break


async def _exception_inside_responses_async_with(client: VlloraLLMClient) -> None:
    with pytest.raises(KeyError):
        async with client.responses().create_stream(RESPONSES_REQUEST) as stream:
            async for _ in stream:
                raise KeyError("the caller's own bug")


RESPONSES_LEAVES = [
    ("cancel-dripping-responses-stream", Fault(drip_s=0.05), _cancel_responses_stream),
    ("cancel-stalled-responses-stream", Fault(stall_after_chunks=4), _cancel_responses_stream),
    ("break-out-of-responses-stream", Fault(drip_s=0.05), _break_responses_stream),
    ("exception-inside-responses-async-with", Fault(drip_s=0.05), _exception_inside_responses_async_with),
]


@pytest.mark.parametrize(("fault", "leave"), [c[1:] for c in RESPONSES_LEAVES], ids=[c[0] for c in RESPONSES_LEAVES])
async def test_leaving_a_responses_stream_closes_the_connection(
    server: LocalProviderServer, fault: Fault, leave: Any
) -> None:
    """Cancelling, breaking out of or raising inside a Responses stream closes its connection at once: the
    server sees the client go (one close on 127.0.0.1) while the stream is still dripping or stalled."""
    async with client_for(server, provider="anthropic", base_url=server.base_url_for("anthropic"),
                          timeout=Timeouts(connect=1, read=10, total=10)) as client:
        assert (await client.responses().create(RESPONSES_REQUEST)).output_text  # warm: one keep-alive connection
        assert sum(connections(client)) == 1 and server.open_connections == 1
        server.faults.push(fault)
        async with asyncio.timeout(GUARD):
            await leave(client)
        assert await wait_until(lambda: server.disconnects == 1), "the server never saw the client go"
        assert await wait_until(lambda: server.open_connections <= 1)
        in_use, idle = connections(client)
        assert in_use == 0 and in_use + idle <= 1
        assert (await client.responses().create(RESPONSES_REQUEST)).output_text  # the pool still works


# ---- the blocking facade takes the per-call timeout too -----------------------------------------------------


def test_sync_client_per_call_timeout(threaded_server: LocalProviderServer) -> None:
    with SyncVlloraLLMClient.from_provider("openai", api_key="k", base_url=threaded_server.openai_base_url,
                                           max_retries=0) as client:
        threaded_server.faults.push(Fault(delay_s=2), Fault(stall_after_chunks=2))
        started = time.monotonic()
        with pytest.raises(TimeoutError, match=r"0\.3 s"):
            client.create(REQUEST, timeout=0.3)
        with pytest.raises(TimeoutError, match=r"no data for 0\.3 s"):
            for _ in client.create_stream(REQUEST, timeout=Timeouts(connect=1, read=0.3, total=1)):
                pass
        assert time.monotonic() - started < 2 * 0.3 + 1.0
        assert client.create(REQUEST).text() == REPLY  # the client's own timeouts again


async def test_waiting_for_a_pooled_connection_is_not_silence_from_the_server(server: LocalProviderServer) -> None:
    """`read` counts from when a call has its connection: a call queued behind a busy pool (limit 1) for longer
    than `read` still succeeds, while the first call's body drips in with gaps shorter than `read`."""
    transport = AiohttpTransport(Timeouts(connect=1, read=0.3, total=5), limit=1)
    async with VlloraLLMClient.from_provider(
        "openai", api_key="k", base_url=server.openai_base_url, transport=transport, max_retries=0,
    ) as client:
        server.faults.push(Fault(chunk_size=24, drip_s=0.05))
        started = time.monotonic()
        first, second = await asyncio.wait_for(asyncio.gather(
            client.completions().create(REQUEST), client.completions().create(REQUEST)), GUARD)
        assert first.text() == second.text() == REPLY
        assert time.monotonic() - started >= 0.4  # the second call waited longer than `read` for the connection
    await transport.aclose()


async def test_waiting_for_a_pooled_connection_is_bounded_by_total_not_connect(server: LocalProviderServer) -> None:
    """`connect` times opening a socket; a call queued behind a busy pool (limit 1 here) waits within `total`
    (aiohttp's own `connect` timeout would also time that wait, with a timer on every call)."""
    transport = AiohttpTransport(Timeouts(connect=0.2, read=5, total=5), limit=1)
    async with VlloraLLMClient.from_provider(
        "openai", api_key="k", base_url=server.openai_base_url, transport=transport, max_retries=0,
    ) as client:
        server.faults.push(Fault(delay_s=0.6))
        started = time.monotonic()
        first, second = await asyncio.wait_for(asyncio.gather(
            client.completions().create(REQUEST), client.completions().create(REQUEST)), GUARD)
        assert first.text() == second.text() == REPLY
        assert time.monotonic() - started >= 0.55  # the second call did wait for the first one's connection
    await transport.aclose()
