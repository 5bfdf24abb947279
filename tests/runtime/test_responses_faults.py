"""The Responses stream under faults, over real HTTP: leaving early closes the connection, a cut stream raises
the typed `StreamError` (no `completed` event, nothing stored), and what a spec cannot send comes back as a
warning on the response."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from vllora_llm.client import InMemoryResponseStore, VlloraLLMClient
from vllora_llm.engine.errors import StreamError
from vllora_llm.testing import Fault, LocalProviderServer, replay

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings" / "openai"
SSE = "text/event-stream; charset=utf-8"
REQUEST = {"model": "gpt-4o-mini", "input": "hi"}  # on `together`: an OpenAI-shaped chat spec, translated


async def wait_for_disconnect(server: LocalProviderServer, before: int) -> None:
    async with asyncio.timeout(2):
        while server.disconnects == before:
            await asyncio.sleep(0.005)


async def test_leaving_early_closes_the_connection(server: LocalProviderServer) -> None:
    server.faults.push(replay(RECORDINGS / "stream_text_no_usage.sse", content_type=SSE, chunk_size=40, drip_s=0.02))
    async with VlloraLLMClient.from_provider("together", api_key="k-0123456789", base_url=server.openai_base_url) as c:
        async with c.responses().create_stream(REQUEST) as stream:
            async for event in stream:
                if event.type == "response.output_text.delta":
                    break
        await wait_for_disconnect(server, 0)
        assert not stream.done
        with pytest.raises(RuntimeError, match="not ended"):
            _ = stream.response


async def test_cut_stream_is_a_stream_error_and_stores_nothing(server: LocalProviderServer) -> None:
    server.faults.push(Fault(cut_after_chunks=3))
    async with VlloraLLMClient.from_provider("together", api_key="k-0123456789", base_url=server.openai_base_url,
                                             max_retries=0) as client:
        kinds: list[str] = []
        with pytest.raises(StreamError):
            async for event in client.responses().create_stream(REQUEST):
                kinds.append(event.type)
        assert "response.completed" not in kinds
        assert isinstance(client.response_store, InMemoryResponseStore) and len(client.response_store) == 0


async def test_unsent_parameters_come_back_as_warnings(server: LocalProviderServer) -> None:
    async with VlloraLLMClient.from_provider("anthropic", api_key="k-0123456789",
                                             base_url=server.base_url_for("anthropic")) as client:
        response = await client.responses().create({"model": "claude-sonnet-4-5", "input": "hi",
                                                    "reasoning": {"effort": "low"}})
    assert "reasoning_effort" in [w.param for w in response.warnings]
    assert "reasoning_effort" not in server.last_request.json
