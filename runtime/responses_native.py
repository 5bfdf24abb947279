"""The Responses API on a provider whose spec declares the `responses` operation (served natively).

The request goes to the provider's own endpoint as given (the spec's params rules: what it cannot take is a
warning, never a silent drop), and the server keeps the conversation: `previous_response_id` and `store` are the
server's, the client's response store is not used. A whole response is decoded into the typed `Response`; a
stream yields the server's events, each decoded into its typed event (`OtherStreamEvent` for a type this library
does not know yet), with `stream.response` the final `Response`.

A stream that fails is never taken for an end, as with a translated one: the server's own `error` /
`response.failed` events are passed through, and one that breaks once open (cut, stalled) gets an `error` event
and `response.failed` (with the items done so far); then the next step raises the typed error (`stream.error`).
Telemetry and model events are those of a translated call (`genai_responses.py`: one `chat` span, ended from the
`Response`), so both record the same.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import msgspec

from vllora_llm.engine.errors import LLMError, RateLimitError, StreamError
from vllora_llm.engine.responses_native import CARRIES_RESPONSE, NativeEvent, latest_response
from vllora_llm.engine.responses_stream import failure_code
from vllora_llm.engine.responses_types import (
    CreateResponse,
    ErrorEvent,
    OutputItemDoneEvent,
    OutputTextDeltaEvent,
    Response,
    ResponseError,
    ResponseFailedEvent,
)

from .genai_responses import finish_responses, input_content, request_attributes
from .observe import Observation, Operation, observe
from .responses_base import ResponsesStream
from .transport import Timeouts, call_timeouts, unkept_stream

if TYPE_CHECKING:
    from .client import CompletionsClient
    from .instance import ChunkStream

OPERATION = "responses"


def _input_content(request: CreateResponse) -> Mapping[str, Any]:
    """The opt-in input content, in the chat shapes a translated call records; a native request may hold what no
    chat request can (a built-in tool, an `item_reference`): then no input messages are recorded for it."""
    try:
        return input_content(request)
    except LLMError:
        return {"gen_ai.input.messages": []}


NATIVE_RESPONSES = Operation("chat", request_attributes, _input_content)
"""A natively served Responses call, as the telemetry seam sees it (a translated one is `genai_responses.RESPONSES`)."""


def observe_native(completions: CompletionsClient, request: CreateResponse, stream: bool) -> Observation | None:
    """The call's observation (span, metrics, model events), or None when nothing listens."""
    return observe(completions._telemetry, completions._listeners, NATIVE_RESPONSES, request.model, request,
                   stream=stream, provider_name=completions._instance.otel_provider_name)


async def create_native(completions: CompletionsClient, request: CreateResponse,
                        timeout: Timeouts | float | None, builtins: dict[str, Any] | None = None) -> Response:
    """One whole response from the provider's Responses endpoint; `builtins`: the request's plain-data form the
    client's check produced (the plan renders from it instead of converting the request again)."""
    instance = completions._instance
    observation = observe_native(completions, request, False)
    try:
        with call_timeouts(timeout) if timeout is not None else contextlib.nullcontext(), (
                observation.active() if observation is not None else contextlib.nullcontext()):
            response = cast(Response, await instance.run_operation_validated(OPERATION, request, builtins))
    except BaseException as err:
        if observation is not None:
            observation.fail(err)
        raise
    if observation is not None:
        if observation.wants_content() and response.output_text:
            observation.content(response.output_text)
        finish_responses(observation, response)
    return response


