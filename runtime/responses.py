"""`client.responses()`: the Responses API over every chat spec.

A `CreateResponse` (with the conversation stored under its `previous_response_id`) is translated to a unified chat
request (`engine/responses_map.py`), sent through the chat client (so routing, retries, telemetry and the tool
loop apply), and the result or chunk stream is translated back to a `Response` or Responses stream events
(`engine/responses_stream.py`). With `store` (the default, as in OpenAI) the whole conversation is kept in the
client's `ResponseStore` under the new response's id.

A provider whose spec declares the `responses` operation serves it natively instead (`responses_native.py`): the
request goes to its own endpoint and the server keeps the conversation.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from vllora_llm.engine.errors import LLMError, NotFoundError
from vllora_llm.engine.gateway import RequestWarning
from vllora_llm.engine.responses_map import (
    input_items,
    items_as_input,
    judge_unsent,
    new_id,
    response_shell,
    to_chat_request,
    to_response,
)
from vllora_llm.engine.responses_stream import ResponseEventBuilder
from vllora_llm.engine.responses_types import CreateResponse, Response, ResponseStreamEvent

from .genai_responses import RESPONSES, finish_responses
from .observe import Observation, observe
from .response_store import ResponseStore
from .responses_base import ResponsesStream
from .responses_native import NativeResponseStream, create_native
from .transport import Timeouts

if TYPE_CHECKING:
    from vllora_llm.engine.gateway import ChatCompletionChunk

    from .client import CompletionsClient, ResultStream

__all__ = ["ResponseEventStream", "ResponsesClient"]


class ResponsesClient:
    """Responses against one client's chat path; conversations kept in `store`. A call is observed (span,
    metrics, model events) as one Responses operation (`genai_responses.py`); the chat call under it is not
    observed again."""

    __slots__ = ("_chat", "_completions", "store")

    def __init__(self, completions: CompletionsClient, store: ResponseStore) -> None:
        self._completions = completions
        self._chat = completions.unobserved()
        self.store = store

    def native(self, request: CreateResponse) -> bool:
        """Whether the provider serves the Responses API itself (its spec declares the operation)."""
        return self._completions._instance.serves("responses", request.model)

    def observe(self, request: CreateResponse, stream: bool) -> Observation | None:
        """The call's observation, or None when nothing listens."""
        completions = self._completions
        return observe(completions._telemetry, completions._listeners, RESPONSES, request.model, request,
                       stream=stream, provider_name=completions._instance.otel_provider_name)

    async def conversation(self, request: CreateResponse) -> list[dict[str, Any]]:
        """The items the model sees: the stored conversation of `previous_response_id`, then `input`."""
        items = input_items(request)
        previous = request.previous_response_id
        if previous is None:
            return items
        stored = await self.store.get(previous)
        if stored is None:
            raise NotFoundError(f"previous_response_id: no stored response {previous!r} (never stored, stored with "
                                "store=false, or evicted from the response store)", status=404,
                                path="previous_response_id")
        return stored + items

    def unsent(self, request: CreateResponse) -> list[RequestWarning]:
        """The warnings for the settings no chat request carries, by the spec's policy for the model (a
        `MappingError` before any I/O when that policy is `error`)."""
        return judge_unsent(request, self._completions._instance.unsupported_policy(request.model))

    async def keep(self, request: CreateResponse, items: list[dict[str, Any]], response: Response) -> None:
        """Store the conversation under the response's id (unless `store` is false)."""
        if request.store is not False:
            await self.store.put(response.id, items + items_as_input(response.output))

    async def create(self, request: CreateResponse | dict[str, Any] | bytes | str, *,
                     timeout: Timeouts | float | None = None) -> Response:
        """One whole response. Bad input is an `InvalidRequestError` / `MappingError` naming the field before
        any I/O; an unknown `previous_response_id` is a `NotFoundError`."""
        coerced, builtins = CreateResponse.coerce_with_builtins(request)  # (a native plan renders from `builtins`)
        if self.native(coerced):
            return await create_native(self._completions, coerced, timeout, builtins)
        unsent = self.unsent(coerced)
        items = await self.conversation(coerced)
        chat = to_chat_request(coerced, items)
        observation = self.observe(coerced, False)
        if observation is None:
            result = await self._chat.create(chat, timeout=timeout)
        else:
            try:
                with observation.active():  # retries, fallbacks and the target report to this call
                    result = await self._chat.create(chat, timeout=timeout)
            except BaseException as err:
                observation.fail(err)
                raise
        response = to_response(coerced, result, new_id("resp"), time.time())
        response.warnings[:0] = unsent
        if observation is not None:
            if observation.wants_content() and response.output_text:
                observation.content(response.output_text)
            finish_responses(observation, response, result.usage)
        await self.keep(coerced, items, response)
        return response

    def create_stream(self, request: CreateResponse | dict[str, Any] | bytes | str, *,
                      timeout: Timeouts | float | None = None) -> ResponseEventStream | NativeResponseStream:
        """A streamed response: `async for event in ...`, `stream = await ...` (HTTP errors raise there) or
        `async with ... as stream`; `stream.response` is the whole `Response` once the events are exhausted. A
        failure once open yields `error` and `response.failed`, then raises the typed error (`stream.error`). A
        natively served one passes the provider's events through (`NativeResponseStream`)."""
        coerced, builtins = CreateResponse.coerce_with_builtins(request)
        if self.native(coerced):
            return NativeResponseStream(self._completions, coerced, timeout, builtins)
        return ResponseEventStream(self, coerced, timeout)


