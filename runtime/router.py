"""The router: one `ModelInstance` that picks a provider per request, with fallbacks and cost.

`request.model` names an entry of the routing config (the gateway's models.yaml), or is a
`provider/model` id that needs no config at all. Targets are tried in order — the entry, then its
`fallbacks` — moving on after a retryable error (once that target's own retries are spent) or an error
whose class the entry lists in `fallback_on`; never once a stream chunk reached the caller. Each hop is
logged; the response's `provider` and `model` say which target answered, and where the config prices the
model, `usage.cost` (USD) is set on the response and on the stream's usage chunk.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from vllora_llm.engine.errors import LLMError
from vllora_llm.engine.gateway import (
    ChatCompletionChunk,
    ChatCompletionMessageWithFinishReason,
    ChatCompletionRequest,
)
from vllora_llm.engine.gateway_ops import (
    CreateEmbeddingResponse,
    ImagesResponse,
    ImagesUsage,
    OperationInput,
    OperationRequest,
    OperationResult,
)
from vllora_llm.engine.routing import (
    ModelEntry,
    Price,
    RoutingConfig,
    cost_of,
    image_cost,
    parse_model_id,
    unknown_model_error,
)

from .instance import ChunkStream, ProviderModelInstance, StreamOpeningInstance
from .observe import CURRENT

if TYPE_CHECKING:
    from vllora_llm.engine.params import Policy

logger = logging.getLogger("vllora_llm")


@dataclass(frozen=True, slots=True)
class Target:
    """One place a request can go: a provider spec, the provider's model name, and how to reach it."""

    provider: str
    model_name: str
    base_url: str | None = None
    api_key_env: str | None = None
    api_version: str | None = None
    price: Price | None = None
    defaults: tuple[tuple[str, Any], ...] = ()
    fallback_on: tuple[str, ...] = ()

    @classmethod
    def from_entry(cls, entry: ModelEntry) -> Target:
        return cls(
            provider=entry.inference_provider.provider,
            model_name=entry.inference_provider.model_name,
            base_url=entry.target_base_url,
            api_key_env=entry.api_key_env,
            api_version=entry.api_version,
            price=entry.price,
            defaults=tuple((entry.defaults or {}).items()),
            fallback_on=tuple(entry.fallback_on),
        )


