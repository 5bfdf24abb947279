"""The crate's model events through a callback (client-wide and per call) and the async-iterator form, over
real HTTP to the local provider server: order, contents, retries, fallbacks, errors, a failing callback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vllora_llm.client import DummyModelInstance, VlloraLLMClient
from vllora_llm.error import InvalidRequestError
from vllora_llm.events import (
    EventQueue,
    Fallback,
    LlmContent,
    LlmError,
    LlmFirstToken,
    LlmStart,
    LlmStop,
    ModelEvent,
    Retry,
)
from vllora_llm.testing import Fault, LocalProviderServer

REQUEST: dict[str, Any] = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "tell me"}]}


def _kinds(events: list[ModelEvent]) -> list[str]:
    kinds = [type(e).__name__ for e in events]
    return [k for i, k in enumerate(kinds) if k != "LlmContent" or kinds[i - 1] != "LlmContent"]  # runs as one


async def test_a_stream_gives_start_first_token_content_and_stop_in_order() -> None:
    events: list[ModelEvent] = []
    async with LocalProviderServer() as server, VlloraLLMClient.from_provider(
        "anthropic", api_key="k", base_url=server.base_url_for("anthropic"), events=events.append
    ) as client:
        stream = client.completions().create_stream({**REQUEST, "model": "claude-sonnet-4-5"})
        async for _ in stream:
            pass
    assert _kinds(events) == ["LlmStart", "LlmFirstToken", "LlmContent", "LlmStop"]
    start, first, *contents, stop = events
    assert isinstance(start, LlmStart) and isinstance(first, LlmFirstToken) and isinstance(stop, LlmStop)
    assert (start.operation, start.model_name, start.provider_name) == ("chat", "claude-sonnet-4-5", "anthropic")
    assert start.input.messages[0].text() == "tell me"
    assert first.ttft > 0
    assert "".join(c.content for c in contents if isinstance(c, LlmContent)) == stream.response.text()
    assert stop.finish_reason == "stop" and stop.usage == stream.response.usage and stop.usage is not None
    assert stop.provider_name == "anthropic"


async def test_a_routed_call_reports_its_retries_and_fallbacks_then_the_cost(
    routes_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTE_PRIMARY_KEY", "k1")
    monkeypatch.setenv("OPENAI_API_KEY", "k2")
    events: list[ModelEvent] = []
    async with LocalProviderServer() as server:
        path = routes_file(server)
        server.faults.push(Fault(status=503, times=2))
        async with VlloraLLMClient.from_config(path, max_retries=1, backoff_base=0.001) as client:
            response = await client.completions().create({**REQUEST, "model": "primary"}, events=events.append)
    assert _kinds(events) == ["LlmStart", "Retry", "Fallback", "LlmContent", "LlmStop"]
    start, retry, hop, content, stop = events
    assert isinstance(start, LlmStart) and start.provider_name is None  # a router picks per call
    assert isinstance(retry, Retry) and (retry.provider_name, retry.attempt) == ("openai", 2)
    assert getattr(retry.error, "status", None) == 503
    assert isinstance(hop, Fallback)
    assert (hop.from_provider, hop.from_model, hop.to_provider, hop.to_model) == (
        "openai", "gpt-4.1-mini", "openai", "gpt-4.1-nano")
    assert isinstance(content, LlmContent) and content.content == response.text()
    assert isinstance(stop, LlmStop) and stop.model_name == "gpt-4.1-nano"
    assert response.usage is not None and stop.cost == response.usage.cost and stop.cost is not None


async def test_a_failure_ends_with_the_error_raised() -> None:
    events: list[ModelEvent] = []
    async with LocalProviderServer() as server:
        server.faults.push(Fault(status=400))
        async with VlloraLLMClient.from_provider("openai", api_key="k", base_url=server.openai_base_url,
                                                 max_retries=0, events=events.append) as client:
            with pytest.raises(InvalidRequestError) as raised:
                await client.completions().create(REQUEST)
    assert _kinds(events) == ["LlmStart", "LlmError"]
    assert isinstance(events[1], LlmError) and events[1].error is raised.value


async def test_a_failing_callback_is_logged_and_never_breaks_the_call(caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: ModelEvent) -> None:
        raise ValueError("listener bug")

    seen: list[ModelEvent] = []
    client = VlloraLLMClient.new_with_instance(DummyModelInstance("fine thanks"), events=broken)
    with caplog.at_level(logging.ERROR, logger="vllora_llm"):
        response = await client.completions().create(REQUEST, events=seen.append)
        chunks = [c async for c in client.completions().create_stream(REQUEST)]
    assert response.text() == "fine thanks" and chunks
    assert _kinds(seen) == ["LlmStart", "LlmContent", "LlmStop"]  # the per-call callback still got them all
    failures = [r for r in caplog.records if "model event callback" in r.getMessage()]
    assert {r.getMessage().rsplit(" ", 1)[-1] for r in failures} >= {"LlmStart", "LlmFirstToken", "LlmStop"}
    assert all(r.exc_info and isinstance(r.exc_info[1], ValueError) for r in failures)


async def test_an_event_queue_is_an_async_iterator_for_a_ui() -> None:
    client = VlloraLLMClient.new_with_instance(DummyModelInstance("one two three"))
    queue = EventQueue(until_done=True)

    async def ui() -> list[ModelEvent]:
        return [event async for event in queue]

    reader = asyncio.create_task(ui())
    await asyncio.sleep(0)  # the reader waits before any event exists
    async for _ in client.completions().create_stream(REQUEST, events=queue):
        await asyncio.sleep(0)
    events = await asyncio.wait_for(reader, 5)
    assert _kinds(events) == ["LlmStart", "LlmFirstToken", "LlmContent", "LlmStop"]
    assert "".join(e.content for e in events if isinstance(e, LlmContent)) == "one two three"
    queue(LlmContent("late"))  # ignored once the call it followed is done
    assert [e async for e in queue] == []