class ResponseEventStream(ResponsesStream["ResultStream"]):
    """Responses stream events made from one chat stream (see `ResponsesClient.create_stream`). Leaving early
    closes the HTTP response at once.

    A stream that breaks once open (the provider's error event, a cut or stalled stream) yields an `error` event
    and then `response.failed` (as OpenAI's stream would, for code written against its SDK), and the next step
    raises the typed `LLMError` (`StreamError`, `TimeoutError`, ...), so a loop never takes a failure for an end;
    `error` and `response` (`status: failed`) stay readable after. Failing to open raises at once, no events."""

    __slots__ = ("_builder", "_client", "_fetch", "_items", "_live", "_pending", "_request", "_timeout", "_unsent")

    def __init__(self, client: ResponsesClient, request: CreateResponse, timeout: Timeouts | float | None) -> None:
        super().__init__()
        self._client = client
        self._request = request
        self._timeout = timeout
        self._builder: ResponseEventBuilder | None = None
        self._items: list[dict[str, Any]] = []
        self._pending: deque[ResponseStreamEvent] = deque()
        """The events made and not yet served: the builder appends to it, `__anext__` pops from it."""
        self._live = False
        """Open, and neither ended nor closed: `__anext__` pulls chunks."""
        self._fetch: Callable[[], Awaitable[ChatCompletionChunk]] | None = None
        self._unsent: list[RequestWarning] = []

    async def _open(self) -> ResultStream:
        if self._chunks is None:
            if self._closed:
                raise RuntimeError("this stream was closed before it was opened")
            self._unsent = self._client.unsent(self._request)
            self._items = await self._client.conversation(self._request)
            chat = to_chat_request(self._request, self._items)
            observation = self._observation = self._client.observe(self._request, True)
            try:
                if observation is None:
                    chunks = await self._client._chat.create_stream(chat, timeout=self._timeout, aggregate=False)
                else:
                    with observation.active():
                        chunks = await self._client._chat.create_stream(chat, timeout=self._timeout,
                                                                        aggregate=False)
            except BaseException as err:
                if observation is not None:
                    observation.fail(err)
                raise
            self._chunks = chunks
            self._fetch = chunks.__anext__ if observation is None else partial(self._observed, observation)
            builder = self._builder = ResponseEventBuilder(
                response_shell(self._request, new_id("resp"), time.time()), self._pending)
            self._response = builder.response
            builder.start()
            self._live = True
        return self._chunks

    async def __anext__(self) -> ResponseStreamEvent:
        pending = self._pending
        if pending:  # most chunks make one event, some several: served from here (`aclose` empties it)
            return pending.popleft()
        if not self._live:  # not open yet, ended, failed or closed
            return await self._settle()
        builder, fetch = self._builder, self._fetch
        assert builder is not None and fetch is not None
        while not pending:
            try:
                chunk = await fetch()
            except StopAsyncIteration:
                await self._finish(builder)
                break
            except LLMError as err:  # the provider's error event, a cut or stalled stream: the events, then raise
                self._broke(builder, err)
                break
            except BaseException as err:  # cancelled (or a bug): the span says so, the exception goes on
                if self._observation is not None:
                    self._observation.fail(err)
                raise
            builder.feed(chunk)
        return pending.popleft()

    async def _settle(self) -> ResponseStreamEvent:
        """The next event of a stream that is not mid-flight: opened now (its first events), or the end (a
        failure's typed error, raised once)."""
        if self._closed:
            raise StopAsyncIteration
        if self._raise is not None:  # after `error` and `response.failed`: the typed error, once
            err, self._raise = self._raise, None
            self._closed = True
            raise err
        if self._done:
            raise StopAsyncIteration
        await self._open()
        return await self.__anext__()

    async def _finish(self, builder: ResponseEventBuilder) -> None:
        """The chat stream ended: close the items, report the call, keep the conversation."""
        self._live = False
        self._done = True
        chunks = self._chunks
        assert chunks is not None
        builder.finish(self._unsent + chunks.warnings, chunks.provider)
        if self._observation is not None:
            finish_responses(self._observation, builder.response, builder.chat_usage)
        await self._client.keep(self._request, self._items, builder.response)

    def _broke(self, builder: ResponseEventBuilder, err: LLMError) -> None:
        """The chat stream broke once open: `error` and `response.failed` now, the typed error at the next step."""
        self._live = False
        self._done = True
        self._raise = self._failure = err
        chunks = self._chunks
        assert chunks is not None
        builder.fail(err, self._unsent + chunks.warnings, chunks.provider)
        if self._observation is not None:
            self._observation.fail(err)

    async def _observed(self, observation: Observation) -> ChatCompletionChunk:
        """The next chunk, reported: the first one's time, and text deltas to model-event listeners."""
        chunk: ChatCompletionChunk = await self._observed_next(observation)
        if observation.wants_content():
            for choice in chunk.choices:
                if choice.delta.content:
                    observation.content(choice.delta.content)
        return chunk

    def _report_partial(self, observation: Observation) -> None:
        builder = self._builder
        if builder is not None:
            finish_responses(observation, builder.interrupted(), builder.chat_usage)

    async def aclose(self) -> None:
        """Stop now and release the connection (idempotent)."""
        self._live = False
        self._pending.clear()
        await super().aclose()
