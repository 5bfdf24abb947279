"""Embeddings and image generation for the local provider server, in each provider's wire format.

OpenAI `POST /v1/embeddings` and `/v1/images/generations`; Gemini `:batchEmbedContents` and Imagen `:predict`;
Bedrock InvokeModel `POST /model/{modelId}/invoke`, answered by model family (Titan Text Embeddings, Cohere
Embed, Titan Image / Nova Canvas, Stability). Vectors are deterministic (a hash of the text, so the same input
always gives the same vector and tests can check the order); images are one small valid PNG. Requests are
checked the way each API checks them (required fields, one text per Titan call, Cohere's `input_type`).
"""

from __future__ import annotations

import base64
import hashlib
import struct
import time
import zlib
from typing import Any

from aiohttp import web

from vllora_llm.tools.testing import wire_converse, wire_gemini, wire_openai
from vllora_llm.tools.testing.responder import Call, JsonReply, WireError, add_route

DEFAULT_DIMENSIONS = 8


def vector(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """The deterministic embedding of `text`: values in [-1, 1) from SHA-256 of the text (and the position)."""
    out: list[float] = []
    block = 0
    while len(out) < dimensions:
        digest = hashlib.sha256(f"{block}\x00{text}".encode()).digest()
        out.extend(round(b / 128.0 - 1.0, 6) for b in digest)
        block += 1
    return out[:dimensions]


def tokens(text: str) -> int:
    return max(1, len(text.split()))


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)  # 2x2, 8-bit RGB
    pixels = b"".join(b"\x00" + b"\x40\x80\xc0" * 2 for _ in range(2))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b"")


PNG_BASE64 = base64.b64encode(_png()).decode()
"""A valid 2x2 PNG, base64: what every image call answers."""


def register(app: web.Application) -> None:
    add_route(app, "POST", "/v1/embeddings", wire_openai.WIRE, openai_embeddings)
    add_route(app, "POST", "/v1/images/generations", wire_openai.WIRE, openai_images)
    add_route(app, "POST", "/v1beta/models/{model}:batchEmbedContents", wire_gemini.WIRE, gemini_embeddings)
    add_route(app, "POST", "/v1beta/models/{model}:predict", wire_gemini.WIRE, gemini_predict)
    add_route(app, "POST", "/model/{modelId}/invoke", wire_converse.WIRE, bedrock_invoke)


def _object(call: Call) -> dict[str, Any]:
    body = call.json
    if not isinstance(body, dict):
        raise WireError(400, "the request body must be a JSON object")
    return body


async def openai_embeddings(call: Call) -> JsonReply:
    body = _object(call)
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not body.get("model") or not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise WireError(400, "'input' must be a string or a non-empty array of strings", param="input")
    size = int(body.get("dimensions") or DEFAULT_DIMENSIONS)
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for i, text in enumerate(texts):
        values = vector(text, size)
        embedding: Any = base64.b64encode(struct.pack(f"<{size}f", *values)).decode() if as_base64 else values
        data.append({"object": "embedding", "index": i, "embedding": embedding})
    used = sum(tokens(t) for t in texts)
    return JsonReply({"object": "list", "data": data, "model": body["model"],
                      "usage": {"prompt_tokens": used, "total_tokens": used}})


async def openai_images(call: Call) -> JsonReply:
    body = _object(call)
    if not isinstance(body.get("prompt"), str) or not body["prompt"]:
        raise WireError(400, "'prompt' is required", param="prompt")
    n = int(body.get("n") or 1)
    item: dict[str, Any] = {"url": f"https://images.local/{call.sequence}.png"} if body.get(
        "response_format") == "url" else {"b64_json": PNG_BASE64}
    if str(body.get("model", "")).startswith("dall-e-3"):
        item["revised_prompt"] = body["prompt"]
    reply: dict[str, Any] = {"created": int(time.time()), "data": [dict(item) for _ in range(n)]}
    if str(body.get("model", "")).startswith("gpt-image"):
        used = tokens(body["prompt"])
        reply["usage"] = {"input_tokens": used, "output_tokens": 272 * n, "total_tokens": used + 272 * n,
                          "input_tokens_details": {"text_tokens": used, "image_tokens": 0}}
    return JsonReply(reply)


