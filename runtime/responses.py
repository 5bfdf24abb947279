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
from collections.abc import Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from vllora_llm.engine.errors import NotFoundError
from vllora_llm.engine.responses_map import (
    input_items,
    items_as_input,
    new_id,
    response_shell,
    to_chat_request,
    to_response,
)
from vllora_llm.engine.responses_native import untranslated
from vllora_llm.engine.responses_stream import ResponseEventBuilder
from vllora_llm.engine.responses_types import CreateResponse, Response, ResponseStreamEvent

from .response_store import ResponseStore
from .responses_native import NativeResponseStream, create_native
from .transport import Timeouts

if TYPE_CHECKING:
    from .client import CompletionsClient, ResultStream

__all__ = ["ResponseEventStream", "ResponsesClient"]


class ResponsesClient:
    """Responses against one client's chat path; conversations kept in `store`."""

    __slots__ = ("_completions", "store")

    def __init__(self, completions: CompletionsClient, store: ResponseStore) -> None:
        self._completions = completions
        self.store = store

    def native(self, request: CreateResponse) -> bool:
        """Whether the provider serves the Responses API itself (its spec declares the operation)."""
        return self._completions._instance.serves("responses", request.model)

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

    async def keep(self, request: CreateResponse, items: list[dict[str, Any]], response: Response) -> None:
        """Store the conversation under the response's id (unless `store` is false)."""
        if request.store is not False:
            await self.store.put(response.id, items + items_as_input(response.output))

    async def create(self, request: CreateResponse | dict[str, Any] | bytes | str, *,
                     timeout: Timeouts | float | None = None) -> Response:
        """One whole response. Bad input is an `InvalidRequestError` / `MappingError` naming the field before
        any I/O; an unknown `previous_response_id` is a `NotFoundError`."""
        coerced = CreateResponse.coerce(request)
        if self.native(coerced):
            return await create_native(self._completions._instance, coerced, timeout)
        items = await self.conversation(coerced)
        chat = to_chat_request(coerced, items)
        result = await self._completions.create(chat, timeout=timeout)
        response = to_response(coerced, result, new_id("resp"), time.time())
        response.warnings.extend(untranslated(coerced, response.provider))
        await self.keep(coerced, items, response)
        return response

    def create_stream(self, request: CreateResponse | dict[str, Any] | bytes | str, *,
                      timeout: Timeouts | float | None = None) -> ResponseEventStream | NativeResponseStream:
        """A streamed response: `async for event in ...`, `stream = await ...` (HTTP errors raise there) or
        `async with ... as stream`; `stream.response` is the whole `Response` once the events are exhausted.
        A natively served one passes the provider's events through (`NativeResponseStream`)."""
        coerced = CreateResponse.coerce(request)
        if self.native(coerced):
            return NativeResponseStream(self._completions._instance, coerced, timeout)
        return ResponseEventStream(self, coerced, timeout)


class ResponseEventStream:
    """Responses stream events made from one chat stream (see `ResponsesClient.create_stream`). Leaving early
    closes the HTTP response at once."""

    __slots__ = ("_builder", "_chunks", "_client", "_closed", "_done", "_items", "_pending", "_request", "_timeout")

    def __init__(self, client: ResponsesClient, request: CreateResponse, timeout: Timeouts | float | None) -> None:
        self._client = client
        self._request = request
        self._timeout = timeout
        self._chunks: ResultStream | None = None
        self._builder: ResponseEventBuilder | None = None
        self._items: list[dict[str, Any]] = []
        self._pending: deque[ResponseStreamEvent] = deque()
        self._done = False
        self._closed = False

    async def _open(self) -> ResultStream:
        if self._chunks is None:
            if self._closed:
                raise RuntimeError("this stream was closed before it was opened")
            self._items = await self._client.conversation(self._request)
            chat = to_chat_request(self._request, self._items)
            self._chunks = await self._client._completions.create_stream(chat, timeout=self._timeout,
                                                                          aggregate=False)
            self._builder = ResponseEventBuilder(response_shell(self._request, new_id("resp"), time.time()))
            self._pending.extend(self._builder.start())
        return self._chunks

    async def _opened(self) -> ResponseEventStream:
        await self._open()
        return self

    def __await__(self) -> Generator[Any, None, ResponseEventStream]:
        return self._opened().__await__()

    async def __aenter__(self) -> ResponseEventStream:
        return await self._opened()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> ResponseEventStream:
        return self

    async def __anext__(self) -> ResponseStreamEvent:
        pending = self._pending
        if pending and not self._closed:  # most chunks make one event, some several: served from here
            return pending.popleft()
        if self._closed:
            raise StopAsyncIteration
        chunks = self._chunks if self._chunks is not None else await self._open()
        builder = self._builder
        assert builder is not None
        while not pending:
            if self._done:
                raise StopAsyncIteration
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                self._done = True
                pending.extend(builder.finish([*chunks.warnings, *untranslated(self._request, chunks.provider)],
                                              chunks.provider))
                await self._client.keep(self._request, self._items, builder.response)
                break
            pending.extend(builder.feed(chunk))
        return pending.popleft()

    async def aclose(self) -> None:
        """Stop now and release the connection (idempotent)."""
        self._closed = True
        if self._chunks is not None:
            await self._chunks.aclose()

    @property
    def done(self) -> bool:
        return self._done

    @property
    def response(self) -> Response:
        """The whole `Response`; only after the stream ended."""
        if not self._done or self._builder is None:
            raise RuntimeError("the stream has not ended yet: iterate it to the end")
        return self._builder.response
