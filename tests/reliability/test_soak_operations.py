"""A small soak of mixed chat, embeddings and images calls with faults, over real HTTP: every call ends in its
result or a typed `LLMError` (never a hang or an untyped error), results match what was asked (vectors in
input order, the images asked for), and no connection is left open at the end."""

from __future__ import annotations

import asyncio
import random

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.errors import LLMError
from vllora_llm.testing import Fault, LocalProviderServer
from vllora_llm.tools.testing.wire_operations import vector

CALLS = 150


async def test_mixed_calls_with_faults_are_all_accounted_for() -> None:
    rng = random.Random(19)
    outcomes = {"ok": 0, "typed_error": 0}
    async with LocalProviderServer() as server:
        clients = {
            "openai": VlloraLLMClient.from_provider("openai", api_key="k", base_url=server.base_url_for("openai"),
                                                    backoff_base=0.0, timeout=10),
            "bedrock": VlloraLLMClient.from_provider("bedrock", api_key="k", base_url=server.base_url_for("bedrock"),
                                                     backoff_base=0.0, timeout=10),
        }

        async def one(i: int) -> None:
            kind = i % 3
            texts = [f"text {i} {j}" for j in range(rng.randint(1, 4))]
            try:
                if kind == 0:
                    reply = await clients["openai"].completions().create(
                        {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": f"hi {i}"}]})
                    assert reply.text()
                elif kind == 1:
                    provider = "bedrock" if i % 2 else "openai"
                    model = "amazon.titan-embed-text-v2:0" if provider == "bedrock" else "text-embedding-3-small"
                    result = await clients[provider].embeddings().create({"model": model, "input": texts})
                    assert [e.embedding for e in result.data] == [vector(t) for t in texts]
                else:
                    images = await clients["openai"].images().create({"model": "gpt-image-1", "prompt": "p", "n": 2})
                    assert len(images.data) == 2
                outcomes["ok"] += 1
            except LLMError:
                outcomes["typed_error"] += 1

        for _ in range(CALLS // 15):  # faults queued on the server, taken by whichever calls come next
            server.faults.push(Fault(status=503), Fault(status=429, headers={"retry-after": "0"}))
        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(CALLS))), timeout=120)
        for client in clients.values():
            await client.aclose()
        await asyncio.sleep(0.05)
        assert server.open_connections == 0
    assert outcomes["ok"] + outcomes["typed_error"] == CALLS
    assert outcomes["ok"] >= CALLS * 0.9  # the injected faults are retried
    assert len(server.requests) > CALLS  # fan-out calls and retries
