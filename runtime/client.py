"""The async client (the crate's `VlloraLLMClient`): a thin, typed front over one `ModelInstance`.

It accepts requests as the typed struct, a dict in OpenAI's JSON shape, or JSON text, and hands streams back
as a `ResultStream` that can be iterated directly, awaited (to surface HTTP errors before the first chunk)
or used as an async context manager, and that aggregates what it yielded into the whole response.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Generator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeAlias, cast

from vllora_llm.engine.aggregate import StreamAggregator
from vllora_llm.engine.gateway import (
    ChatCompletionChunk,
    ChatCompletionMessageWithFinishReason,
    ChatCompletionRequest,
    RequestWarning,
)
from vllora_llm.engine.gateway_ops import (
    CreateEmbeddingRequest,
    CreateEmbeddingResponse,
    CreateImageRequest,
    ImagesResponse,
)

from .instance import ChunkStream, ModelInstance, ProviderModelInstance
from .transport import Timeouts, call_timeouts

__all__ = ["CompletionsClient", "EmbeddingsClient", "ImagesClient", "RequestLike", "ResultStream", "VlloraLLMClient"]

RequestLike: TypeAlias = ChatCompletionRequest | dict[str, Any] | bytes | str
"""Anything `ChatCompletionRequest.coerce` accepts."""


class ResultStream:
    """One streamed completion. Three ways to use it::

        async for chunk in completions.create_stream(req): ...       # opens lazily
        stream = await completions.create_stream(req)                  # opens now: HTTP errors raise here
        async with completions.create_stream(req) as stream: ...       # opens now, always closes

    When the chunks are exhausted, `response` (or `aggregate()`) is the whole message. Leaving early (break,
    an exception, cancellation, `aclose()`) closes the HTTP response at once instead of draining it.
    `timeout` (a `Timeouts` or seconds) replaces the client's timeouts for this stream, retries included.
    """

    __slots__ = (
        "_aggregator", "_chunks", "_closed", "_done", "_instance", "_pending", "_request", "_result", "_timeout",
    )

    def __init__(
        self, instance: ModelInstance, request: ChatCompletionRequest, timeout: Timeouts | float | None = None
    ) -> None:
        self._instance = instance
        self._request = request
        self._timeout = None if timeout is None else Timeouts.coerce(timeout)
        self._chunks: ChunkStream | None = None
        self._pending: deque[ChatCompletionChunk] | None = None
        """The chunk stream's queue of decoded chunks, when it shows one (`pending`): popped here directly,
        not through a `ready()` call per chunk."""
        self._aggregator = StreamAggregator()
        self._result: ChatCompletionMessageWithFinishReason | None = None
        self._done = False
        self._closed = False

    async def _open(self) -> ChunkStream:
        if self._chunks is None:
            if self._closed:
                raise RuntimeError("this stream was closed before it was opened")
            with call_timeouts(self._timeout):
                self._chunks = await self._instance.open_stream(self._request)
            pending = getattr(self._chunks, "pending", None)
            self._pending = pending if isinstance(pending, deque) else None
        return self._chunks

    async def _opened(self) -> ResultStream:
        await self._open()
        return self

    def __await__(self) -> Generator[Any, None, ResultStream]:
        return self._opened().__await__()

    async def __aenter__(self) -> ResultStream:
        return await self._opened()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> ResultStream:
        return self

    async def __anext__(self) -> ChatCompletionChunk:
        if self._done or self._closed:
            raise StopAsyncIteration
        chunks = self._chunks
        if chunks is None:  # opened once; not an extra await per chunk
            chunks = await self._open()
        pending = self._pending
        chunk: ChatCompletionChunk | None
        if pending:  # most chunks were decoded from the same read as the one before
            chunk = pending.popleft()
        else:
            chunk = chunks.ready() if pending is None else None
            if chunk is None:
                try:
                    if self._timeout is None:
                        chunk = await chunks.__anext__()
                    else:
                        with call_timeouts(self._timeout):  # a re-open (retry) before the first chunk uses it too
                            chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    self._done = True
                    await self.aclose()
                    raise
                except BaseException:
                    self._closed = True
                    chunks.close()
                    raise
        self._aggregator.add(chunk)
        return chunk

    async def aclose(self) -> None:
        """Stop now and release the connection (idempotent)."""
        self._closed = True
        chunks = self._chunks
        if chunks is not None:
            await chunks.aclose()

    def __del__(self) -> None:
        # A bare `async for` that breaks never calls aclose(): release the socket when the stream is dropped.
        chunks = self._chunks
        if chunks is not None and not self._closed:
            with contextlib.suppress(Exception):
                chunks.close()

    @property
    def warnings(self) -> list[RequestWarning]:
        """What the request mapping could not honour (known once the stream is open)."""
        return list(self._chunks.warnings) if self._chunks is not None else []

    @property
    def done(self) -> bool:
        """True once every chunk was received."""
        return self._done

    def aggregate(self) -> ChatCompletionMessageWithFinishReason:
        """The message assembled from the chunks so far (the whole response once `done`)."""
        if self._result is not None:
            return self._result
        result = self._aggregator.result()
        result.warnings = self.warnings
        if self._done:
            self._result = result
        return result

    @property
    def response(self) -> ChatCompletionMessageWithFinishReason:
        """The aggregated response; only after the stream ended (use `aggregate()` for a partial one)."""
        if not self._done:
            raise RuntimeError("the stream has not ended yet: iterate it to the end, or call aggregate()")
        return self.aggregate()


class CompletionsClient:
    """Chat completions against one model instance (the crate's `CompletionsClient`)."""

    __slots__ = ("_instance",)

    def __init__(self, instance: ModelInstance) -> None:
        self._instance = instance

    async def create(
        self, request: RequestLike, *, timeout: Timeouts | float | None = None
    ) -> ChatCompletionMessageWithFinishReason:
        """One whole completion. `timeout` (a `Timeouts` or seconds) replaces the client's for this call."""
        coerced, builtins = ChatCompletionRequest.coerce_with_builtins(request)
        if timeout is None:
            return await self._instance.complete_validated(coerced, builtins)
        with call_timeouts(timeout):
            return await self._instance.complete_validated(coerced, builtins)

    def create_stream(self, request: RequestLike, *, timeout: Timeouts | float | None = None) -> ResultStream:
        """A streamed completion; see `ResultStream` for the ways to consume it (and for `timeout`)."""
        return ResultStream(self._instance, ChatCompletionRequest.coerce(request), timeout)


class EmbeddingsClient:
    """Embeddings against one model instance: one vector per input, in input order, for every provider."""

    __slots__ = ("_instance",)

    def __init__(self, instance: ModelInstance) -> None:
        self._instance = instance

    async def create(
        self, request: CreateEmbeddingRequest | dict[str, Any] | bytes | str, *, timeout: Timeouts | float | None = None
    ) -> CreateEmbeddingResponse:
        """`request` checked (`InvalidRequestError` naming the field) before any I/O; `timeout` as `create()`."""
        coerced = CreateEmbeddingRequest.coerce(request)
        with call_timeouts(timeout) if timeout is not None else contextlib.nullcontext():
            return cast(CreateEmbeddingResponse, await self._instance.run_operation("embeddings", coerced))


class ImagesClient:
    """Image generation against one model instance (`b64_json` from every provider, `url` where offered)."""

    __slots__ = ("_instance",)

    def __init__(self, instance: ModelInstance) -> None:
        self._instance = instance

    async def create(
        self, request: CreateImageRequest | dict[str, Any] | bytes | str, *, timeout: Timeouts | float | None = None
    ) -> ImagesResponse:
        """`request` checked (`InvalidRequestError` naming the field) before any I/O; `timeout` as `create()`."""
        coerced = CreateImageRequest.coerce(request)
        with call_timeouts(timeout) if timeout is not None else contextlib.nullcontext():
            return cast(ImagesResponse, await self._instance.run_operation("images", coerced))


class VlloraLLMClient:
    """The entry point: build it from a model instance or a provider spec, then call `completions()`,
    `embeddings()` or `images()`."""

    def __init__(self, instance: ModelInstance) -> None:
        self.instance = instance
        self._completions = CompletionsClient(instance)

    def __repr__(self) -> str:
        return f"VlloraLLMClient({self.instance!r})"

    @classmethod
    def new_with_instance(cls, instance: ModelInstance) -> VlloraLLMClient:
        """Wrap any `ModelInstance` (e.g. `DummyModelInstance()` for offline use)."""
        return cls(instance)

    @classmethod
    def from_provider(
        cls,
        name: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeouts | float | None = None,
        max_retries: int = 2,
        spec_path: Sequence[str | Path] = (),
        **options: Any,
    ) -> VlloraLLMClient:
        """A client for the provider spec `name` (found in `spec_path`, ``VLLORA_SPEC_PATH`` or the shipped
        specs). The key comes from `api_key` or the spec's environment variable; options named like the spec's
        endpoint placeholders fill them (``region="eu-west-1"`` for ``{region}``); other `options` go to
        `ProviderModelInstance` (e.g. `backoff_base`, `max_backoff`, `transport`)."""
        from vllora_llm.engine.registry import load_plan  # lazily: the spec compiler is for real providers

        plan = load_plan(name, spec_path)
        values = {key: str(options.pop(key)) for key in plan.placeholders if options.get(key) is not None}
        plan = plan.bind(values, options.get("environ"))
        instance = ProviderModelInstance(
            plan,
            api_key=api_key,
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            max_retries=max_retries,
            **options,
        )
        return cls(instance)

    @classmethod
    def from_config(
        cls,
        path: str | Path | None = None,
        *,
        spec_path: Sequence[str | Path] = (),
        timeout: Timeouts | float | None = None,
        max_retries: int = 2,
        **options: Any,
    ) -> VlloraLLMClient:
        """A client that routes by `request.model`: entries of a routing file (the vllora gateway's
        `models.yaml`, read as it is, plus `fallbacks`, `defaults`, `api_key_env`, `base_url`), or
        `provider/model` ids (`anthropic/claude-sonnet-4-5`), which need no file at all."""
        from vllora_llm.engine.routing import load_routing

        from .router import RouterModelInstance

        config = load_routing(str(path)) if path is not None else None
        instance = RouterModelInstance(
            config, spec_path=spec_path, timeout=timeout, max_retries=max_retries, **options
        )
        return cls(instance)

    def completions(self) -> CompletionsClient:
        return self._completions

    def embeddings(self) -> EmbeddingsClient:
        return EmbeddingsClient(self.instance)

    def images(self) -> ImagesClient:
        return ImagesClient(self.instance)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.instance.aclose()

    async def __aenter__(self) -> VlloraLLMClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
