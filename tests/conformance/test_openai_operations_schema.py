"""Embeddings and images bodies rendered by the openai spec are accepted by OpenAI's published schemas
(`CreateEmbeddingRequest`, `CreateImageRequest` in tests/recordings/schemas/openai/openapi.yaml, the document
the SDK's `EmbeddingCreateParams` / `ImageGenerateParams` are generated from), and the local server's answers
fit `CreateEmbeddingResponse` / `ImagesResponse` and decode through the plan."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from vllora_llm.engine.gateway_ops import CreateEmbeddingRequest, CreateImageRequest
from vllora_llm.engine.registry import load_plan

from ._support import RECORDINGS
from .test_openai_schema import DOCUMENT_URI, without_nullable

EMBEDDINGS = [
    {"model": "text-embedding-3-small", "input": "one"},
    {"model": "text-embedding-3-large", "input": ["a", "b"], "dimensions": 256, "encoding_format": "base64",
     "user": "u-1"},
]
IMAGES = [
    {"model": "dall-e-3", "prompt": "a cat", "size": "1792x1024", "quality": "hd", "style": "vivid",
     "response_format": "b64_json"},
    {"model": "gpt-image-1", "prompt": "a cat", "n": 2, "size": "1024x1536", "quality": "high",
     "background": "transparent", "output_format": "webp", "moderation": "low"},
]


@pytest.fixture(scope="module")
def schemas() -> dict[str, Draft202012Validator]:
    path = RECORDINGS / "schemas" / "openai" / "openapi.yaml"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    full = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    document = without_nullable({"components": {"schemas": full["components"]["schemas"]}})
    registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(document))
    names = ("CreateEmbeddingRequest", "CreateImageRequest", "CreateEmbeddingResponse", "ImagesResponse")
    return {name: Draft202012Validator({"$ref": f"{DOCUMENT_URI}#/components/schemas/{name}"}, registry=registry)
            for name in names}


def problems(validator: Draft202012Validator, body: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '<body>'}: {e.message[:200]}"
            for e in validator.iter_errors(body)]


@pytest.mark.parametrize("request_", EMBEDDINGS, ids=["string", "all_fields"])
def test_embeddings_body_matches_the_schema(request_: dict[str, Any], schemas: dict[str, Any]) -> None:
    wires, warnings = load_plan("openai").operation("embeddings").encode(
        CreateEmbeddingRequest.coerce(request_), base_url="https://api.openai.com/v1")
    body = json.loads(wires[0].body)
    assert body == request_ and warnings == []  # every unified field is OpenAI's own
    assert problems(schemas["CreateEmbeddingRequest"], body) == []


@pytest.mark.parametrize("request_", IMAGES, ids=["dall_e_3", "gpt_image_1"])
def test_images_body_matches_the_schema(request_: dict[str, Any], schemas: dict[str, Any]) -> None:
    wires, warnings = load_plan("openai").operation("images").encode(
        CreateImageRequest.coerce(request_), base_url="https://api.openai.com/v1")
    body = json.loads(wires[0].body)
    assert body == request_ and warnings == []
    assert problems(schemas["CreateImageRequest"], body) == []


def test_the_schemas_are_not_vacuous(schemas: dict[str, Any]) -> None:
    assert problems(schemas["CreateEmbeddingRequest"], {"model": "m", "input": "a", "encoding_format": "hex"})
    assert problems(schemas["CreateImageRequest"], {"model": "dall-e-3"})


def test_local_server_answers_fit_the_schemas_and_decode(schemas: dict[str, Any]) -> None:
    from aiohttp import ClientSession

    from vllora_llm.testing import LocalProviderServer

    async def fetch() -> tuple[Any, Any]:
        async with LocalProviderServer() as server, ClientSession() as session:
            headers = {"authorization": "Bearer k"}
            url = server.openai_base_url
            floats = {"model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 4}  # (the schema
            async with session.post(url + "/embeddings", json=floats, headers=headers) as r:  # has no base64 form)
                embeddings = await r.json()
            async with session.post(url + "/images/generations", json=IMAGES[1], headers=headers) as r:
                images = await r.json()
            return embeddings, images

    embeddings, images = asyncio.run(fetch())
    assert problems(schemas["CreateEmbeddingResponse"], embeddings) == []
    assert problems(schemas["ImagesResponse"], images) == []
    plan = load_plan("openai")
    decoded = plan.operation("images").decode("gpt-image-1", 200, {}, json.dumps(images).encode())
    assert decoded.usage is not None and decoded.usage.total_tokens == images["usage"]["total_tokens"]
