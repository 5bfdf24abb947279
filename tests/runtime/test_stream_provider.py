"""A stream says who answered: `stream.response.provider` (and `model`), as a whole response does.

Direct streams name their spec; routed streams name the target that answered, also after a fallback to a
provider of another wire format.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vllora_llm.client import VlloraLLMClient
from vllora_llm.testing import Fault, LocalProviderServer

REQUEST = {"model": "m-1", "messages": [{"role": "user", "content": "hello"}]}


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "bedrock"])
async def test_a_direct_stream_names_its_provider(provider: str) -> None:
    async with LocalProviderServer() as server, VlloraLLMClient.from_provider(
        provider, api_key="k-stream-provider", base_url=server.base_url_for(provider)
    ) as client:
        whole = await client.completions().create(REQUEST)
        stream = client.completions().create_stream(REQUEST)
        async for _ in stream:
            pass
    assert whole.provider == provider
    assert stream.response.provider == provider
    assert stream.response.model == whole.model


def _routes(tmp_path: Path, server: LocalProviderServer) -> Path:
    entries = [
        {"model": "main", "inference_provider": {"provider": "openai", "model_name": "gpt-main",
                                                  "endpoint": server.openai_base_url},
         "fallbacks": ["spare"]},
        {"model": "spare", "inference_provider": {"provider": "anthropic", "model_name": "claude-spare",
                                                   "endpoint": server.base_url_for("anthropic")}},
    ]
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(entries))
    return path


async def test_a_routed_stream_names_the_target_that_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k-openai-route")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k-anthropic-route")
    request = {**REQUEST, "model": "main"}
    async with LocalProviderServer() as server:
        async with VlloraLLMClient.from_config(_routes(tmp_path, server), max_retries=0) as client:
            direct = client.completions().create_stream(request)
            async for _ in direct:
                pass
            server.faults.push(Fault(status=503, times=1))
            after_fallback = client.completions().create_stream(request)
            async for _ in after_fallback:
                pass
            whole = await client.completions().create(request)
        paths = [r.path for r in server.requests]
    assert (direct.response.provider, direct.response.model) == ("openai", "gpt-main")
    assert paths == ["/v1/chat/completions", "/v1/chat/completions", "/v1/messages", "/v1/chat/completions"]
    assert (after_fallback.response.provider, after_fallback.response.model) == ("anthropic", "claude-spare")
    assert (whole.provider, whole.model) == ("openai", "gpt-main")
