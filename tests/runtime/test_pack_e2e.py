"""Every OpenAI-compatible pack spec round-trips through the public client against the local server."""

from __future__ import annotations

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.testing import LocalProviderServer

# provider → (model, extra client options); Ollama sends no key, so the test adds the header the local
# (OpenAI-shaped) server insists on — the mapping, not the auth, is what is checked here.
PACK = {
    "azure-openai": ("my-gpt-4o", {}),
    "groq": ("llama-3.3-70b-versatile", {}),
    "mistral": ("mistral-large-latest", {}),
    "deepseek": ("deepseek-chat", {}),
    "xai": ("grok-3", {}),
    "together": ("meta-llama/Llama-3.3-70B-Instruct-Turbo", {}),
    "fireworks": ("accounts/fireworks/models/llama-v3p3-70b-instruct", {}),
    "openrouter": ("openai/gpt-4o-mini", {}),
    "ollama": ("llama3.2", {"headers": {"authorization": "Bearer local"}}),
    "vllm": ("Qwen/Qwen2.5-7B-Instruct", {}),
}


@pytest.mark.parametrize("provider", sorted(PACK))
async def test_pack_provider_round_trips(provider: str, server: LocalProviderServer) -> None:
    model, options = PACK[provider]
    base = server.url if provider == "azure-openai" else server.openai_base_url
    request = {"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 40}
    async with VlloraLLMClient.from_provider(provider, api_key="pack-key", base_url=base, **options) as client:
        response = await client.completions().create(request)
        sent = server.last_request
        chunks = [c async for c in client.completions().create_stream(request)]
    assert "You said: ping" in response.text()
    assert response.finish_reason() == "stop"
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == response.text()
    assert sent.json["model"] == model
    if provider == "azure-openai":
        assert sent.path == "/openai/deployments/my-gpt-4o/chat/completions"
        assert sent.headers["api-key"] == "pack-key"
    elif provider != "ollama":
        assert sent.headers["authorization"] == "Bearer pack-key"

