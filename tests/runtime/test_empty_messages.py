"""An empty `messages` list is refused before any I/O, for every shipped provider (every provider's API
rejects it, so sending it only costs a round trip and a less clear error).

The server counts TCP connections: zero must be accepted while the client raises.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.gateway import ChatCompletionRequest
from vllora_llm.engine.registry import builtin_dir, load_plan
from vllora_llm.error import InvalidRequestError

SHIPPED = sorted(p.stem for p in builtin_dir().glob("*.yaml") if not p.stem.endswith(".tests"))


class CountingServer:
    """A TCP server on 127.0.0.1 that only counts the connections it accepts (and closes them)."""

    def __init__(self) -> None:
        self.connections = 0
        self.url = ""

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()


@pytest.fixture
async def server() -> AsyncIterator[CountingServer]:
    counting = CountingServer()
    tcp = await asyncio.start_server(counting._accept, "127.0.0.1", 0)
    port = tcp.sockets[0].getsockname()[1]
    counting.url = f"http://127.0.0.1:{port}"
    async with tcp:
        yield counting


def test_every_shipped_spec_is_covered() -> None:
    assert len(SHIPPED) >= 14 and {"openai", "anthropic", "gemini", "bedrock"} <= set(SHIPPED)


@pytest.mark.parametrize("provider", SHIPPED)
async def test_empty_messages_raise_before_any_connection(provider: str, server: CountingServer) -> None:
    options = {name: "x" for name in load_plan(provider).placeholders}  # e.g. region=
    requests: list[object] = [
        {"model": "some-model", "messages": []},
        ChatCompletionRequest(model="some-model", messages=[]),
        '{"model": "some-model", "messages": []}',
    ]
    async with VlloraLLMClient.from_provider(
        provider, api_key="k-empty-messages", base_url=server.url, max_retries=0, **options
    ) as client:
        for request in requests:
            with pytest.raises(InvalidRequestError) as caught:
                await client.completions().create(request)  # type: ignore[arg-type]
            assert caught.value.path == "messages"
            assert str(caught.value).startswith("messages: must not be empty")
            with pytest.raises(InvalidRequestError, match=r"^messages: must not be empty"):
                await client.completions().create_stream(request)  # type: ignore[arg-type]
    assert server.connections == 0


async def test_the_counter_sees_a_request_that_is_sent(server: CountingServer) -> None:
    from vllora_llm.error import LLMError

    async with VlloraLLMClient.from_provider("openai", api_key="k", base_url=server.url, max_retries=0) as client:
        with pytest.raises(LLMError):  # the server hangs up without answering
            await client.completions().create({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert server.connections == 1
