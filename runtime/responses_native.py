"""The Responses API on a provider whose spec declares the `responses` operation (served natively).

The request goes to the provider's own endpoint as given (the spec's params rules: what it cannot take is a
warning, never a silent drop), and the server keeps the conversation: `previous_response_id` and `store` are the
server's, the client's response store is not used. A whole response is decoded into the typed `Response`; a
stream yields the server's events, each decoded into its typed event (`OtherStreamEvent` for a type this library
does not know yet), with `stream.response` the final `Response`.
"""

from __future__ import annotations

import contextlib
from collections import deque
from typing import TYPE_CHECKING, Any, cast

from vllora_llm.engine.responses_native import CARRIES_RESPONSE, NativeEvent, latest_response
from vllora_llm.engine.responses_types import CreateResponse, Response

from .transport import Timeouts, call_timeouts, unkept_stream

if TYPE_CHECKING:
    from .instance import ChunkStream, ModelInstance

OPERATION = "responses"


async def create_native(instance: ModelInstance, request: CreateResponse, timeout: Timeouts | float | None) -> Response:
    """One whole response from the provider's Responses endpoint."""
    with call_timeouts(timeout) if timeout is not None else contextlib.nullcontext():
        return cast(Response, await instance.run_operation(OPERATION, request))


class NativeEvents:
    """The events of one natively streamed response (see `ResponseEventStream`, which wraps this)."""

    __slots__ = ("_chunks", "_instance", "_request", "_response", "_timeout", "done", "pending")

    def __init__(self, instance: ModelInstance, request: CreateResponse, timeout: Timeouts | float | None) -> None:
        self._instance = instance
        self._request = request
        self._timeout = None if timeout is None else Timeouts.coerce(timeout)
        self._chunks: ChunkStream | None = None
        self._response: Response | None = None
        self.done = False
        self.pending: deque[Any] = deque()
        """Events decoded and not handed out yet (the open stream's own queue, when it shows one): popped by
        the caller directly, no await per event; an event in `CARRIES_RESPONSE` must go through `track`."""

    async def open(self) -> None:
        """Send the request; HTTP errors (after the retries) raise here."""
        if self._chunks is None:
            with call_timeouts(self._timeout), unkept_stream():  # only the latest Response is kept
                self._chunks = await self._instance.open_operation_stream(OPERATION, self._request)
            pending = getattr(self._chunks, "pending", None)
            if isinstance(pending, deque):
                self.pending = pending


    async def next(self) -> NativeEvent | None:
        """The next event, or None once the stream ended (after its terminal event)."""
        if self._chunks is None:
            await self.open()
        assert self._chunks is not None
        try:
            event = cast(Any, await self._chunks.__anext__())
        except StopAsyncIteration:
            self.done = True
            return None
        if type(event) in CARRIES_RESPONSE:
            self.track(event)
        return cast(NativeEvent, event)

    def track(self, event: NativeEvent) -> None:
        """Keep the `Response` the event carries (or fails), saying who answered and what was not sent."""
        response = latest_response(event, self._response)
        if response is not self._response and response is not None and self._chunks is not None:
            response.warnings = list(self._chunks.warnings)
            response.provider = self._chunks.provider
            self._response = response

    @property
    def response(self) -> Response | None:
        """The latest `Response` of the stream (the final one once it ended), with the request's warnings."""
        return self._response

    async def aclose(self) -> None:
        if self._chunks is not None:
            await self._chunks.aclose()
