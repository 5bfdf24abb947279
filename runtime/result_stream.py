"""Streamed completions as the caller holds them: `ResultStream` (iterate it, await it, or use it as an async
context manager; it aggregates what it yielded into the whole response) and `ObservedResultStream`, the same
reporting to its call's observation. `CompletionsClient.create_stream` hands them out (runtime/client.py)."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any, Self, TypeVar

from vllora_llm.engine.aggregate import StreamAggregator
from vllora_llm.engine.gateway import (
    ChatCompletionChunk,
    ChatCompletionMessageWithFinishReason,
    ChatCompletionRequest,
    RequestWarning,
)
from vllora_llm.engine.typed_output import ParsedChatCompletion, parsed_completion

from .genai_chat import finish_chat
from .model_instance import ChunkStream, ModelInstance
from .observe import Observation
from .stream_forms import StreamForms
from .transport import Timeouts, call_timeouts, unkept_stream

__all__ = ["ObservedResultStream", "ResultStream"]

T = TypeVar("T")

KEEP_AT_MOST = 16_384
"""Chunks a stream keeps unfolded (about 400 bytes each): past this many, they are folded into the aggregate
at the next read, so a long stream's memory stays bounded (a fold of this many takes ~20 ms)."""


class ResultStream(StreamForms):
    """One streamed completion. Three ways to use it::

        async for chunk in completions.create_stream(req): ...       # opens lazily
        stream = await completions.create_stream(req)                  # opens now: HTTP errors raise here
        async with completions.create_stream(req) as stream: ...       # opens now, always closes

    When the chunks are exhausted, `response` (or `aggregate()`) is the whole message. The stream keeps the chunks
    it hands out (the objects themselves, no copies) and folds them into that message only when `aggregate()` or
    `response` asks, so a caller who only iterates pays nothing for aggregation; a chunk changed by the caller
    before then is aggregated as changed. It keeps at most about `KEEP_AT_MOST` chunks unfolded (bounded memory).
    Leaving early (break, an exception, cancellation, `aclose()`) closes the HTTP response instead of draining it:
    at once, except a bare `async for` left by `break` or an exception, which closes it at the event loop's next
    steps (when the loop's generator is closed).
    `timeout` (a `Timeouts` or seconds) replaces the client's timeouts for this stream, retries included.
    `aggregate=False` keeps nothing (no `aggregate()`), so the stream's body has no total size limit.
    """

    __slots__ = (
        "_aggregator", "_builtins", "_chunks", "_closed", "_done", "_instance", "_kept", "_pending", "_request",
        "_result", "_timeout",
    )

    def __init__(
        self,
        instance: ModelInstance,
        request: ChatCompletionRequest,
        timeout: Timeouts | float | None = None,
        aggregate: bool = True,
        builtins: dict[str, Any] | None = None,
    ) -> None:
        """`builtins`: the request's plain-data form when the client has just validated it (the plan renders
        from it, consuming it, instead of converting the request again)."""
        self._instance = instance
        self._request = request
        self._builtins = builtins
        self._timeout = None if timeout is None else Timeouts.coerce(timeout)
        self._chunks: ChunkStream | None = None
        self._pending: deque[ChatCompletionChunk] | None = None
        """The chunk stream's queue of decoded chunks, when it shows one (`pending`): popped here directly,
        not through a `ready()` call per chunk."""
        self._aggregator = StreamAggregator() if aggregate else None
        self._kept: list[ChatCompletionChunk] | None = [] if aggregate else None
        """The chunks handed out and not folded into `_aggregator` yet (`aggregate()` folds them)."""
        self._result: ChatCompletionMessageWithFinishReason | None = None
        self._done = False
        self._closed = False

    async def _open(self) -> ChunkStream:
        if self._chunks is None:
            if self._closed:
                raise RuntimeError("this stream was closed before it was opened")
            builtins, self._builtins = self._builtins, None  # (consumed by the first open, even a failed one)
            with call_timeouts(self._timeout):
                if self._aggregator is None:
                    with unkept_stream():
                        self._chunks = await self._instance.open_stream_validated(self._request, builtins)
                else:
                    self._chunks = await self._instance.open_stream_validated(self._request, builtins)
            pending = getattr(self._chunks, "pending", None)
            self._pending = pending if isinstance(pending, deque) else None
        return self._chunks

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
                    if pending is not None:
                        pending.clear()
                    raise
        kept = self._kept
        if kept is not None:
            kept.append(chunk)
            if len(kept) > KEEP_AT_MOST:  # (tested once per read, not per chunk: a read adds at most a batch)
                self._fold()
        return chunk

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        return self._handed_out()

    async def _handed_out(self) -> AsyncGenerator[ChatCompletionChunk, None]:
        """What `async for` iterates: the chunks already decoded are handed out from this one frame, each resumed
        without the coroutine object and frame an `async def __anext__` call makes per chunk; the rest (opening,
        reading, the end, errors, retries) goes through `__anext__`, one call per read or batch of 32.

        `pending` (the chunk stream's queue) is emptied whenever the stream is closed (`aclose`, a failure), so a
        non-empty queue means open. Leaving the loop early drops this generator: the event loop closes it at its
        next step, then the stream (`__del__`) closes the HTTP response; `async with` or `aclose()` close it at
        once."""
        anext = self.__anext__
        kept = self._kept
        while True:
            try:
                chunk = await anext()
            except StopAsyncIteration:
                return
            yield chunk
            pending = self._pending
            if pending is not None:
                while pending:  # (as in `__anext__`: the chunks of the read the one above came from)
                    chunk = pending.popleft()
                    if kept is not None:
                        kept.append(chunk)
                    yield chunk

    async def aclose(self) -> None:
        """Stop now and release the connection (idempotent)."""
        self._closed = True
        if self._pending is not None:
            self._pending.clear()
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

    @property
    def provider(self) -> str | None:
        """Who answers (after a fallback: the target that does), known once the stream is open."""
        return self._chunks.provider if self._chunks is not None else None

    def _fold(self) -> StreamAggregator | None:
        """Add the kept chunks to the aggregator (each once: a later fold adds only what arrived since)."""
        aggregator, kept = self._aggregator, self._kept
        if aggregator is not None and kept:
            for chunk in kept:
                aggregator.add(chunk)
            kept.clear()
        return aggregator

    def aggregate(self) -> ChatCompletionMessageWithFinishReason:
        """The message assembled from the chunks so far (the whole response once `done`)."""
        if self._result is not None:
            return self._result
        aggregator = self._fold()
        if aggregator is None:
            raise RuntimeError("this stream was opened with aggregate=False: it keeps no chunks to aggregate")
        result = aggregator.result()
        result.warnings = self.warnings
        chunks = self._chunks
        if chunks is not None:  # who answered (after a fallback: the target that did), as `create` says
            if chunks.provider is not None:
                result.provider = chunks.provider
            if result.model is None:
                result.model = chunks.model
        if self._done:
            self._result = result
        return result

    @property
    def response(self) -> ChatCompletionMessageWithFinishReason:
        """The aggregated response; only after the stream ended (use `aggregate()` for a partial one)."""
        if not self._done:
            raise RuntimeError("the stream has not ended yet: iterate it to the end, or call aggregate()")
        return self.aggregate()

    def parse(self, response_format: type[T]) -> ParsedChatCompletion[T]:
        """The ended stream's response with its JSON text validated into `response_format` (the class the
        request asked for), as `CompletionsClient.parse` gives it; `StructuredOutputError` when it does not fit."""
        return parsed_completion(response_format, self.response)


