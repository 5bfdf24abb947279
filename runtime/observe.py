"""The one seam every operation goes through: `observe(...)` opens an `Observation` per call, which feeds the
OpenTelemetry span and metrics (when a provider is configured) and the model events (when someone listens).

An operation (chat, embeddings, images, ...) calls `observe` with its name and requested model, then
`first_chunk` / `content` while it runs and `finish` or `fail` once; `observe` returns None when nothing
listens, so an unobserved call costs one check. Layers below the client report into the call's observation
through `CURRENT` (a context variable) without knowing who listens: the provider instance names its target and
server (`target`), the retry loop its retries, the router its fallback hops.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from vllora_llm.engine.gateway import ToolCall, Usage

from .auth import redact
from .otel import Instruments, Telemetry, _api, traceparent_headers

if TYPE_CHECKING:  # (the event types are imported when a call has listeners: `events.py`)
    from .events import EventCallback

__all__ = [
    "CAPTURE_CONTENT_ENV", "CURRENT", "Observation", "Operation", "ToolObservation", "capture_content", "observe",
]

CURRENT: ContextVar[Observation | None] = ContextVar("vllora_llm_observation", default=None)
"""The observation of the call running in this context, for the layers below the client to report into."""

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_CAPTURE_VALUES = frozenset({"true", "1", "yes", "span_only", "span_and_event"})

Attributes = dict[str, Any]
OTHER = "_OTHER"
"""`gen_ai.provider.name` when the instance does not say (the conventions' value for an unknown one)."""
ContentFn = Callable[[], Mapping[str, Any]]


def capture_content() -> bool:
    """Whether message content goes on spans: only when the application opts in through the environment."""
    return os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() in _CAPTURE_VALUES


@dataclass(frozen=True, slots=True)
class Operation:
    """What the conventions record for one kind of operation: its `gen_ai.operation.name`, its
    `gen_ai.request.*` attributes and its opt-in input content (both read from the request only when a span
    records them). Chat is `genai_chat.CHAT`; each new operation declares its own."""

    name: str
    request_attributes: Callable[[Any, bool], Attributes]
    """(request, stream) → attributes."""
    input_content: Callable[[Any], Mapping[str, Any]]
    """request → conventions-shaped content (`gen_ai.input.messages`, ...), JSON-encoded when recorded."""
    output_tokens: bool = True
    """Whether the operation produces tokens (embeddings do not: only input tokens are recorded)."""


def observe(
    telemetry: Telemetry,
    listeners: tuple[EventCallback, ...],
    operation: Operation,
    model: str,
    request: Any,
    *,
    stream: bool,
    provider_name: str | None = None,
) -> Observation | None:
    """An observation of one `operation` call of `request` on `model`, or None when no span, metric or
    callback wants it (then the call costs this check and nothing else)."""
    instruments = telemetry.instruments()
    if instruments is None and not listeners:
        return None
    return Observation(operation, model, request, stream=stream, instruments=instruments, listeners=listeners,
                       provider_name=provider_name)


class Observation:
    """One operation call as seen by telemetry; ended exactly once by `finish` or `fail`."""

    __slots__ = ("_address", "_content", "_ended", "_first_chunk", "_input_content", "_instruments", "_listeners",
                 "_output_tokens", "_port", "_secrets", "_span", "_started", "model", "operation", "provider_name",
                 "stream")

    def __init__(
        self,
        operation: Operation,
        model: str,
        request: Any,
        *,
        stream: bool,
        instruments: Instruments | None,
        listeners: tuple[EventCallback, ...],
        provider_name: str | None,
    ) -> None:
        self.operation = operation.name
        self._output_tokens = operation.output_tokens
        self.model = model
        self.stream = stream
        self.provider_name = provider_name
        self._instruments = instruments
        self._listeners = listeners
        self._address: str | None = None
        self._port: int | None = None
        self._secrets: tuple[str, ...] = ()
        self._first_chunk: float | None = None
        self._ended = False
        self._input_content: ContentFn = lambda: operation.input_content(request)
        self._content = instruments is not None and instruments.tracer is not None and capture_content()
        self._span: Any = None
        self._started = time.perf_counter()
        if instruments is not None and instruments.tracer is not None:
            attributes: Attributes = {"gen_ai.operation.name": operation.name, "gen_ai.request.model": model}
            if provider_name is not None:
                attributes["gen_ai.provider.name"] = provider_name
            attributes.update(operation.request_attributes(request, stream))
            trace = _api().trace
            self._span = instruments.tracer.start_span(
                f"{operation.name} {model}", kind=trace.SpanKind.CLIENT, attributes=attributes
            )
        if listeners:
            from .events import LlmStart, emit  # (imported when someone listens)
            emit(listeners, LlmStart(operation.name, model, provider_name, request))

    @property
    def span(self) -> Any:
        """The OpenTelemetry span (None when no tracer provider is configured)."""
        return self._span

    @property
    def ended(self) -> bool:
        return self._ended

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Inside the block, the layers below report to this observation (`CURRENT`), and this call's span is
        the current OpenTelemetry span (so spans made by other instrumentation nest under it)."""
        token = CURRENT.set(self)
        span_token = None
        if self._span is not None:
            from opentelemetry import context

            span_token = context.attach(_api().trace.set_span_in_context(self._span))
        try:
            yield
        finally:
            if span_token is not None:
                context.detach(span_token)
            CURRENT.reset(token)

    # ---- reports from the layers below ---------------------------------------------------------------------

    def target(self, provider_name: str, url: str, secrets: tuple[str, ...]) -> None:
        """The provider (its conventions name) and server an attempt goes to; the last one is who answered."""
        self.provider_name = provider_name
        self._secrets = secrets
        parts = urlsplit(url)
        self._address = parts.hostname
        try:
            self._port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None)
        except ValueError:
            self._port = None
        span = self._span
        if span is not None:
            span.set_attribute("gen_ai.provider.name", provider_name)
            if self._address:
                span.set_attribute("server.address", self._address)
            if self._port is not None:
                span.set_attribute("server.port", self._port)

    def trace_headers(self) -> dict[str, str]:
        """W3C trace-context headers that make the provider's own spans children of this call's span."""
        return traceparent_headers(self._span) if self._span is not None else {}

    def retry(self, provider_name: str, attempt: int, err: BaseException, delay: float) -> None:
        span = self._span
        if span is not None:
            attributes: Attributes = {"gen_ai.provider.name": provider_name, "vllora.retry.attempt": attempt,
                                      "vllora.retry.delay_s": delay, "error.type": type(err).__name__}
            status = getattr(err, "status", None)
            if isinstance(status, int):
                attributes["http.response.status_code"] = status
            span.add_event("vllora.retry", attributes)
        if self._listeners:
            from .events import Retry, emit  # (imported when someone listens)
            emit(self._listeners, Retry(provider_name, attempt, err, delay))

    def fallback(self, source: tuple[str, str], destination: tuple[str, str], err: BaseException) -> None:
        """The router moves from `source` (provider spec, model) to `destination` after `err`."""
        span = self._span
        if span is not None:
            span.add_event("vllora.fallback", {
                "vllora.fallback.from": "/".join(source), "vllora.fallback.to": "/".join(destination),
                "error.type": type(err).__name__,
            })
        if self._listeners:
            from .events import Fallback, emit  # (imported when someone listens)
            emit(self._listeners, Fallback(source[0], source[1], destination[0], destination[1], err))

    # ---- reports from the operation ------------------------------------------------------------------------

    def first_chunk(self) -> None:
        elapsed = time.perf_counter() - self._started
        self._first_chunk = elapsed
        if self._span is not None:
            self._span.set_attribute("gen_ai.response.time_to_first_chunk", elapsed)
        instruments = self._instruments
        if instruments is not None and instruments.first_chunk is not None:
            instruments.first_chunk.record(elapsed, self._metric_attributes(None, None))
        if self._listeners:
            from .events import LlmFirstToken, emit  # (imported when someone listens)
            emit(self._listeners, LlmFirstToken(elapsed))

    def content(self, text: str) -> None:
        """Text the model produced (events only: spans carry content through `finish`'s `output_content`)."""
        if self._listeners:
            from .events import LlmContent, emit  # (imported when someone listens)
            emit(self._listeners, LlmContent(text))

    def wants_content(self) -> bool:
        """Whether `content` reaches anyone (so a stream can skip looking for text in its chunks)."""
        return bool(self._listeners)

    def finish(
        self,
        *,
        response_id: str | None = None,
        response_model: str | None = None,
        finish_reasons: Sequence[str] = (),
        usage: Usage | None = None,
        output_content: ContentFn | None = None,
        tool_calls: Sequence[ToolCall] = (),
    ) -> None:
        """The call ended well (a stream ended, or was left early with what it had): end the span, record."""
        if self._ended:
            return
        self._ended = True
        duration = time.perf_counter() - self._started
        cost = usage.cost if usage is not None else None
        span = self._span
        if span is not None:
            attributes: Attributes = {}
            if response_id:
                attributes["gen_ai.response.id"] = response_id
            if response_model:
                attributes["gen_ai.response.model"] = response_model
            if finish_reasons:
                attributes["gen_ai.response.finish_reasons"] = list(finish_reasons)
            if usage is not None:
                attributes.update(usage_attributes(usage))
                if not self._output_tokens:
                    del attributes["gen_ai.usage.output_tokens"]
            if cost is not None:
                attributes["vllora.cost.usd"] = cost
            if self.provider_name is None:  # required: an instance that never named its provider
                attributes["gen_ai.provider.name"] = OTHER
            if self._content:
                self._add_content(attributes, output_content)
            span.set_attributes(attributes)
            span.end()
        instruments = self._instruments
        if instruments is not None and instruments.duration is not None:
            metric_attributes = self._metric_attributes(response_model, None)
            instruments.duration.record(duration, metric_attributes)
            if usage is not None:
                instruments.token_usage.record(usage.prompt_tokens, {**metric_attributes, "gen_ai.token.type": "input"})
                if self._output_tokens:
                    instruments.token_usage.record(usage.completion_tokens,
                                                   {**metric_attributes, "gen_ai.token.type": "output"})
        if self._listeners:
            from .events import LlmStop, emit  # (imported when someone listens)
            emit(self._listeners, LlmStop(self.provider_name, response_model, usage,
                                          finish_reasons[0] if finish_reasons else None, cost, list(tool_calls)))

    def fail(self, err: BaseException) -> None:
        """The call failed or was cancelled: `error.type`, an ERROR status, the duration; then the span ends."""
        if self._ended:
            return
        self._ended = True
        error_type = type(err).__name__
        span = self._span
        if span is not None:
            trace = _api().trace
            attributes: Attributes = {"error.type": error_type}
            if self.provider_name is None:
                attributes["gen_ai.provider.name"] = OTHER
            if self._content:
                self._add_content(attributes, None)
            span.set_attributes(attributes)
            span.set_status(trace.Status(trace.StatusCode.ERROR, redact(str(err), self._secrets)[:500]))
            span.end()
        instruments = self._instruments
        if instruments is not None and instruments.duration is not None:
            instruments.duration.record(time.perf_counter() - self._started,
                                        self._metric_attributes(None, error_type))
        if self._listeners:
            from .events import LlmError, emit  # (imported when someone listens)
            emit(self._listeners, LlmError(err))

    def tool(self, name: str, call_id: str, arguments: str) -> ToolObservation:
        """A tool call the library runs itself (the MCP loop): a child `execute_tool {name}` span and the
        `ToolStart` event now; `ToolResult` and the span's end when the returned object is finished."""
        return ToolObservation(self, name, call_id, arguments)

    # ---- helpers -------------------------------------------------------------------------------------------

    def _metric_attributes(self, response_model: str | None, error_type: str | None) -> Attributes:
        attributes: Attributes = {"gen_ai.operation.name": self.operation, "gen_ai.request.model": self.model,
                                  "gen_ai.provider.name": self.provider_name or OTHER}
        if response_model:
            attributes["gen_ai.response.model"] = response_model
        if self._address:
            attributes["server.address"] = self._address
        if self._port is not None:
            attributes["server.port"] = self._port
        if error_type is not None:
            attributes["error.type"] = error_type
        return attributes

    def _add_content(self, attributes: Attributes, output_content: ContentFn | None) -> None:
        """The opted-in content as JSON strings, with the call's secrets redacted."""
        for source in (self._input_content, output_content):
            if source is None:
                continue
            for key, value in source().items():
                attributes[key] = redact(json.dumps(value, ensure_ascii=False), self._secrets)


def usage_attributes(usage: Usage) -> Attributes:
    """`gen_ai.usage.*` from the unified usage (its prompt count already includes cached input, as the
    conventions define `input_tokens`; its completion count includes reasoning)."""
    attributes: Attributes = {"gen_ai.usage.input_tokens": usage.prompt_tokens,
                              "gen_ai.usage.output_tokens": usage.completion_tokens}
    prompt = usage.prompt_tokens_details
    if prompt is not None:
        if prompt.cached_tokens is not None:
            attributes["gen_ai.usage.cache_read.input_tokens"] = prompt.cached_tokens
        if prompt.cache_creation_tokens is not None:
            attributes["gen_ai.usage.cache_creation.input_tokens"] = prompt.cache_creation_tokens
    completion = usage.completion_tokens_details
    if completion is not None and completion.reasoning_tokens is not None:
        attributes["gen_ai.usage.reasoning.output_tokens"] = completion.reasoning_tokens
    return attributes


class ToolObservation:
    """One tool call inside an observed operation; `finish` (or `fail`) once."""

    __slots__ = ("_ended", "_owner", "_span", "call_id", "name")

    def __init__(self, owner: Observation, name: str, call_id: str, arguments: str) -> None:
        self._owner = owner
        self.name = name
        self.call_id = call_id
        self._ended = False
        self._span: Any = None
        parent = owner.span
        if parent is not None:
            trace = _api().trace
            attributes: Attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name,
                                      "gen_ai.tool.call.id": call_id, "gen_ai.tool.type": "function"}
            if owner._content:
                attributes["gen_ai.tool.call.arguments"] = redact(arguments, owner._secrets)
            self._span = _tracer_of(owner).start_span(
                f"execute_tool {name}", context=trace.set_span_in_context(parent), kind=trace.SpanKind.INTERNAL,
                attributes=attributes)
        if owner._listeners:
            from .events import ToolStart, emit  # (imported when someone listens)
            emit(owner._listeners, ToolStart(name, call_id, arguments))

    def finish(self, output: str, *, is_error: bool = False) -> None:
        """The tool returned `output` (`is_error`: it reported a failure, which is its result)."""
        if self._ended:
            return
        self._ended = True
        span = self._span
        if span is not None:
            if self._owner._content:
                span.set_attribute("gen_ai.tool.call.result", redact(output, self._owner._secrets))
            if is_error:
                span.set_attribute("error.type", "tool_error")
                span.set_status(_api().trace.Status(_api().trace.StatusCode.ERROR))
            span.end()
        if self._owner._listeners:
            from .events import ToolResult, emit  # (imported when someone listens)
            emit(self._owner._listeners, ToolResult(self.name, self.call_id, output, is_error))

    def fail(self, err: BaseException) -> None:
        """Running the tool raised: the span records `error.type`; the result event carries the message."""
        if self._ended:
            return
        span = self._span
        if span is not None:
            span.set_attribute("error.type", type(err).__name__)
            trace = _api().trace
            span.set_status(trace.Status(trace.StatusCode.ERROR, redact(str(err), self._owner._secrets)[:500]))
            span.end()
            self._span = None
        self.finish(str(err), is_error=True)


def _tracer_of(observation: Observation) -> Any:
    instruments = observation._instruments
    assert instruments is not None and instruments.tracer is not None  # a span exists only with a tracer
    return instruments.tracer
