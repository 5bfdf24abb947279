"""The async client (the crate's `VlloraLLMClient`): a thin, typed front over one `ModelInstance`.

It accepts requests as the typed struct, a dict in OpenAI's JSON shape, or JSON text, and hands streams back
as a `ResultStream` that can be iterated directly, awaited (to surface HTTP errors before the first chunk)
or used as an async context manager, and that aggregates what it yielded into the whole response
(`result_stream.py`; the embeddings and images clients: `operation_clients.py`).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import msgspec

from vllora_llm.engine.errors import InvalidRequestError
from vllora_llm.engine.gateway import ChatCompletionMessageWithFinishReason, ChatCompletionRequest, JsonSchemaFormat
from vllora_llm.engine.typed_output import ParsedChatCompletion, is_output_type, parsed_completion, response_format_for

from . import otel
from .genai_chat import CHAT, finish_chat
from .instance import ModelInstance, ProviderModelInstance
from .observe import Observation, observe
from .otel import Telemetry
from .result_stream import ObservedResultStream, ResultStream
from .transport import Timeouts, call_timeouts

if TYPE_CHECKING:
    from vllora_llm.engine.mcp_types import McpDefinition

    from .caches_client import CachesClient
    from .events import EventCallback
    from .operation_clients import EmbeddingsClient, ImagesClient
    from .python_tool import FunctionTool
    from .response_store import ResponseStore
    from .responses import ResponsesClient
    from .tool_loop import ToolLoop

__all__ = ["CompletionsClient", "EmbeddingsClient", "ImagesClient", "RequestLike", "ResultStream", "VlloraLLMClient"]

RequestLike: TypeAlias = ChatCompletionRequest | dict[str, Any] | bytes | str
"""Anything `ChatCompletionRequest.coerce` accepts."""

T = TypeVar("T")
_MODULES = sys.modules


def __getattr__(name: str) -> Any:
    """`EmbeddingsClient` / `ImagesClient`, imported on first use (`operation_clients.py`)."""
    if name in ("EmbeddingsClient", "ImagesClient"):
        from . import operation_clients

        return getattr(operation_clients, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def asking_for(request: RequestLike, output: type[Any]) -> ChatCompletionRequest:
    """`request` with the `json_schema` response format of `output` (a msgspec Struct or pydantic model class)."""
    if isinstance(request, dict) and is_output_type(request.get("response_format")):
        request = {k: v for k, v in request.items() if k != "response_format"}
    format_ = JsonSchemaFormat.from_dict(response_format_for(output))
    return msgspec.structs.replace(ChatCompletionRequest.coerce(request), response_format=format_)


class CompletionsClient:
    """Chat completions against one model instance (the crate's `CompletionsClient`).

    Every call goes through the telemetry seam (`observe`): with no tracer or meter provider configured and no
    event callback, that is one check; otherwise the call gets its span, metrics and model events.
    A request naming `mcp_servers` (or a client with MCP / Python tool defaults, or a call given `tools=`) runs
    through the tool loop (`runtime/tool_loop.py`); every other request goes straight to the instance."""

    __slots__ = ("_instance", "_listeners", "_loop", "_owner", "_routes", "_telemetry")

    def __init__(
        self,
        instance: ModelInstance,
        loop: ToolLoop | None = None,
        *,
        events: EventCallback | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._instance = instance
        self._loop = loop
        self._routes: dict[str, Any] | None = getattr(instance, "mcp_defaults", None) or None
        """A routing file's `defaults.mcp_servers` by model (looked up once here, not per call)."""
        self._listeners: tuple[EventCallback, ...] = () if events is None else (events,)
        self._telemetry = telemetry or Telemetry()
        self._owner: CompletionsClient | None = None
        """The observed client an `unobserved()` twin shares its tool loop with."""

    def unobserved(self) -> CompletionsClient:
        """This client without spans, metrics or events, sharing its instance and tool loop: for an operation
        that observes the call itself (the Responses API), so one call is one span and its tokens count once."""
        twin = CompletionsClient(self._instance, self._loop, telemetry=Telemetry.off())
        twin._owner = self
        return twin

    def _observe(
        self, request: ChatCompletionRequest, stream: bool, events: EventCallback | None
    ) -> Observation | None:
        listeners = self._listeners if events is None else (*self._listeners, events)
        return observe(self._telemetry, listeners, CHAT, request.model, request, stream=stream,
                       provider_name=self._instance.otel_provider_name)

    def _tool_loop(self) -> ToolLoop:
        if self._owner is not None:  # one loop (and its MCP connections) per client, closed with it
            self._loop = self._owner._tool_loop()
        if self._loop is None:
            from .tool_loop import ToolLoop  # lazily: most clients never run a tool loop

            self._loop = ToolLoop()
        return self._loop

    def _uses_loop(self, request: ChatCompletionRequest, tools: Sequence[FunctionTool] | None) -> bool:
        return request.mcp_servers is not None or tools is not None or (
            self._loop is not None and self._loop.applies(request, tools)
        )

    def _with_route_defaults(self, request: ChatCompletionRequest) -> ChatCompletionRequest:
        """A routing file's `defaults: {mcp_servers: [...]}` for the request's model, when it names none."""
        routes = self._routes
        if routes is None or request.mcp_servers is not None or request.model not in routes:
            return request
        from vllora_llm.engine.mcp_types import coerce_definitions

        servers = coerce_definitions(routes[request.model], path=f"{request.model}.defaults.mcp_servers")
        return msgspec.structs.replace(request, mcp_servers=servers)

    async def create(
        self,
        request: RequestLike,
        *,
        timeout: Timeouts | float | None = None,
        events: EventCallback | None = None,
        tools: Sequence[FunctionTool] | None = None,
        max_tool_steps: int | None = None,
        tool_timeout: float | None = None,
    ) -> ChatCompletionMessageWithFinishReason:
        """One whole completion. `timeout` (a `Timeouts` or seconds) replaces the client's for this call (for
        each model call of a tool loop); `events` receives this call's model events (besides the client's
        callback). `tools` (functions made with `vllora_llm.tool.tool`), `max_tool_steps` and `tool_timeout`
        (seconds per tool call) set the tool loop for this call. A `response_format` that is a class in a dict
        request is `parse()`."""
        if type(request) is dict and is_output_type(output := request.get("response_format")):
            return await self.parse(request, output, timeout=timeout, events=events, tools=tools,
                                    max_tool_steps=max_tool_steps, tool_timeout=tool_timeout)
        builtins: dict[str, Any] | None
        if type(request) is ChatCompletionRequest:  # (`coerce_with_builtins`' first case inline: no call of its own)
            coerced, builtins = request, request.validated_builtins()
        else:
            coerced, builtins = ChatCompletionRequest.coerce_with_builtins(request)
        if self._routes is not None:
            coerced = self._with_route_defaults(coerced)
        # `observe`'s own check first, inline: most calls have nobody listening, and no OpenTelemetry API imported
        # (`otel.TRACE_API`: then `instruments()` would answer None; told here without calling it)
        # (the listeners tuple's truth itself, not `bool()` of it: a call less; `observed` is only tested)
        observed = events is not None or self._listeners or (
            (otel.FROM_ENV is not False or otel.TRACE_API in _MODULES or otel.METRICS_API in _MODULES)
            and self._telemetry.instruments() is not None)
        observation = self._observe(coerced, False, events) if observed else None
        if coerced.mcp_servers is not None or tools is not None or (  # (`_uses_loop`, inline)
                self._loop is not None and self._loop.applies(coerced, tools)):
            instance = self._instance

            async def model_call(turn: ChatCompletionRequest) -> ChatCompletionMessageWithFinishReason:
                with call_timeouts(timeout):
                    return await instance.complete(turn)

            run = self._tool_loop().complete(
                model_call, coerced, tools=tools, max_tool_steps=max_tool_steps, tool_timeout=tool_timeout
            )
            if observation is None:
                return await run
            try:
                with observation.active():  # the loop's model calls and tool calls report to this call
                    result = await run
            except BaseException as err:
                observation.fail(err)
                raise
            finish_chat(observation, result)
            return result
        if observation is not None:
            return await self._create_observed(observation, coerced, builtins, timeout)
        if timeout is None:
            return await self._instance.complete_validated(coerced, builtins)
        with call_timeouts(timeout):
            return await self._instance.complete_validated(coerced, builtins)

    async def parse(
        self,
        request: RequestLike,
        response_format: type[T],
        *,
        timeout: Timeouts | float | None = None,
        events: EventCallback | None = None,
        tools: Sequence[FunctionTool] | None = None,
        max_tool_steps: int | None = None,
        tool_timeout: float | None = None,
    ) -> ParsedChatCompletion[T]:
        """`create`, asking for `response_format` (a msgspec Struct or pydantic model class): its JSON schema
        is sent as a `json_schema` response format, and the answer comes back validated into an instance,
        `.parsed` (None when the model refused). `StructuredOutputError` when the answer does not fit."""
        result = await self.create(asking_for(request, response_format), timeout=timeout, events=events,
                                   tools=tools, max_tool_steps=max_tool_steps, tool_timeout=tool_timeout)
        return parsed_completion(response_format, result)

    async def _create_observed(
        self,
        observation: Observation,
        request: ChatCompletionRequest,
        builtins: dict[str, Any] | None,
        timeout: Timeouts | float | None,
    ) -> ChatCompletionMessageWithFinishReason:
        try:
            with observation.active(), call_timeouts(timeout):
                result = await self._instance.complete_validated(request, builtins)
        except BaseException as err:
            observation.fail(err)
            raise
        if observation.wants_content() and result.choices:
            text = result.choices[0].message.text()
            if text:
                observation.content(text)
        finish_chat(observation, result)
        return result

    def create_stream(
        self,
        request: RequestLike,
        *,
        timeout: Timeouts | float | None = None,
        aggregate: bool = True,
        events: EventCallback | None = None,
        tools: Sequence[FunctionTool] | None = None,
        max_tool_steps: int | None = None,
        tool_timeout: float | None = None,
    ) -> ResultStream:
        """A streamed completion; see `ResultStream` for the ways to consume it (and for `timeout`,
        `aggregate`); `events` receives this call's model events (besides the client's callback). Through
        the tool loop (see `create`), every turn's chunks and the tool events are yielded in order. A
        `response_format` that is a class (in a dict request) sends its JSON schema; `stream.parse(Class)` reads
        the streamed answer into it once the stream ended."""
        if type(request) is dict and is_output_type(output := request.get("response_format")):
            request = asking_for(request, output)
        validated, builtins = ChatCompletionRequest.coerce_with_builtins(request)
        coerced = self._with_route_defaults(validated)
        observed = events is not None or bool(self._listeners) or self._telemetry.instruments() is not None
        if self._uses_loop(coerced, tools):
            loop_stream = self._tool_loop().stream(
                self._instance,
                coerced,
                timeout=timeout,
                tools=tools,
                max_tool_steps=max_tool_steps,
                tool_timeout=tool_timeout,
            )
            if observed:  # the whole loop is one call: its turns, retries and tool spans report to it
                loop_stream.observe(partial(self._observe, coerced, True, events))
            return loop_stream
        if coerced is not validated:  # (route defaults replaced it: its plain form is not the one checked)
            builtins = None
        if not observed:
            return ResultStream(self._instance, coerced, timeout, aggregate, builtins)
        start = partial(self._observe, coerced, True, events)
        return ObservedResultStream(self._instance, coerced, timeout, start, aggregate, builtins)


class VlloraLLMClient:
    """The entry point: build it from a model instance or a provider spec, then call `completions()`,
    `embeddings()` or `images()`."""

    def __init__(
        self,
        instance: ModelInstance,
        *,
        events: EventCallback | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        mcp_servers: Sequence[McpDefinition | dict[str, Any]] | None = None,
        tools: Sequence[FunctionTool] | None = None,
        max_tool_steps: int = 8,
        tool_timeout: float | None = 60.0,
        response_store: ResponseStore | None = None,
    ) -> None:
        """`events` receives every call's model events (`vllora_llm.events`); spans and metrics go to the given
        OpenTelemetry providers, else to the global ones (none configured: nothing is recorded).
        `mcp_servers` and `tools` are offered on every request (a request's own `mcp_servers` replaces the
        default servers); `max_tool_steps` / `tool_timeout` are the tool loop's limits. `response_store` keeps
        the conversations `responses()` continues with `previous_response_id` (default: an in-memory LRU)."""
        self.instance = instance
        self.telemetry = Telemetry(tracer_provider, meter_provider)
        loop: ToolLoop | None = None
        if mcp_servers or tools or max_tool_steps != 8 or tool_timeout != 60.0:
            from vllora_llm.engine.mcp_types import coerce_definitions

            from .tool_loop import LoopSettings, ToolLoop

            servers = tuple(coerce_definitions(list(mcp_servers or [])))
            loop = ToolLoop(LoopSettings(servers, tuple(tools or ()), max_tool_steps, tool_timeout))
        self._completions = CompletionsClient(instance, loop, events=events, telemetry=self.telemetry)
        if response_store is None:
            from .response_store import InMemoryResponseStore

            response_store = InMemoryResponseStore()
        self.response_store: ResponseStore = response_store

    def __repr__(self) -> str:
        return f"VlloraLLMClient({self.instance!r})"

    @classmethod
    def new_with_instance(cls, instance: ModelInstance, **options: Any) -> VlloraLLMClient:
        """Wrap any `ModelInstance` (e.g. `DummyModelInstance()` for offline use); `options` are the observers
        (`events`, `tracer_provider`, `meter_provider`) and tool-loop defaults (`mcp_servers`, `tools`,
        `max_tool_steps`, `tool_timeout`) of `__init__`."""
        return cls(instance, **options)

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
        api_version: str | None = None,
        **options: Any,
    ) -> VlloraLLMClient:
        """A client for the provider spec `name` (found in `spec_path`, ``VLLORA_SPEC_PATH`` or the shipped
        specs), speaking its default API version or `api_version`, one the spec's `versions:` block declares
        (e.g. ``"2026-10-21"`` on Anthropic, ``"v1"`` on Gemini; another is a `MappingError` listing them).
        The key comes from `api_key` or the spec's environment variable; options named like the spec's
        endpoint placeholders fill them (``region="eu-west-1"`` for ``{region}``); other `options` go to
        `ProviderModelInstance` (e.g. `backoff_base`, `max_backoff`, `transport`), except the observers
        (`events`, `tracer_provider`, `meter_provider`: see `__init__`)."""
        from vllora_llm.engine.registry import load_plan  # lazily: the spec compiler is for real providers

        observers = _pop_observers(options)
        tool_options = _tool_options(options)
        plan = load_plan(name, spec_path, api_version)
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
        return cls(instance, **observers, **tool_options)

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

        observers = _pop_observers(options)
        tool_options = _tool_options(options)
        if options.get("extras") not in (None, "raw"):  # (checked here: the routes' instances are made on use)
            raise InvalidRequestError(f"extras: expected 'raw' or None, got {options['extras']!r}")
        config = load_routing(str(path), spec_path=spec_path) if path is not None else None
        instance = RouterModelInstance(
            config, spec_path=spec_path, timeout=timeout, max_retries=max_retries, **options
        )
        return cls(instance, **observers, **tool_options)

    def completions(self) -> CompletionsClient:
        return self._completions

    def embeddings(self) -> EmbeddingsClient:
        from .operation_clients import EmbeddingsClient  # lazily: most clients only chat

        return EmbeddingsClient(self.instance, self.telemetry, self._completions._listeners)

    def images(self) -> ImagesClient:
        from .operation_clients import ImagesClient

        return ImagesClient(self.instance, self.telemetry, self._completions._listeners)

    def caches(self) -> CachesClient:
        """The provider-side prompt caches this client created for `cache_control`-marked prefixes (list, get,
        delete); a `MappingError` when the client's provider has no `prompt_cache` operation."""
        from vllora_llm.engine.errors import MappingError

        from .caches_client import CachesClient

        caching = getattr(self.instance, "prompt_cache", None)
        if caching is None:
            name = getattr(getattr(self.instance, "plan", None), "name", type(self.instance).__name__)
            raise MappingError(f"{name} has no prompt_cache operation (caches() needs a client of a provider "
                               "whose spec declares one, made with from_provider)")
        return CachesClient(caching)

    def responses(self) -> ResponsesClient:
        """The Responses API (OpenAI's `CreateResponse` / `Response`), translated through the chat spec."""
        from .responses import ResponsesClient

        return ResponsesClient(self._completions, self.response_store)

    async def aclose(self) -> None:
        """Close the connection pool and the MCP connections (stopping the stdio servers it started)."""
        loop = self._completions._loop
        try:
            if loop is not None:
                await loop.aclose()
        finally:
            await self.instance.aclose()

    async def __aenter__(self) -> VlloraLLMClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _pop_observers(options: dict[str, Any]) -> dict[str, Any]:
    """The client's own keywords (`events`, `tracer_provider`, `meter_provider`), taken out of `options`."""
    return {key: options.pop(key) for key in ("events", "tracer_provider", "meter_provider", "response_store")
            if key in options}


_TOOL_OPTIONS = ("mcp_servers", "tools", "max_tool_steps", "tool_timeout")


def _tool_options(options: dict[str, Any]) -> dict[str, Any]:
    """The tool-loop keywords of `from_provider` / `from_config`, taken out of `options`."""
    return {key: options.pop(key) for key in _TOOL_OPTIONS if key in options}