class ObservedResultStream(ResultStream):
    """A `ResultStream` that reports to its observation: the first chunk, text deltas, and the end (whole,
    left early, failed or cancelled). Only observed streams pay for this; a plain `ResultStream` does not.
    The observation starts when the stream is opened (a stream never opened was never a call)."""

    __slots__ = ("_first", "_observation", "_start")

    def __init__(
        self,
        instance: ModelInstance,
        request: ChatCompletionRequest,
        timeout: Timeouts | float | None,
        start: Callable[[], Observation | None],
        aggregate: bool = True,
        builtins: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(instance, request, timeout, aggregate, builtins)
        self._start: Callable[[], Observation | None] | None = start
        self._observation: Observation | None = None
        self._first = True

    async def _open(self) -> ChunkStream:
        if self._chunks is not None or self._closed:
            return await ResultStream._open(self)
        start, self._start = self._start, None
        if start is not None:
            self._observation = start()
        observation = self._observation
        if observation is None:  # nobody listens any more
            return await ResultStream._open(self)
        try:
            with observation.active():  # retries and fallbacks while opening report to this call
                return await ResultStream._open(self)
        except BaseException as err:
            observation.fail(err)
            raise

    async def __anext__(self) -> ChatCompletionChunk:
        if self._chunks is None and not (self._closed or self._done):
            await self._open()
        observation = self._observation
        if observation is None or observation.ended:
            return await ResultStream.__anext__(self)
        try:
            if self._first:
                with observation.active():  # a stream may still be re-opened (retried) before its first chunk
                    chunk = await ResultStream.__anext__(self)
            else:
                chunk = await ResultStream.__anext__(self)
        except StopAsyncIteration:
            self._end()
            raise
        except BaseException as err:
            observation.fail(err)
            raise
        if self._first:
            self._first = False
            observation.first_chunk()
        if observation.wants_content():
            for choice in chunk.choices:
                if choice.delta.content:
                    observation.content(choice.delta.content)
        return chunk

    def __aiter__(self) -> Self:
        return self  # (each chunk reported: through `__anext__`)

    def _end(self) -> None:
        """End the observation with what arrived (the whole message, or a part when left early)."""
        observation = self._observation
        if observation is not None and not observation.ended:
            if self._aggregator is None and self._result is None:  # aggregate=False: nothing kept to report
                observation.finish()
            else:
                finish_chat(observation, self.aggregate())

    async def aclose(self) -> None:
        await ResultStream.aclose(self)
        self._end()

    def __del__(self) -> None:
        ResultStream.__del__(self)
        with contextlib.suppress(Exception):
            self._end()
