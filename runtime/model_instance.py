"""What a client calls: the model-instance contract, the chunk stream it hands out, the plan contract the
spec-driven instance compiles against, and the offline `DummyModelInstance` (scripted answers, no HTTP).

The spec-driven `ProviderModelInstance` (instance.py) implements the same contract over HTTP.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from vllora_llm.engine.errors import LLMError, MappingError
from vllora_llm.engine.gateway import (
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionMessageWithFinishReason,
    ChatCompletionRequest,
    Choice,
    ChoiceDelta,
    ChunkChoice,
    RequestWarning,
    Usage,
)
from vllora_llm.engine.wire import AuthSpec, WireRequest

from .script import Script, ScriptStep
from .script import deltas as script_deltas
from .script import finish_reason as script_finish_reason
from .script import tool_call as script_tool_call

if TYPE_CHECKING:  # (the spec compiler is imported only by clients built from a spec)
    from vllora_llm.engine.gateway_ops import OperationInput, OperationResult
    from vllora_llm.engine.operations import OperationPlan
    from vllora_llm.engine.params import Policy


# ---- the plan contract (engine/plan.py implements it) ------------------------------------------------------


class Framer(Protocol):
    """A push parser cutting a byte stream into frames (SSE events, event-stream messages)."""

    def feed(self, chunk: bytes) -> Sequence[Any]: ...

    def close(self) -> Sequence[Any]: ...


class StreamDecoder(Protocol):
    """A plan's per-stream state machine: frames in, unified chunks out; `close` checks the terminal event."""

    def feed(self, frame: Any) -> list[ChatCompletionChunk]: ...

    def close(self) -> list[ChatCompletionChunk]: ...

    @property
    def warnings(self) -> list[RequestWarning]:
        """What the mapping warns about once the stream ended (a rule that gave nothing)."""
        ...


class ProviderPlan(Protocol):
    """What the runtime needs from a compiled provider spec."""

    @property
    def name(self) -> str: ...

    @property
    def auth(self) -> AuthSpec: ...

    @property
    def framing(self) -> str: ...

    def encode(
        self,
        request: ChatCompletionRequest,
        *,
        stream: bool = False,
        base_url: str | None = None,
        builtins: dict[str, Any] | None = None,
    ) -> tuple[WireRequest, list[RequestWarning]]: ...

    def decode(self, status: int, headers: Mapping[str, str], body: bytes, *, raw: bool = False
               ) -> ChatCompletionMessageWithFinishReason: ...

    def decode_body(self, body: bytes) -> ChatCompletionMessageWithFinishReason:
        """A 2xx body → the result (`decode` of a 2xx without `raw`), called directly on the call path."""
        ...

    def error(self, status: int, headers: Mapping[str, str], body: bytes) -> LLMError: ...

    def stream_decoder(self, *, raw: bool = False) -> StreamDecoder: ...

    def operation(self, name: str) -> OperationPlan: ...

    def resolve_base_url(self, base_url: str | None = None) -> str: ...


# ---- the abstract shape ------------------------------------------------------------------------------------


class ChunkStream(ABC):
    """An opened stream of chunks (its HTTP headers, if any, have arrived), with the request's warnings."""

    warnings: list[RequestWarning]
    provider: str | None = None
    """The provider spec that answered (set by spec-driven streams and the router), like a response's."""
    model: str | None = None
    """The model that answered when the chunks may not say (the router's target), else None."""

    def __aiter__(self) -> ChunkStream:
        return self

    @abstractmethod
    async def __anext__(self) -> ChatCompletionChunk: ...

    def ready(self) -> ChatCompletionChunk | None:
        """The next chunk if it is already decoded (so a wrapper can skip awaiting `__anext__`), else None."""
        return None

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027 - optional hook, iterator-backed streams hold nothing
        """Release the connection now, synchronously (safe from `__del__`); a no-op when there is none."""


class _IteratorChunkStream(ChunkStream):
    """Adapts any `ModelInstance.stream()` iterator to `ChunkStream`."""

    def __init__(self, chunks: AsyncIterator[ChatCompletionChunk]) -> None:
        self._chunks = chunks
        self.warnings = []

    async def __anext__(self) -> ChatCompletionChunk:
        return await self._chunks.__anext__()

    async def aclose(self) -> None:
        closer = getattr(self._chunks, "aclose", None)
        if closer is not None:
            await closer()