class NativeResponseStream(ResponsesStream["ChunkStream"]):
    """The events of one natively streamed response: `async for event in ...`, `stream = await ...` (HTTP errors
    raise there) or `async with ... as stream`; `response` is the final `Response` once the events ended.
    Leaving early closes the HTTP response at once."""

    __slots__ = ("_builtins", "_completions", "_items", "_last", "_pending", "_request", "_timeout")

    def __init__(self, completions: CompletionsClient, request: CreateResponse,
                 timeout: Timeouts | float | None, builtins: dict[str, Any] | None = None) -> None:
        """`builtins`: the request's plain-data form the client's check produced (see `create_native`)."""
        super().__init__()
        self._completions = completions
        self._request = request
        self._builtins = builtins
        self._timeout = None if timeout is None else Timeouts.coerce(timeout)
        self._pending: deque[Any] = deque()
        """The open stream's own queue of decoded events (when it shows one): popped here, no await per event."""
        self._items: dict[int, Any] = {}
        """The output items done so far, by output index (what a failed response holds)."""
        self._last = -1

    async def _open(self) -> ChunkStream:
        if self._chunks is None:
            if self._closed:
                raise RuntimeError("this stream was closed before it was opened")
            observation = self._observation = observe_native(self._completions, self._request, True)
            builtins, self._builtins = self._builtins, None  # (consumed by the first open, even a failed one)
            try:
                with call_timeouts(self._timeout), unkept_stream(), (  # only the latest Response is kept
                        observation.active() if observation is not None else contextlib.nullcontext()):
                    self._chunks = await self._completions._instance.open_operation_stream_validated(
                        OPERATION, self._request, builtins)
            except BaseException as err:
                if observation is not None:
                    observation.fail(err)
                raise
            pending = getattr(self._chunks, "pending", None)
            if isinstance(pending, deque):
                self._pending = pending
        return self._chunks

    async def __anext__(self) -> NativeEvent:
        pending = self._pending
        if pending and not self._closed and (self._observation is None or self._done):  # decoded already: no await
            event = pending.popleft()
            if type(event) in CARRIES_RESPONSE or type(event) is OutputItemDoneEvent:
                self._track(event)
            self._last = event.sequence_number
            return event  # type: ignore[no-any-return]
        return await self._next()

    async def _next(self) -> NativeEvent:
        if self._closed or self._done:
            if self._raise is not None:
                failed, self._raise = self._raise, None
                raise failed
            raise StopAsyncIteration
        chunks = self._chunks if self._chunks is not None else await self._open()
        observation = self._observation
        try:
            event = cast(Any, await (chunks.__anext__() if observation is None else self._observed(observation)))
        except StopAsyncIteration:
            self._done = True
            return await self._end()
        except LLMError as err:  # broken once open: its events first, the error at the next step
            self._done = True
            self._failure = self._raise = err
            if observation is not None:
                observation.fail(err)
            return self._fail(err)
        except BaseException as err:  # cancelled (or a bug): the span says so, the exception goes on
            if observation is not None:
                observation.fail(err)
            raise
        self._track(event)
        self._last = event.sequence_number
        return cast(NativeEvent, event)

    async def _observed(self, observation: Observation) -> Any:
        """The next event, reported: the first one's time, and text deltas to model-event listeners."""
        event = await self._observed_next(observation)
        if observation.wants_content() and isinstance(event, OutputTextDeltaEvent):
            observation.content(event.delta)
        return event

    async def _end(self) -> NativeEvent:
        """The stream ended after its terminal event: a failure the server reported is raised, typed."""
        response = self._response
        observation = self._observation
        if response is not None and response.status == "failed":
            error = response.error
            message = error.message if error is not None else "the response failed"
            kind = error.code if error is not None else None
            err: LLMError = (RateLimitError if kind == "rate_limit_exceeded" else StreamError)(
                message, provider=self.provider, error_type=kind)
            self._failure = err
            if observation is not None:
                observation.fail(err)
            raise err
        if observation is not None and response is not None:
            finish_responses(observation, response)
        raise StopAsyncIteration

    def _fail(self, err: LLMError) -> NativeEvent:
        """An `error` event now and `response.failed` next (with the items done so far)."""
        code = failure_code(err)
        base = self._response or Response(id="", created_at=0.0, model=self._request.model)
        items = [self._items[index] for index in sorted(self._items)]
        self._response = msgspec.structs.replace(base, status="failed", output=items,
                                                 error=ResponseError(code=code, message=str(err)))
        self._say_who(self._response)
        self._pending = deque([ResponseFailedEvent(sequence_number=self._last + 2, response=self._response)])
        return ErrorEvent(sequence_number=self._last + 1, message=str(err), code=code)

    def _track(self, event: Any) -> None:
        """Keep the `Response` an event carries (or fails), and the items done so far."""
        if type(event) is OutputItemDoneEvent:
            self._items[event.output_index] = event.item
            return
        if type(event) not in CARRIES_RESPONSE:
            return
        current = self._response
        if current is None and type(event) is ErrorEvent:  # an error before any response: fail an empty one
            current = Response(id="", created_at=0.0, model=self._request.model, status="in_progress")
        response = latest_response(event, current)
        if response is not self._response and response is not None:
            self._say_who(response)
            self._response = response

    def _say_who(self, response: Response) -> None:
        """Each `Response` says who answered and what could not be sent."""
        chunks = self._chunks
        if chunks is not None:
            response.warnings = list(chunks.warnings)
            response.provider = chunks.provider

    def _report_partial(self, observation: Observation) -> None:
        items = [self._items[index] for index in sorted(self._items)]
        base = self._response or Response(id="", created_at=0.0, model=self._request.model)
        finish_responses(observation, msgspec.structs.replace(base, output=items))
