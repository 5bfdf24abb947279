"""Embeddings and images end to end: the public API over real HTTP to the local provider server on 127.0.0.1,
in OpenAI's, Gemini's and Bedrock's (Titan, Cohere, Nova Canvas, Stability) wire formats; retries, fan-out
failures, routing with fallbacks and cost, the sync facade, and bad input refused before any I/O."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from vllora_llm.client import SyncVlloraLLMClient, VlloraLLMClient
from vllora_llm.engine.errors import InvalidRequestError, MappingError, RateLimitError
from vllora_llm.testing import Fault, LocalProviderServer
from vllora_llm.tools.testing.wire_operations import vector
from vllora_llm.types.gateway import CreateEmbeddingRequest, CreateEmbeddingResponse, CreateImageRequest

TEXTS = ["first text", "second text", "third one"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def no_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)


@pytest.fixture
async def server() -> AsyncIterator[LocalProviderServer]:
    async with LocalProviderServer() as running:
        yield running


def client_for(server: LocalProviderServer, provider: str, **options: object) -> VlloraLLMClient:
    if provider == "bedrock":
        options.setdefault("region", "us-east-1")
    return VlloraLLMClient.from_provider(provider, api_key="local-key", base_url=server.base_url_for(provider),
                                         backoff_base=0.0, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("provider", "model"), [
    ("openai", "text-embedding-3-small"),
    ("gemini", "gemini-embedding-001"),
    ("bedrock", "amazon.titan-embed-text-v2:0"),
    ("bedrock", "cohere.embed-english-v3"),
])
async def test_one_vector_per_input_in_input_order(server: LocalProviderServer, provider: str, model: str) -> None:
    dims = None if model.startswith("cohere") else 16
    async with client_for(server, provider) as client:
        result = await client.embeddings().create(
            CreateEmbeddingRequest(model=model, input=TEXTS, dimensions=dims))
    assert isinstance(result, CreateEmbeddingResponse)
    assert [e.index for e in result.data] == [0, 1, 2]
    assert [e.embedding for e in result.data] == [vector(t, dims or 8) for t in TEXTS]
    assert result.provider == provider and result.model
    if provider != "gemini" and not model.startswith("cohere"):
        assert result.usage is not None and result.usage.prompt_tokens == 6  # summed over Titan's three calls
    if model.startswith("amazon.titan"):
        assert len(server.requests) == 3 and {json.loads(r.body)["inputText"] for r in server.requests} == set(TEXTS)


async def test_a_single_string_input_and_base64_vectors(server: LocalProviderServer) -> None:
    async with client_for(server, "openai") as client:
        result = await client.embeddings().create({"model": "text-embedding-3-small", "input": "hello",
                                                   "encoding_format": "base64", "dimensions": 4})
    [only] = result.data
    assert isinstance(only.embedding, str)  # left as the provider's string, not decoded
    decoded = list(memoryview(base64.b64decode(only.embedding)).cast("f"))
    assert decoded == pytest.approx(vector("hello", 4), abs=1e-6)


@pytest.mark.parametrize(("provider", "model", "n"), [
    ("openai", "gpt-image-1", 2),
    ("gemini", "imagen-4.0-generate-001", 2),
    ("bedrock", "amazon.nova-canvas-v1:0", 2),
    ("bedrock", "amazon.titan-image-generator-v2:0", 1),
    ("bedrock", "stability.sd3-5-large-v1:0", 1),
])
async def test_images_come_back_as_b64_png(server: LocalProviderServer, provider: str, model: str, n: int) -> None:
    async with client_for(server, provider) as client:
        result = await client.images().create(CreateImageRequest(prompt="a red square", model=model, n=n,
                                                                 size="1024x1024"))
    assert len(result.data) == n
    assert all(base64.b64decode(image.b64_json or "").startswith(PNG_MAGIC) for image in result.data)
    if model == "gpt-image-1":
        assert result.usage is not None and result.usage.output_tokens == 544


async def test_a_filtered_stability_image_is_a_typed_error(server: LocalProviderServer) -> None:
    async with client_for(server, "bedrock") as client:
        with pytest.raises(InvalidRequestError, match="Filter reason: prompt"):
            await client.images().create({"model": "stability.sd3-5-large-v1:0", "prompt": "blocked prompt"})


async def test_retries_apply_and_a_fan_out_failure_fails_the_whole_call(server: LocalProviderServer) -> None:
    async with client_for(server, "openai") as client:
        server.faults.push(Fault(status=503))
        result = await client.embeddings().create({"model": "text-embedding-3-small", "input": ["a"]})
        assert len(result.data) == 1 and len(server.requests) == 2
    async with client_for(server, "bedrock", max_retries=0) as client:
        server.reset()
        server.faults.push(Fault(status=429))
        with pytest.raises(RateLimitError, match=r"input \d of 3 failed"):
            await client.embeddings().create({"model": "amazon.titan-embed-text-v2:0", "input": TEXTS})


@pytest.mark.parametrize(("request_", "field"), [
    ({"model": "text-embedding-3-small", "input": []}, "input"),
    ({"model": "text-embedding-3-small", "input": ["a", 1]}, "input[1]"),
    ({"model": "text-embedding-3-small", "input": "a", "dimensions": -3}, "dimensions"),
])
async def test_bad_input_raises_before_any_io(server: LocalProviderServer, request_: dict[str, object],
                                              field: str) -> None:
    async with client_for(server, "openai") as client:
        with pytest.raises(InvalidRequestError) as caught:
            await client.embeddings().create(request_)
        with pytest.raises(InvalidRequestError, match=r"^prompt"):
            await client.images().create({"model": "gpt-image-1", "prompt": ""})
    assert str(caught.value).startswith(field)
    assert server.requests == []


async def test_a_provider_without_the_operation_says_so_before_any_io(server: LocalProviderServer) -> None:
    async with client_for(server, "anthropic") as client:
        with pytest.raises(MappingError, match="anthropic has no embeddings operation"):
            await client.embeddings().create({"model": "claude-sonnet-4-5", "input": "a"})
    assert server.requests == []


async def test_routing_falls_back_and_prices_embeddings(server: LocalProviderServer, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_KEY", "local-key")
    config = tmp_path / "models.yaml"
    config.write_text(f"""