class RouterModelInstance(StreamOpeningInstance):
    """Routes each request by its model to provider instances built on first use and then reused."""

    def __init__(
        self,
        config: RoutingConfig | None = None,
        *,
        spec_path: Sequence[str | Path] = (),
        environ: Mapping[str, str] | None = None,
        **instance_options: Any,
    ) -> None:
        self.config = config
        self._spec_path = tuple(spec_path)
        self._environ = environ if environ is not None else os.environ
        self._options = instance_options
        self._instances: dict[tuple[str, str | None, str | None, str | None], ProviderModelInstance] = {}
        self.mcp_defaults: dict[str, Any] = {
            model: entry.defaults["mcp_servers"]
            for model, entry in (config.entries.items() if config is not None else ())
            if entry.defaults and entry.defaults.get("mcp_servers")
        }
        """Each route's `defaults.mcp_servers`: read by the client's tool loop before the request is routed."""

    def __repr__(self) -> str:
        routes = len(self.config.entries) if self.config else 0
        return f"RouterModelInstance({routes} routes)"

    def targets(self, model: str) -> list[Target]:
        if self.config is not None and model in self.config.entries:
            return [Target.from_entry(entry) for entry in self.config.chain(model)]
        parsed = parse_model_id(model)
        if parsed is None:
            raise unknown_model_error(model, self.config)
        return [Target(provider=parsed[0], model_name=parsed[1])]

    def unsupported_policy(self, model: str) -> Policy:
        """The first target's (the one every call tries first)."""
        target = self.targets(model)[0]
        return self._instance(target).unsupported_policy(target.model_name)

    def _instance(self, target: Target) -> ProviderModelInstance:
        key = (target.provider, target.base_url, target.api_key_env, target.api_version)
        found = self._instances.get(key)
        if found is None:
            from vllora_llm.engine.registry import load_plan

            api_key = self._environ.get(target.api_key_env) if target.api_key_env else None
            found = ProviderModelInstance(
                load_plan(target.provider, self._spec_path, target.api_version)
                .bind(None, self._environ),  # {placeholders} from env
                api_key=api_key,
                base_url=target.base_url,
                environ=self._environ,
                **self._options,
            )
            self._instances[key] = found
        return found

    @staticmethod
    def _request_for(
        request: ChatCompletionRequest, target: Target, builtins: dict[str, Any] | None
    ) -> tuple[ChatCompletionRequest, dict[str, Any] | None]:
        """The request `target` gets, and its plain-data form when `builtins` (the client's check of `request`)
        gives it without converting again: a target without defaults only renames the model. A target with
        defaults validates the request they make (`from_dict`), which its instance converts itself."""
        if not target.defaults:
            routed = msgspec.structs.replace(request, model=target.model_name)
            return routed, None if builtins is None else {**builtins, "model": target.model_name}
        data = dict(builtins) if builtins is not None else request.to_dict()  # (read only: a new top level)
        for name, value in target.defaults:
            data.setdefault(name, value)
        data["model"] = target.model_name
        return ChatCompletionRequest.from_dict(data), None

    @staticmethod
    def _should_fall_back(err: LLMError, target: Target) -> bool:
        return err.retryable or type(err).__name__ in target.fallback_on

    def _hop(self, model: str, target: Target, err: LLMError, following: list[Target]) -> None:
        logger.warning(
            "route %s: %s/%s failed (%s); trying the next of %d target(s)",
            model,
            target.provider,
            target.model_name,
            type(err).__name__,
            len(following),
        )
        observation = CURRENT.get()
        if observation is not None:
            after = following[0]
            observation.fallback((target.provider, target.model_name), (after.provider, after.model_name), err)

    async def complete(self, request: ChatCompletionRequest) -> ChatCompletionMessageWithFinishReason:
        return await self.complete_validated(request, None)

    async def complete_validated(
        self, request: ChatCompletionRequest, builtins: dict[str, Any] | None
    ) -> ChatCompletionMessageWithFinishReason:
        """`builtins` (the client's check of `request`) goes to the first target, whose plan renders from it as
        a direct call does (the request converted once); a fallback converts its own (the first plan may have
        changed what the plain data holds)."""
        targets = self.targets(request.model)
        for position, target in enumerate(targets):
            try:
                routed, plain = self._request_for(request, target, builtins)
                builtins = None
                response = await self._instance(target).complete_validated(routed, plain)
            except LLMError as err:
                if position + 1 < len(targets) and self._should_fall_back(err, target):
                    self._hop(request.model, target, err, targets[position + 1:])
                    continue
                raise
            response.provider = target.provider
            if response.model is None:
                response.model = target.model_name
            if target.price is not None and response.usage is not None:
                response.usage.cost = cost_of(response.usage, target.price)
            return response
        raise AssertionError("unreachable: a route always has at least one target")

    async def run_operation(self, operation: str, request: OperationInput) -> OperationResult:
        """Embeddings and images routed like chat: the entry's targets in order, cost where priced."""
        targets = self.targets(request.model)
        for position, target in enumerate(targets):
            try:
                routed = OperationRequest.coerce_as(request, target.model_name, target.defaults)
                result = await self._instance(target).run_operation(operation, routed)
            except LLMError as err:
                if position + 1 < len(targets) and self._should_fall_back(err, target):
                    self._hop(request.model, target, err, targets[position + 1:])
                    continue
                raise
            result.provider = target.provider
            if target.price is not None:
                _price_operation(result, routed, target.price)
            return result
        raise AssertionError("unreachable: a route always has at least one target")

    def serves(self, operation: str, model: str) -> bool:
        """Natively only when every target of the route does (a route mixing native and translated targets is
        served through chat, where its fallbacks apply to every target alike)."""
        try:
            targets = self.targets(model)
        except LLMError:
            return False
        return all(self._instance(target).serves(operation, target.model_name) for target in targets)

    async def open_operation_stream(self, operation: str, request: OperationInput) -> ChunkStream:
        """A streamed operation routed like a chat stream: the next target only before anything was read."""
        targets = self.targets(request.model)
        for position, target in enumerate(targets):
            try:
                routed = OperationRequest.coerce_as(request, target.model_name, target.defaults)
                inner = await self._instance(target).open_operation_stream(operation, routed)
            except LLMError as err:
                if position + 1 < len(targets) and self._should_fall_back(err, target):
                    self._hop(request.model, target, err, targets[position + 1:])
                    continue
                raise
            inner.provider = target.provider
            return inner
        raise AssertionError("unreachable: a route always has at least one target")

    async def open_stream(self, request: ChatCompletionRequest) -> ChunkStream:
        return await self.open_stream_validated(request, None)

    async def open_stream_validated(
        self, request: ChatCompletionRequest, builtins: dict[str, Any] | None
    ) -> ChunkStream:
        """`builtins` as for `complete_validated`."""
        targets = self.targets(request.model)
        for position, target in enumerate(targets):
            try:
                routed, plain = self._request_for(request, target, builtins)
                builtins = None
                inner = await self._instance(target).open_stream_validated(routed, plain)
            except LLMError as err:
                if position + 1 < len(targets) and self._should_fall_back(err, target):
                    self._hop(request.model, target, err, targets[position + 1:])
                    continue
                raise
            return _PricedChunkStream(inner, target)
        raise AssertionError("unreachable: a route always has at least one target")

    async def aclose(self) -> None:
        for instance in self._instances.values():
            await instance.aclose()
        self._instances.clear()


def _price_operation(result: OperationResult, request: OperationInput, price: Price) -> None:
    """`usage.cost`: embeddings per input token, images per image (by quality and size) where priced."""
    if isinstance(result, CreateEmbeddingResponse):
        if result.usage is not None:
            result.usage.cost = result.usage.prompt_tokens * price.per_input_token / 1_000_000
        return
    if not isinstance(result, ImagesResponse):
        return  # (a Responses usage has no cost field)
    size = getattr(request, "size", None)
    quality = getattr(request, "quality", None)
    cost = image_cost(len(result.data), price, size, quality)
    if cost is not None:
        if result.usage is None:
            result.usage = ImagesUsage()
        result.usage.cost = cost


class _PricedChunkStream(ChunkStream):
    """Passes chunks through; adds `cost` to the usage chunk when the target has a price."""

    def __init__(self, inner: ChunkStream, target: Target) -> None:
        self._inner = inner
        self._price = target.price
        self.warnings = inner.warnings
        self.target = target
        self.provider = target.provider  # who answered, as `complete` sets it on a whole response
        self.model = target.model_name

    async def __anext__(self) -> ChatCompletionChunk:
        chunk = await self._inner.__anext__()
        if self._price is not None and chunk.usage is not None:
            chunk.usage.cost = cost_of(chunk.usage, self._price)
        return chunk

    async def aclose(self) -> None:
        await self._inner.aclose()

    def close(self) -> None:
        self._inner.close()
