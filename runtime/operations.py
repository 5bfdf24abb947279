"""Running an operation beside chat (embeddings, images) on a spec-driven instance.

The plan renders the wire requests (one, or one per input when the spec declares `fan_out`); each is sent
with the instance's auth, retries, timeouts and redaction; a fan-out's calls run concurrently (bounded by the
spec's `concurrency`), their answers are combined in input order with usage summed, and the first failure
fails the whole call (the others are cancelled) with its typed error naming the input.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vllora_llm.engine.errors import LLMError
from vllora_llm.engine.gateway import RequestWarning
from vllora_llm.engine.gateway_ops import CreateEmbeddingResponse, OperationInput, OperationResult
from vllora_llm.engine.operations import OperationPlan, combine
from vllora_llm.engine.wire import WireRequest

from .auth import redact, redact_error
from .retry import classify_http_error
from .transport import Response

if TYPE_CHECKING:
    from .instance import ChunkStream, ProviderModelInstance


async def run_operation(
    instance: ProviderModelInstance, operation: str, request: OperationInput, builtins: dict[str, Any] | None = None
) -> OperationResult:
    """`builtins`: the request's plain-data form the client's check produced (the plan renders from it)."""
    plan = instance.plan.operation(operation)  # a spec without it: MappingError, before any I/O
    wires, warnings = plan.encode(request, base_url=instance.plan.resolve_base_url(instance.base_url),
                                  builtins=builtins)
    _redact_warnings(instance, warnings)
    model = request.model

    def decode(response: Response) -> OperationResult:
        return _decoded(instance, plan, model, response)

    if len(wires) == 1:
        results = [await instance.send_decoded(instance.authorize(wires[0]), decode)]
    else:
        results = await _fan_out(instance, plan, model, [instance.authorize(w) for w in wires], decode)
    result = combine(results)
    if warnings:
        result.warnings = [*warnings, *result.warnings]
    if isinstance(result, CreateEmbeddingResponse) and result.model is None:
        result.model = model
    if getattr(result, "provider", None) is None:
        result.provider = instance.plan.name
    return result


async def open_operation_stream(
    instance: ProviderModelInstance, operation: str, request: OperationInput, builtins: dict[str, Any] | None = None
) -> ChunkStream:
    """The streamed call of `operation` (the spec's `stream` endpoint), open: its events decoded by the
    operation's stream decoder, with chat's retries (until the first event), limits and stream timeouts;
    `builtins` as for `run_operation`."""
    plan = instance.plan.operation(operation)
    wires, warnings = plan.encode(request, base_url=instance.plan.resolve_base_url(instance.base_url), stream=True,
                                  builtins=builtins)
    _redact_warnings(instance, warnings)
    return await instance.open_stream_for(instance.authorize(wires[0]), warnings, plan.stream_decoder, "sse")


def _redact_warnings(instance: ProviderModelInstance, warnings: list[RequestWarning]) -> None:
    secrets = instance._secrets
    if warnings and secrets:
        for warning in warnings:
            warning.message = redact(warning.message, secrets)


def _decoded(instance: ProviderModelInstance, plan: OperationPlan, model: str, response: Response) -> OperationResult:
    status, headers, body = response.status, response.headers, response.body
    if not 200 <= status < 300:
        err = classify_http_error(plan.error(model, status, headers, body), status, headers)
        raise redact_error(err, instance._secrets)
    try:
        return plan.decode(model, status, headers, body)
    except LLMError as err:
        instance._describe_answer(err, status, headers, body)
        raise redact_error(err, instance._secrets) from None


async def _fan_out(
    instance: ProviderModelInstance,
    plan: OperationPlan,
    model: str,
    wires: list[WireRequest],
    decode: Callable[[Response], OperationResult],
) -> list[OperationResult]:
    """Every call, at most `concurrency` at a time, results in call order; the first failure cancels the rest."""
    gate = asyncio.Semaphore(plan.concurrency(model))

    async def one(position: int, wire: WireRequest) -> OperationResult:
        async with gate:
            try:
                return await instance.send_decoded(wire, decode)
            except LLMError as err:
                err.message = f"input {position} of {len(wires)} failed: {err.message}"
                raise

    tasks = [asyncio.ensure_future(one(i, wire)) for i, wire in enumerate(wires)]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