- model: vectors
  inference_provider: {{provider: openai, model_name: text-embedding-3-small}}
  base_url: {server.base_url_for("openai")}
  api_key_env: LOCAL_KEY
  fallbacks: [backup]
- model: backup
  inference_provider: {{provider: gemini, model_name: gemini-embedding-001}}
  base_url: {server.base_url_for("gemini")}
  api_key_env: LOCAL_KEY
- model: priced
  inference_provider: {{provider: openai, model_name: text-embedding-3-small}}
  base_url: {server.base_url_for("openai")}
  api_key_env: LOCAL_KEY
  price: {{per_input_token: 0.02, per_output_token: 0}}
- model: pictures
  inference_provider: {{provider: openai, model_name: dall-e-3}}
  base_url: {server.base_url_for("openai")}
  api_key_env: LOCAL_KEY
  price: {{per_input_token: 0, per_output_token: 0, per_image: {{hd/1024x1024: 0.08, 1024x1024: 0.04}}}}
""")
    async with VlloraLLMClient.from_config(config, max_retries=0) as client:
        server.faults.push(Fault(status=500))
        routed = await client.embeddings().create({"model": "vectors", "input": ["a b"]})
        assert routed.provider == "gemini" and routed.data[0].embedding == vector("a b")
        priced = await client.embeddings().create({"model": "priced", "input": ["a b c"]})
        assert priced.usage is not None and priced.usage.cost == pytest.approx(3 * 0.02 / 1_000_000)
        hd = await client.images().create({"model": "pictures", "prompt": "x", "n": 2, "size": "1024x1024",
                                           "quality": "hd"})
        standard = await client.images().create({"model": "pictures", "prompt": "x", "size": "1024x1024"})
        assert hd.usage is not None and hd.usage.cost == pytest.approx(0.16)  # per image, by quality and size
        assert standard.usage is not None and standard.usage.cost == pytest.approx(0.04)


async def test_warnings_come_back_with_the_response(server: LocalProviderServer) -> None:
    async with client_for(server, "gemini") as client:
        result = await client.embeddings().create({"model": "gemini-embedding-001", "input": "a",
                                                   "encoding_format": "base64", "user": "u1"})
    assert {w.param for w in result.warnings} == {"encoding_format", "user"}


def test_sync_client_embeds_and_generates_through_a_running_server() -> None:
    import asyncio
    import threading

    ready = threading.Event()
    holder: dict[str, object] = {}

    async def serve() -> None:
        async with LocalProviderServer() as running:
            holder["server"] = running
            holder["stop"] = stop = asyncio.Event()
            holder["loop"] = asyncio.get_running_loop()
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready.wait(10)
    running = holder["server"]
    assert isinstance(running, LocalProviderServer)
    try:
        with SyncVlloraLLMClient.from_provider("openai", api_key="k", base_url=running.base_url_for("openai")) as sync:
            vectors = sync.embeddings().create({"model": "text-embedding-3-small", "input": ["x", "y"]})
            images = sync.images().create({"model": "dall-e-3", "prompt": "a cat"})
        assert [e.embedding for e in vectors.data] == [vector("x"), vector("y")]
        assert images.data[0].revised_prompt == "a cat"
    finally:
        loop = holder["loop"]
        assert isinstance(loop, asyncio.AbstractEventLoop)
        loop.call_soon_threadsafe(holder["stop"].set)  # type: ignore[attr-defined]
        thread.join(10)
