"""Provider API versions chosen by the client (`from_provider(..., api_version=...)`, issue #22), over real HTTP
to the local server: each version's differences come from the spec's `versions:` block, the default stays the
spec's own, and an undeclared version is a typed error before any I/O."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.versions import declared_versions
from vllora_llm.error import MappingError
from vllora_llm.testing import LocalProviderServer

HELLO = {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 16}


async def test_anthropic_2026_version_sends_bearer_and_its_header(server: LocalProviderServer) -> None:
    base = server.base_url_for("anthropic")
    async with VlloraLLMClient.from_provider("anthropic", api_key="sk-ant-test-key-0001", base_url=base,
                                             api_version="2026-10-21") as client:
        answer = await client.completions().create({**HELLO, "model": "claude-sonnet-4-5"})
    assert answer.message().content is not None
    sent = server.last_request.headers
    assert sent["anthropic-version"] == "2026-10-21"
    assert sent["authorization"] == "Bearer sk-ant-test-key-0001"
    assert "x-api-key" not in sent


async def test_anthropic_default_version_is_unchanged(server: LocalProviderServer) -> None:
    base = server.base_url_for("anthropic")
    async with VlloraLLMClient.from_provider("anthropic", api_key="sk-ant-test-key-0001", base_url=base) as client:
        await client.completions().create({**HELLO, "model": "claude-sonnet-4-5"})
    sent = server.last_request.headers
    assert sent["anthropic-version"] == "2023-06-01"
    assert sent["x-api-key"] == "sk-ant-test-key-0001"
    assert "authorization" not in sent


@pytest.mark.parametrize(("version", "segment"), [(None, "/v1beta/"), ("v1", "/v1/")])
async def test_gemini_version_picks_the_path(server: LocalProviderServer, version: str | None, segment: str) -> None:
    base = server.base_url_for("gemini")
    async with VlloraLLMClient.from_provider("gemini", api_key="g-test-key-0001", base_url=base,
                                             api_version=version) as client:
        await client.completions().create({**HELLO, "model": "gemini-2.5-flash"})
        chunks = [chunk async for chunk in client.completions().create_stream({**HELLO, "model": "gemini-2.5-flash"})]
        assert chunks
    paths = [request.path for request in server.state.requests[-2:]]
    assert paths == [f"{segment}models/gemini-2.5-flash:generateContent",
                     f"{segment}models/gemini-2.5-flash:streamGenerateContent"]


def test_an_undeclared_version_is_a_typed_error_naming_the_declared_ones() -> None:
    with pytest.raises(MappingError) as caught:
        VlloraLLMClient.from_provider("anthropic", api_key="k", api_version="2026-10-12")
    message = str(caught.value)
    assert "2023-06-01" in message and "2026-10-21" in message
    assert "did you mean '2026-10-21'" in message


def test_declared_versions_lists_the_default_first() -> None:
    spec = {"metadata": {"name": "x", "api_version": "a"}, "versions": {"b": {}, "c": {"note": "n"}}}
    assert declared_versions(spec) == ["a", "b", "c"]


async def test_a_routing_entry_chooses_its_api_version(tmp_path: Path, server: LocalProviderServer) -> None:
    entries = [{"model": f"gemini-{version or 'default'}", "api_key_env": "ROUTE_GEMINI_KEY",
                "inference_provider": {"provider": "gemini", "model_name": "gemini-2.5-flash",
                                       "endpoint": server.base_url_for("gemini")},
                **({"api_version": version} if version else {})} for version in ("v1", None)]
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(entries))
    async with VlloraLLMClient.from_config(path, environ={"ROUTE_GEMINI_KEY": "g-test-key-0001"}) as client:
        await client.completions().create({**HELLO, "model": "gemini-v1"})
        await client.completions().create({**HELLO, "model": "gemini-default"})
    assert [request.path for request in server.state.requests[-2:]] == [
        "/v1/models/gemini-2.5-flash:generateContent", "/v1beta/models/gemini-2.5-flash:generateContent"]
