"""What the GenAI conventions record for the operations beside chat: `embeddings` (its own operation name; input
tokens only, the requested dimension count and encoding) and image generation (`generate_content`, the
conventions' name for multimodal generation, with `gen_ai.output.type: image` and the requested image count).
Usage and the routed cost come from the response; content is the prompt or the inputs (opt-in).
"""

from __future__ import annotations

from typing import Any

from vllora_llm.engine.gateway import Usage
from vllora_llm.engine.gateway_ops import (
    CreateEmbeddingRequest,
    CreateEmbeddingResponse,
    CreateImageRequest,
    ImagesResponse,
)

from .observe import Attributes, Observation, Operation

__all__ = ["EMBEDDINGS", "IMAGES", "finish_embeddings", "finish_images"]


def _embeddings_attributes(request: CreateEmbeddingRequest, stream: bool) -> Attributes:
    attributes: Attributes = {"gen_ai.request.encoding_formats": [request.encoding_format or "float"]}
    if request.dimensions is not None:
        attributes["gen_ai.embeddings.dimension.count"] = request.dimensions
    return attributes


def _embeddings_content(request: CreateEmbeddingRequest) -> dict[str, Any]:
    texts = [request.input] if isinstance(request.input, str) else request.input
    return {"gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": text}]}
                                      for text in texts]}


def _images_attributes(request: CreateImageRequest, stream: bool) -> Attributes:
    attributes: Attributes = {"gen_ai.output.type": "image"}
    if request.n is not None and request.n != 1:
        attributes["gen_ai.request.choice.count"] = request.n
    return attributes


def _images_content(request: CreateImageRequest) -> dict[str, Any]:
    return {"gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": request.prompt}]}]}


def finish_embeddings(observation: Observation, result: CreateEmbeddingResponse) -> None:
    usage = result.usage
    observation.finish(response_model=result.model, usage=None if usage is None else Usage(
        prompt_tokens=usage.prompt_tokens, total_tokens=usage.total_tokens, cost=usage.cost))


def finish_images(observation: Observation, result: ImagesResponse) -> None:
    usage = result.usage
    observation.finish(usage=None if usage is None else Usage(
        prompt_tokens=usage.input_tokens, completion_tokens=usage.output_tokens, total_tokens=usage.total_tokens,
        cost=usage.cost))


EMBEDDINGS = Operation("embeddings", _embeddings_attributes, _embeddings_content, output_tokens=False)
IMAGES = Operation("generate_content", _images_attributes, _images_content)