def _gemini_auth(call: Call) -> None:
    if not (call.headers.get("x-goog-api-key", "").strip() or call.recorded.query.get("key")):
        raise WireError(403, "Method doesn't allow unregistered callers (callers without established identity).")


async def gemini_embeddings(call: Call) -> JsonReply:
    _gemini_auth(call)
    model = call.request.match_info["model"]
    requests = _object(call).get("requests")
    if not isinstance(requests, list) or not requests:
        raise WireError(400, "* BatchEmbedContentsRequest.requests: must not be empty")
    out = []
    for i, entry in enumerate(requests):
        if entry.get("model") != f"models/{model}":
            raise WireError(400, f"* BatchEmbedContentsRequest.requests[{i}].model: must be models/{model}")
        parts = (entry.get("content") or {}).get("parts") or []
        text = "".join(p.get("text", "") for p in parts)
        out.append({"values": vector(text, int(entry.get("outputDimensionality") or DEFAULT_DIMENSIONS))})
    return JsonReply({"embeddings": out})


async def gemini_predict(call: Call) -> JsonReply:
    _gemini_auth(call)
    body = _object(call)
    instances = body.get("instances")
    if not isinstance(instances, list) or not instances or not instances[0].get("prompt"):
        raise WireError(400, "* PredictRequest.instances[0].prompt: is required")
    count = int((body.get("parameters") or {}).get("sampleCount") or 4)
    return JsonReply({"predictions": [{"bytesBase64Encoded": PNG_BASE64, "mimeType": "image/png"}] * count})


async def bedrock_invoke(call: Call) -> JsonReply:
    wire_converse._check_auth(call.headers)
    model = call.request.match_info["modelId"]
    body = _object(call)
    if model.startswith("amazon.titan-embed"):
        text = body.get("inputText")
        if not isinstance(text, str) or not text:
            raise wire_converse.wire_error(400, "Malformed input request: #: required key [inputText] not found")
        return JsonReply({"embedding": vector(text, int(body.get("dimensions") or DEFAULT_DIMENSIONS)),
                          "inputTextTokenCount": tokens(text)})
    if model.startswith("cohere.embed"):
        texts = body.get("texts")
        if body.get("input_type") not in ("search_document", "search_query", "classification", "clustering"):
            raise wire_converse.wire_error(400, "Malformed input request: #: required key [input_type] not found")
        if not isinstance(texts, list) or not 0 < len(texts) <= 96:
            raise wire_converse.wire_error(400, "Malformed input request: #/texts: expected 1 to 96 texts")
        return JsonReply({"id": f"local-{call.sequence}", "response_type": "embeddings_floats", "texts": texts,
                          "embeddings": [vector(t) for t in texts]})
    if model.startswith(("amazon.titan-image", "amazon.nova-canvas")):
        if body.get("taskType") != "TEXT_IMAGE" or not (body.get("textToImageParams") or {}).get("text"):
            raise wire_converse.wire_error(400, "Malformed input request: TEXT_IMAGE needs textToImageParams.text")
        count = int((body.get("imageGenerationConfig") or {}).get("numberOfImages") or 1)
        return JsonReply({"images": [PNG_BASE64] * count, "error": None})
    if model.startswith("stability."):
        if not body.get("prompt"):
            raise wire_converse.wire_error(400, "Malformed input request: #: required key [prompt] not found")
        if "blocked" in str(body["prompt"]):
            return JsonReply({"seeds": [0], "finish_reasons": ["Filter reason: prompt"], "images": []})
        return JsonReply({"seeds": [1234], "finish_reasons": [None], "images": [PNG_BASE64]})
    raise wire_converse.wire_error(404, "The provided model identifier is invalid.",
                                   error_type="ResourceNotFoundException")
