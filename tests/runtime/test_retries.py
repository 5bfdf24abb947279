"""Retries against the local provider server: what is retried, how long we wait, and that a stream is never
retried once a chunk reached the caller."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from email.utils import formatdate
from typing import Any

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.errors import (
    ConnectionError,
    InvalidRequestError,
    ProviderError,
    RateLimitError,
    StreamError,
)
from vllora_llm.engine.errors import TimeoutError as LLMTimeoutError
from vllora_llm.runtime.retry import RetryPolicy, parse_retry_after
from vllora_llm.runtime.transport import Timeouts
from vllora_llm.testing import Fault, LocalProviderServer

REQUEST = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
REPLY = "Hello from the local openai server! You said: hi"


@pytest.fixture
async def client(server: LocalProviderServer) -> AsyncIterator[VlloraLLMClient]:
    async with VlloraLLMClient.from_provider(
        "openai",
        api_key="sk-test",
        base_url=server.openai_base_url,
        timeout=5,
        backoff_base=0.001,
        max_backoff=0.005,
    ) as c:
        yield c


async def create(client: VlloraLLMClient, request: Any = REQUEST) -> Any:
    async with asyncio.timeout(10):
        return await client.completions().create(request)


async def stream_text(client: VlloraLLMClient) -> str:
    async with asyncio.timeout(10):
        stream = client.completions().create_stream(REQUEST)
        async for _ in stream:
            pass
        return stream.response.text()


# ---- what is retried ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=429, headers={"retry-after": "0"}),
        Fault(status=500),
        Fault(status=503),
        Fault(status=408),
        Fault(status=409),
        Fault(status=400, headers={"x-should-retry": "true"}),
        Fault(reset_before_headers=True),
        Fault(html_error=True),  # a 502 page from a proxy
    ],
    ids=["429", "500", "503", "408", "409", "400-should-retry", "reset", "html-502"],
)
async def test_one_failure_then_success(client: VlloraLLMClient, server: LocalProviderServer, fault: Fault) -> None:
    server.faults.push(fault)
    assert (await create(client)).text() == REPLY
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault(status=400), InvalidRequestError),
        (Fault(status=500, headers={"x-should-retry": "false"}), ProviderError),
    ],
    ids=["400", "500-should-not-retry"],
)
async def test_not_retried(
    client: VlloraLLMClient, server: LocalProviderServer, fault: Fault, error: type[Exception]
) -> None:
    server.faults.push(fault)
    with pytest.raises(error) as info:
        await create(client)
    assert len(server.requests) == 1
    assert getattr(info.value, "attempts", None) == 1


async def test_exhausted_retries_carry_attempts(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(Fault(status=500, times=5))
    with pytest.raises(ProviderError) as info:
        await create(client)
    assert info.value.status == 500
    assert info.value.attempts == 3  # max_retries=2 by default
    assert "after 3 attempts" in str(info.value)
    assert len(server.requests) == 3


async def test_max_retries_zero(server: LocalProviderServer) -> None:
    server.faults.push(Fault(reset_before_headers=True, times=2))
    async with VlloraLLMClient.from_provider(
        "openai", api_key="sk-test", base_url=server.openai_base_url, max_retries=0
    ) as client:
        with pytest.raises(ConnectionError) as info:
            await create(client)
    assert info.value.attempts == 1
    assert len(server.requests) == 1


# ---- how long we wait -----------------------------------------------------------------------------------


async def test_retry_after_ms_is_honoured(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(Fault(status=429, headers={"retry-after-ms": "150"}))
    started = time.monotonic()
    assert (await create(client)).text() == REPLY
    assert time.monotonic() - started >= 0.14


async def test_too_long_retry_after_raises_at_once(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(Fault(status=429, headers={"retry-after": "120"}))
    started = time.monotonic()
    with pytest.raises(RateLimitError) as info:
        await create(client)
    assert time.monotonic() - started < 1
    assert info.value.retry_after == 120
    assert info.value.attempts == 1
    assert len(server.requests) == 1


async def test_retries_are_logged_without_secrets(
    client: VlloraLLMClient, server: LocalProviderServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vllora_llm")
    server.faults.push(Fault(status=503))
    await create(client)
    [record] = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert record.levelno == logging.INFO
    assert record.name == "vllora_llm"
    assert "ProviderError 503" in record.getMessage() and "attempt 2 of 3" in record.getMessage()
    assert "sk-test" not in record.getMessage()


def test_parse_retry_after() -> None:
    now = time.time()
    assert parse_retry_after({}) is None
    assert parse_retry_after({"Retry-After": "3"}) == 3
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "-4"}) == 0
    assert parse_retry_after({"retry-after": "soon"}) is None
    http_date = formatdate(now + 30, usegmt=True)
    assert 28 <= (parse_retry_after({"retry-after": http_date}, now=now) or 0) <= 31
    assert parse_retry_after({"retry-after": formatdate(now - 30, usegmt=True)}, now=now) == 0


def test_backoff_is_full_jitter_capped() -> None:
    policy = RetryPolicy(backoff_base=0.5, max_backoff=8.0)
    for retry, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 8.0), (10, 8.0)]:
        delays = [policy.delay(retry, None) for _ in range(200)]
        assert all(d is not None and 0 <= d <= ceiling for d in delays)
        assert max(d or 0 for d in delays) > ceiling / 2  # jitter spans the range
    assert policy.delay(1, 3.0) == 3.0
    assert policy.delay(1, 60.0) == 60.0
    assert policy.delay(1, 61.0) is None


# ---- streams --------------------------------------------------------------------------------------------


async def test_stream_retried_before_headers(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(Fault(status=500), Fault(status=429, headers={"retry-after": "0"}))
    assert await stream_text(client) == REPLY
    assert len(server.requests) == 3


async def test_stream_http_error_raises_at_await(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(Fault(status=400))
    with pytest.raises(InvalidRequestError) as info:
        async with asyncio.timeout(10):
            await client.completions().create_stream(REQUEST)
    assert info.value.status == 400 and info.value.attempts == 1


async def test_stream_cut_before_any_chunk_is_retried(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(Fault(cut_after_chunks=0))
    assert await stream_text(client) == REPLY
    assert len(server.requests) == 2


async def test_no_retry_after_the_first_chunk(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(Fault(cut_after_chunks=2))
    received: list[Any] = []
    with pytest.raises(StreamError) as info:
        async with asyncio.timeout(10):
            async for chunk in client.completions().create_stream(REQUEST):
                received.append(chunk)
    assert received  # the caller saw chunks, so the failure is final
    assert len(server.requests) == 1
    assert info.value.attempts == 1


async def test_truncated_stream_is_not_retried_after_chunks(
    client: VlloraLLMClient, server: LocalProviderServer
) -> None:
    server.faults.push(Fault(truncate_without_done=True))
    with pytest.raises(StreamError, match=r"terminal|truncat"):
        await stream_text(client)
    assert len(server.requests) == 1


# ---- timeouts -------------------------------------------------------------------------------------------


@pytest.fixture
async def impatient(server: LocalProviderServer) -> AsyncIterator[VlloraLLMClient]:
    async with VlloraLLMClient.from_provider(
        "openai",
        api_key="sk-test",
        base_url=server.openai_base_url,
        timeout=Timeouts(connect=1, read=0.2, total=0.5),
        backoff_base=0.001,
        max_backoff=0.005,
    ) as c:
        yield c


async def test_slow_answer_times_out_then_retries(impatient: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(Fault(delay_s=1.0))
    assert (await create(impatient)).text() == REPLY
    assert len(server.requests) == 2


async def test_timeouts_exhausted(impatient: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(Fault(delay_s=1.0, times=3))
    with pytest.raises(LLMTimeoutError, match="read timeout") as info:  # no byte within read=0.2 s
        await create(impatient)
    assert info.value.attempts == 3


async def test_stall_before_any_chunk_is_retried(impatient: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(Fault(stall_after_chunks=0))
    assert await stream_text(impatient) == REPLY
    assert len(server.requests) == 2


async def test_a_silent_body_is_the_read_timeout_without_stream_idle(server: LocalProviderServer) -> None:
    """`stream_idle=None` leaves the body's own `read` limit (timed by the stream's watch, not by aiohttp): a
    stream that stops sending mid-way still fails, with the read timeout, after `read` (a quarter late at most)."""
    server.faults.push(Fault(stall_after_chunks=2))
    async with VlloraLLMClient.from_provider(
        "openai", api_key="sk-test", base_url=server.openai_base_url,
        timeout=Timeouts(connect=1, read=0.2, total=0.5, stream_idle=None),
    ) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(LLMTimeoutError, match=r"no data for 0.2 s \(read timeout\)") as info:
            await stream_text(client)
        assert 0.2 <= loop.time() - started < 1.5
    assert info.value.attempts == 1
    assert len(server.requests) == 1


async def test_stall_mid_stream_is_final(impatient: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(Fault(stall_after_chunks=2))
    with pytest.raises(LLMTimeoutError, match="read timeout") as info:
        await stream_text(impatient)
    assert info.value.attempts == 1
    assert len(server.requests) == 1
