"""A blocking facade for scripts and notebooks, built on the async core rather than beside it.

Why a private loop in a thread: an aiohttp session belongs to the loop that created it, so calling
`asyncio.run` per request would throw the connection pool away each time (and fails inside a running loop,
as in Jupyter). Instead each `SyncVlloraLLMClient` owns one event loop running in a daemon thread; every call
is submitted to it with `asyncio.run_coroutine_threadsafe` and waited for. Connections are reused, the same
retry and timeout rules apply, and Ctrl-C cancels the call in flight.

    with SyncVlloraLLMClient.from_provider("openai") as client:  # or new_with_instance(DummyModelInstance())
        print(client.completions().create(request).text())
        for chunk in client.completions().create_stream(request):
            ...

Close it (`close()` or `with`) to stop the thread and release the connections.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from vllora_llm.engine.errors import LLMError
from vllora_llm.engine.gateway import (
    ChatCompletionChunk,
    ChatCompletionMessageWithFinishReason,
    RequestWarning,
)
from vllora_llm.engine.gateway_ops import (
    CreateEmbeddingRequest,
    CreateEmbeddingResponse,
    CreateImageRequest,
    ImagesResponse,
)
from vllora_llm.engine.responses_types import CreateResponse, Response, ResponseStreamEvent
from vllora_llm.engine.typed_output import ParsedChatCompletion

from .client import RequestLike, ResultStream, VlloraLLMClient
from .instance import ModelInstance
from .responses import ResponseEventStream
from .responses_native import NativeResponseStream
from .transport import Timeouts

if TYPE_CHECKING:
    from vllora_llm.engine.gateway_ops import CachedContent

__all__ = ["SyncCachesClient", "SyncCompletionsClient", "SyncResponseEventStream", "SyncResponsesClient",
           "SyncResultStream", "SyncVlloraLLMClient"]

T = TypeVar("T")


class _LoopThread:
    """One event loop running forever in a daemon thread; `run` submits a coroutine and blocks on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="vllora-llm-sync", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self.loop.is_closed():
            coro.close()
            raise RuntimeError("this SyncVlloraLLMClient is closed")
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. KeyboardInterrupt: stop the call in flight too
            raise

    def submit(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Fire and forget (used from `__del__`, which must not block)."""
        if self.loop.is_closed():
            coro.close()
            return
        asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.run(self.loop.shutdown_asyncgens())  # what asyncio.run does on exit: parked cleanups run
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


_END: Any = object()


class SyncResultStream:
    """A `ResultStream` as a plain iterator; `response` / `aggregate()` as in the async one."""

    def __init__(self, runner: _LoopThread, stream: ResultStream) -> None:
        self._runner = runner
        self._stream = stream

    def __iter__(self) -> Iterator[ChatCompletionChunk]:
        return self

    def __next__(self) -> ChatCompletionChunk:
        async def step() -> Any:
            try:
                return await self._stream.__anext__()
            except StopAsyncIteration:
                return _END

        chunk = self._runner.run(step())
        if chunk is _END:
            raise StopIteration
        result: ChatCompletionChunk = chunk
        return result

    def close(self) -> None:
        """Stop now and release the connection."""
        self._runner.run(self._stream.aclose())

    def __enter__(self) -> SyncResultStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # Closing must happen on the loop's thread; a `for` loop that breaks lands here.
        runner = getattr(self, "_runner", None)
        if runner is not None and not self._stream.done:
            runner.submit(self._stream.aclose())

    @property
    def warnings(self) -> list[RequestWarning]:
        return self._stream.warnings

    def aggregate(self) -> ChatCompletionMessageWithFinishReason:
        return self._stream.aggregate()

    @property
    def response(self) -> ChatCompletionMessageWithFinishReason:
        return self._stream.response

    def parse(self, response_format: type[T]) -> ParsedChatCompletion[T]:
        """The ended stream's answer validated into `response_format` (see `ResultStream.parse`)."""
        return self._stream.parse(response_format)


class SyncCompletionsClient:
    """Blocking `create` and `create_stream`."""

    def __init__(self, client: SyncVlloraLLMClient) -> None:
        self._client = client

    def create(
        self, request: RequestLike, *, timeout: Timeouts | float | None = None, **tool_options: Any
    ) -> ChatCompletionMessageWithFinishReason:
        """`tool_options`: the tool loop's `tools`, `max_tool_steps`, `tool_timeout` (see the async client)."""
        completions = self._client.client.completions()
        return self._client._runner.run(completions.create(request, timeout=timeout, **tool_options))

    def parse(
        self, request: RequestLike, response_format: type[T], *, timeout: Timeouts | float | None = None,
        **tool_options: Any,
    ) -> ParsedChatCompletion[T]:
        """Blocking `parse` (see the async client): `.parsed` is the answer as a `response_format` instance."""
        completions = self._client.client.completions()
        return self._client._runner.run(completions.parse(request, response_format, timeout=timeout, **tool_options))

    def create_stream(
        self, request: RequestLike, *, timeout: Timeouts | float | None = None, aggregate: bool = True,
        **tool_options: Any,
    ) -> SyncResultStream:
        """Opens the stream before returning, so HTTP errors raise here."""
        stream = self._client.client.completions().create_stream(
            request, timeout=timeout, aggregate=aggregate, **tool_options
        )

        async def opened() -> ResultStream:
            return await stream

        return SyncResultStream(self._client._runner, self._client._runner.run(opened()))


class SyncEmbeddingsClient:
    """Blocking `embeddings().create`."""

    def __init__(self, client: SyncVlloraLLMClient) -> None:
        self._client = client

    def create(
        self, request: CreateEmbeddingRequest | dict[str, Any] | bytes | str, *, timeout: Timeouts | float | None = None
    ) -> CreateEmbeddingResponse:
        return self._client._runner.run(self._client.client.embeddings().create(request, timeout=timeout))


class SyncImagesClient:
    """Blocking `images().create`."""

    def __init__(self, client: SyncVlloraLLMClient) -> None:
        self._client = client

    def create(
        self, request: CreateImageRequest | dict[str, Any] | bytes | str, *, timeout: Timeouts | float | None = None
    ) -> ImagesResponse:
        return self._client._runner.run(self._client.client.images().create(request, timeout=timeout))


class SyncCachesClient:
    """Blocking `caches()`: the prompt caches this library created (list, get, delete)."""

    def __init__(self, client: SyncVlloraLLMClient) -> None:
        self._client = client
        self._caches = client.client.caches()  # (a MappingError here when the provider has none)

    def list(self, *, everything: bool = False) -> list[CachedContent]:
        return self._client._runner.run(self._caches.list(everything=everything))

    def get(self, name: str) -> CachedContent:
        return self._client._runner.run(self._caches.get(name))

    def delete(self, name: str) -> None:
        self._client._runner.run(self._caches.delete(name))

    def delete_all(self) -> int:
        return self._client._runner.run(self._caches.delete_all())


class SyncResponsesClient:
    """Blocking `responses().create` and `create_stream` (a plain iterator of events; `response` at the end)."""

    def __init__(self, client: SyncVlloraLLMClient) -> None:
        self._client = client

    def create(
        self, request: CreateResponse | dict[str, Any] | bytes | str, *, timeout: Timeouts | float | None = None
    ) -> Response:
        return self._client._runner.run(self._client.client.responses().create(request, timeout=timeout))

    def create_stream(
        self, request: CreateResponse | dict[str, Any] | bytes | str, *, timeout: Timeouts | float | None = None
    ) -> SyncResponseEventStream:
        """Opens the stream before returning, so HTTP errors (and an unknown `previous_response_id`) raise here."""
        stream = self._client.client.responses().create_stream(request, timeout=timeout)

        async def opened() -> ResponseEventStream | NativeResponseStream:
            return await stream

        return SyncResponseEventStream(self._client._runner, self._client._runner.run(opened()))


class SyncResponseEventStream:
    """A `ResponseEventStream` as a plain iterator (`with` closes it)."""

    def __init__(self, runner: _LoopThread, stream: ResponseEventStream | NativeResponseStream) -> None:
        self._runner = runner
        self._stream = stream

    def __iter__(self) -> Iterator[ResponseStreamEvent]:
        return self

    def __next__(self) -> ResponseStreamEvent:
        async def step() -> Any:
            try:
                return await self._stream.__anext__()
            except StopAsyncIteration:
                return _END

        event = self._runner.run(step())
        if event is _END:
            raise StopIteration
        result: ResponseStreamEvent = event
        return result

    def close(self) -> None:
        self._runner.run(self._stream.aclose())

    def __enter__(self) -> SyncResponseEventStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def response(self) -> Response:
        return self._stream.response

    @property
    def error(self) -> LLMError | None:
        """The typed error a failed stream raised after its `error` and `response.failed` events."""
        return self._stream.error


class SyncVlloraLLMClient:
    """`VlloraLLMClient` for code without an event loop (see the module docstring for how it works)."""

    def __init__(self, client: VlloraLLMClient) -> None:
        self.client = client
        self._runner = _LoopThread()
        self._completions = SyncCompletionsClient(self)

    @classmethod
    def new_with_instance(cls, instance: ModelInstance, **observers: Any) -> SyncVlloraLLMClient:
        """`observers` as `VlloraLLMClient`'s (`events` callbacks run on the client's loop thread)."""
        return cls(VlloraLLMClient.new_with_instance(instance, **observers))

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
    ) -> SyncVlloraLLMClient:
        """Same arguments as `VlloraLLMClient.from_provider`."""
        return cls(
            VlloraLLMClient.from_provider(
                name,
                api_key=api_key,
                base_url=base_url,
                headers=headers,
                timeout=timeout,
                max_retries=max_retries,
                spec_path=spec_path,
                **options,
            )
        )

    def completions(self) -> SyncCompletionsClient:
        return self._completions

    def embeddings(self) -> SyncEmbeddingsClient:
        return SyncEmbeddingsClient(self)

    def images(self) -> SyncImagesClient:
        return SyncImagesClient(self)

    def responses(self) -> SyncResponsesClient:
        return SyncResponsesClient(self)

    def caches(self) -> SyncCachesClient:
        return SyncCachesClient(self)

    def create(
        self, request: RequestLike, *, timeout: Timeouts | float | None = None
    ) -> ChatCompletionMessageWithFinishReason:
        """Shortcut for ``completions().create(request)``."""
        return self._completions.create(request, timeout=timeout)

    def create_stream(self, request: RequestLike, *, timeout: Timeouts | float | None = None) -> SyncResultStream:
        """Shortcut for ``completions().create_stream(request)``."""
        return self._completions.create_stream(request, timeout=timeout)

    def close(self) -> None:
        """Close the connections, then stop the loop thread (idempotent)."""
        if not self._runner.loop.is_closed():
            try:
                self._runner.run(self.client.aclose())
            finally:
                self._runner.stop()

    def __enter__(self) -> SyncVlloraLLMClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
