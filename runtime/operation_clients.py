"""The operation clients beside chat (`client.embeddings()`, `client.images()`): each checks its request, runs
the operation on the model instance inside its observation (when someone listens) and finishes it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from vllora_llm.engine.gateway_ops import (
    CreateEmbeddingRequest,
    CreateEmbeddingResponse,
    CreateImageRequest,
    ImagesResponse,
    OperationRequest,
    OperationResult,
)

from .model_instance import ModelInstance
from .observe import Observation, Operation, observe
from .otel import Telemetry
from .transport import Timeouts, call_timeouts

if TYPE_CHECKING:
    from .events import EventCallback

__all__ = ["EmbeddingsClient", "ImagesClient"]


class _OperationClient:
    """What the operation sub-clients share: the model instance, and who observes their calls."""

    __slots__ = ("_instance", "_listeners", "_telemetry")

    def __init__(self, instance: ModelInstance, telemetry: Telemetry | None = None,
                 listeners: tuple[EventCallback, ...] = ()) -> None:
        self._instance = instance
        self._telemetry = telemetry or Telemetry()
        self._listeners = listeners


class EmbeddingsClient(_OperationClient):
    """Embeddings against one model instance: one vector per input, in input order, for every provider.
    Observed like chat (an `embeddings` span, metrics, model events) when someone listens."""

    __slots__ = ()

    async def create(
        self, request: CreateEmbeddingRequest | dict[str, Any] | bytes | str, *, timeout: Timeouts | float | None = None
    ) -> CreateEmbeddingResponse:
        """`request` checked (`InvalidRequestError` naming the field) before any I/O; `timeout` as `create()`."""
        from .genai_ops import EMBEDDINGS, finish_embeddings

        coerced, builtins = CreateEmbeddingRequest.coerce_with_builtins(request)
        result = await _run_operation(self._instance, self._telemetry, self._listeners, EMBEDDINGS, coerced, timeout,
                                      builtins)
        return cast(CreateEmbeddingResponse, _finished(result, finish_embeddings))


class ImagesClient(_OperationClient):
    """Image generation against one model instance (`b64_json` from every provider, `url` where offered).
    Observed like chat (a `generate_content` span, metrics, model events) when someone listens."""

    __slots__ = ()

    async def create(
        self, request: CreateImageRequest | dict[str, Any] | bytes | str, *, timeout: Timeouts | float | None = None
    ) -> ImagesResponse:
        """`request` checked (`InvalidRequestError` naming the field) before any I/O; `timeout` as `create()`."""
        from .genai_ops import IMAGES, finish_images

        coerced, builtins = CreateImageRequest.coerce_with_builtins(request)
        result = await _run_operation(self._instance, self._telemetry, self._listeners, IMAGES, coerced, timeout,
                                      builtins)
        return cast(ImagesResponse, _finished(result, finish_images))


async def _run_operation(
    instance: ModelInstance,
    telemetry: Telemetry,
    listeners: tuple[EventCallback, ...],
    operation: Operation,
    request: OperationRequest,
    timeout: Timeouts | float | None,
    builtins: dict[str, Any] | None,
) -> tuple[OperationResult, Observation | None]:
    """Run `request`'s operation on `instance`, inside its observation (None when nobody listens), which the
    caller finishes with the result; a failure ends it here. `builtins`: the plain-data form checking the
    request produced, rendered from instead of converting the request again."""
    observation = observe(telemetry, listeners, operation, request.model, request, stream=False,
                          provider_name=instance.otel_provider_name)
    with call_timeouts(timeout) if timeout is not None else contextlib.nullcontext():
        if observation is None:
            return await instance.run_operation_validated(request.operation, request, builtins), None
        try:
            with observation.active():  # retries, fallbacks and the target report to this call
                return await instance.run_operation_validated(request.operation, request, builtins), observation
        except BaseException as err:
            observation.fail(err)
            raise


def _finished(run: tuple[OperationResult, Observation | None], finish: Callable[[Any, Any], None]) -> OperationResult:
    result, observation = run
    if observation is not None:
        finish(observation, result)
    return result