class ModelInstance(ABC):
    """A model you can call: a whole completion or a stream of chunks (the crate's `ModelInstance`)."""

    otel_provider_name: str | None = None
    """`gen_ai.provider.name` when the instance always calls one provider (None: known per call, e.g. routed)."""

    @abstractmethod
    async def complete(self, request: ChatCompletionRequest) -> ChatCompletionMessageWithFinishReason: ...

    @abstractmethod
    def stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]: ...

    async def complete_validated(
        self, request: ChatCompletionRequest, builtins: dict[str, Any] | None
    ) -> ChatCompletionMessageWithFinishReason:
        """`complete` for a request the client has just validated; `builtins` is the plain-data form that
        check produced (the instance may consume it instead of converting the request again)."""
        return await self.complete(request)

    async def open_stream(self, request: ChatCompletionRequest) -> ChunkStream:
        """Start a stream and return once it is open (HTTP errors raise here); wraps `stream()` by default."""
        return _IteratorChunkStream(self.stream(request))

    async def open_stream_validated(
        self, request: ChatCompletionRequest, builtins: dict[str, Any] | None
    ) -> ChunkStream:
        """`open_stream` for a request the client has just validated; `builtins` as for `complete_validated`."""
        return await self.open_stream(request)

    async def run_operation(self, operation: str, request: OperationInput) -> OperationResult:
        """An operation beside chat (`embeddings`, `images`): the instances built from a spec run it."""
        raise MappingError(f"{type(self).__name__} has no {operation} operation", path="model")

    async def run_operation_validated(
        self, operation: str, request: OperationInput, builtins: dict[str, Any] | None
    ) -> OperationResult:
        """`run_operation` for a request the client has just checked; `builtins` as for `complete_validated`."""
        return await self.run_operation(operation, request)

    def unsupported_policy(self, model: str) -> Policy:
        """What happens to a setting the provider of `model` cannot be sent (a spec's `policy.unsupported`;
        `warn` for instances without a spec). The Responses translation applies it to its own settings."""
        from vllora_llm.engine.params import Policy

        return Policy(self.otel_provider_name or type(self).__name__, "warn")

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most instances hold nothing
        """Release connections; the default has none."""

    def serves(self, operation: str, model: str) -> bool:
        """Whether calls of `operation` for `model` go to the provider's own endpoint for it (the spec declares
        the operation). `client.responses()` asks: the Responses API is translated through chat otherwise."""
        return False

    async def open_operation_stream(self, operation: str, request: OperationInput) -> ChunkStream:
        """A streamed call of `operation` (its typed events, e.g. Responses events), once open."""
        raise MappingError(f"{type(self).__name__} has no streamed {operation} operation", path="model")

    async def open_operation_stream_validated(
        self, operation: str, request: OperationInput, builtins: dict[str, Any] | None
    ) -> ChunkStream:
        """`open_operation_stream` for a request the client has just checked; `builtins` as for
        `complete_validated`."""
        return await self.open_operation_stream(operation, request)


# ---- offline -----------------------------------------------------------------------------------------------


class DummyModelInstance(ModelInstance):
    """Offline and deterministic: echoes the last user message (or says `reply`), for examples and tests
    without a network. With `script=[...]` it says the scripted assistant turns instead, one per call in order
    (`complete` and `stream` alike): text, `ToolCall`s (see `DummyModelInstance.tool_call`), messages or message
    dicts; a call past the end raises `LLMError`. `requests` keeps every request it was given."""

    otel_provider_name = "vllora.dummy"
    tool_call = staticmethod(script_tool_call)

    def __init__(
        self, reply: str | None = None, *, script: Iterable[ScriptStep] | None = None, created: int = 0
    ) -> None:
        self._reply = reply
        self._script = Script(script) if script is not None else None
        self._created = created
        self.requests: list[ChatCompletionRequest] = []

    @property
    def remaining(self) -> int:
        """Scripted replies not yet used (0 without a script)."""
        return len(self._script) if self._script is not None else 0

    def reply_for(self, request: ChatCompletionRequest) -> str:
        if self._reply is not None:
            return self._reply
        said = next((m.text() for m in reversed(request.messages) if m.role == "user"), "")
        return f"Hello from DummyModelInstance! You said: {said}"

    def _next_message(self, request: ChatCompletionRequest) -> ChatCompletionMessage:
        self.requests.append(request)
        if self._script is not None:
            return self._script.next()
        return ChatCompletionMessage(role="assistant", content=self.reply_for(request))

    def _usage(self, request: ChatCompletionRequest, message: ChatCompletionMessage) -> Usage:
        prompt = sum(len(m.text().split()) for m in request.messages)
        completion = len(message.text().split()) + sum(
            1 + len(call.function.arguments.split()) for call in message.tool_calls or ()
        )
        return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)

    async def complete(self, request: ChatCompletionRequest) -> ChatCompletionMessageWithFinishReason:
        message = self._next_message(request)
        return ChatCompletionMessageWithFinishReason(
            id="chatcmpl-dummy",
            model=request.model,
            created=self._created,
            choices=[Choice(message=message, finish_reason=script_finish_reason(message))],
            usage=self._usage(request, message),
        )

    async def stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        message = self._next_message(request)

        def chunk(
            delta: ChoiceDelta | None, finish_reason: str | None = None, usage: Usage | None = None
        ) -> ChatCompletionChunk:
            choices = [] if delta is None else [ChunkChoice(delta=delta, finish_reason=finish_reason)]
            return ChatCompletionChunk(
                id="chatcmpl-dummy", model=request.model, created=self._created, choices=choices, usage=usage
            )

        yield chunk(ChoiceDelta(role="assistant", content=""))
        for delta in script_deltas(message):
            yield chunk(delta)
            await asyncio.sleep(0)  # a real stream yields to the loop between chunks
        yield chunk(ChoiceDelta(), finish_reason=script_finish_reason(message))
        yield chunk(None, usage=self._usage(request, message))


# ---- spec-driven -------------------------------------------------------------------------------------------
