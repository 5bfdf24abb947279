"""Model instances: the thing a client calls. One abstract shape, an offline dummy, and the spec-driven one.

`ProviderModelInstance` is where the layers meet: the plan renders and parses (pure), auth adds credentials,
the transport moves bytes, a framer cuts the stream into frames and the plan's stream decoder turns frames
into chunks. Retries (rules in `retry.py`) are driven from here because only here is it known whether a
chunk already reached the caller: a stream is re-opened after a failure only until its first chunk is
handed out, never after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from vllora_llm.engine.errors import LLMError, MappingError, SpecError
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
from vllora_llm.engine.gateway_ops import OperationRequest, OperationResult
from vllora_llm.engine.version import VERSION as __version__
from vllora_llm.engine.wire import AuthSpec, WireRequest

from .auth import headers_only, redact, redact_error, resolve_credentials, scheme_for, select_auth
from .eventstream import EventStreamParser
from .retry import Attempts, RetryPolicy, classify_http_error
from .sse import SSEParser
from .transport import AiohttpTransport, Response, StreamResponse, Timeouts, Transport

if TYPE_CHECKING:  # (the spec compiler is imported only by clients built from a spec)
    from vllora_llm.engine.operations import OperationPlan

__all__ = [
    "FRAMERS",
    "ChunkStream",
    "DummyModelInstance",
    "ModelInstance",
    "ProviderModelInstance",
    "ProviderPlan",
]

logger = logging.getLogger("vllora_llm")
T = TypeVar("T")

USER_AGENT = f"vllora-llm/{__version__}"  # not importlib.metadata: it costs ~5 ms of every process start


# ---- the plan contract (engine/plan.py implements it) ------------------------------------------------------


class Framer(Protocol):
    """A push parser cutting a byte stream into frames (SSE events, event-stream messages)."""

    def feed(self, chunk: bytes) -> Sequence[Any]: ...

    def close(self) -> Sequence[Any]: ...


class StreamDecoder(Protocol):
    """A plan's per-stream state machine: frames in, unified chunks out; `close` checks the terminal event."""

    def feed(self, frame: Any) -> list[ChatCompletionChunk]: ...

    def close(self) -> list[ChatCompletionChunk]: ...


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

    def decode(self, status: int, headers: Mapping[str, str], body: bytes) -> ChatCompletionMessageWithFinishReason: ...

    def error(self, status: int, headers: Mapping[str, str], body: bytes) -> LLMError: ...

    def stream_decoder(self) -> StreamDecoder: ...

    def operation(self, name: str) -> OperationPlan: ...

    def resolve_base_url(self, base_url: str | None = None) -> str: ...


FRAMERS: dict[str, Callable[[ProviderPlan], Framer]] = {
    "sse": lambda plan: SSEParser(stray_lines_as_data=getattr(plan, "stray_lines", "ignore") == "as_data"),
    "aws_event_stream": lambda plan: EventStreamParser(),
}
"""A plan's `framing` → the push parser that cuts its stream into frames (configured by the plan)."""


# ---- the abstract shape ------------------------------------------------------------------------------------


class ChunkStream(ABC):
    """An opened stream of chunks (its HTTP headers, if any, have arrived), with the request's warnings."""

    warnings: list[RequestWarning]

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

    async def run_operation(self, operation: str, request: OperationRequest) -> OperationResult:
        """An operation beside chat (`embeddings`, `images`): the instances built from a spec run it."""
        raise MappingError(f"{type(self).__name__} has no {operation} operation", path="model")

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most instances hold nothing
        """Release connections; the default has none."""


# ---- offline -----------------------------------------------------------------------------------------------


class DummyModelInstance(ModelInstance):
    """Offline and deterministic: echoes the last user message, for examples and tests without a network."""

    def __init__(self, reply: str | None = None, *, created: int = 0) -> None:
        self._reply = reply
        self._created = created

    def reply_for(self, request: ChatCompletionRequest) -> str:
        if self._reply is not None:
            return self._reply
        said = next((m.text() for m in reversed(request.messages) if m.role == "user"), "")
        return f"Hello from DummyModelInstance! You said: {said}"

    def _usage(self, request: ChatCompletionRequest, reply: str) -> Usage:
        prompt = sum(len(m.text().split()) for m in request.messages)
        completion = len(reply.split())
        return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)

    async def complete(self, request: ChatCompletionRequest) -> ChatCompletionMessageWithFinishReason:
        reply = self.reply_for(request)
        return ChatCompletionMessageWithFinishReason(
            id="chatcmpl-dummy",
            model=request.model,
            created=self._created,
            choices=[Choice(message=ChatCompletionMessage(role="assistant", content=reply), finish_reason="stop")],
            usage=self._usage(request, reply),
        )

    async def stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        reply = self.reply_for(request)

        def chunk(
            delta: ChoiceDelta | None, finish_reason: str | None = None, usage: Usage | None = None
        ) -> ChatCompletionChunk:
            choices = [] if delta is None else [ChunkChoice(delta=delta, finish_reason=finish_reason)]
            return ChatCompletionChunk(
                id="chatcmpl-dummy", model=request.model, created=self._created, choices=choices, usage=usage
            )

        yield chunk(ChoiceDelta(role="assistant", content=""))
        words = reply.split(" ")
        for i, word in enumerate(words):
            yield chunk(ChoiceDelta(content=word if i == len(words) - 1 else word + " "))
            await asyncio.sleep(0)  # a real stream yields to the loop between chunks
        yield chunk(ChoiceDelta(), finish_reason="stop")
        yield chunk(None, usage=self._usage(request, reply))


# ---- spec-driven -------------------------------------------------------------------------------------------


def _merge_headers(*layers: Mapping[str, str]) -> dict[str, str]:
    """Later layers win, header names compared case-insensitively (a replaced name moves to the end)."""
    out: dict[str, str] = {}
    spelled: dict[str, str] = {}  # lower-case name -> the spelling `out` holds (once per request: no rescans)
    for layer in layers:
        for key, value in layer.items():
            lower = key.lower()
            existing = spelled.get(lower)
            if existing is not None:
                del out[existing]
            spelled[lower] = key
            out[key] = value
    return out


class StreamOpeningInstance(ModelInstance):
    """An instance whose streams are opened first (`open_stream`); `stream()` iterates one and closes it."""

    @abstractmethod
    async def open_stream(self, request: ChatCompletionRequest) -> ChunkStream: ...

    async def stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        chunks = await self.open_stream(request)
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()


class ProviderModelInstance(StreamOpeningInstance):
    """A provider reached over HTTP, described by a compiled spec (`plan`)."""

    def __init__(
        self,
        plan: ProviderPlan,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeouts | float | None = None,
        max_retries: int = 2,
        backoff_base: float = 0.5,
        max_backoff: float = 8.0,
        max_retry_after: float = 60.0,
        transport: Transport | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if plan.framing not in FRAMERS:
            known = ", ".join(sorted(FRAMERS))
            raise SpecError(f"{plan.name}: unknown stream framing {plan.framing!r} (known: {known})")
        self.plan = plan
        self.base_url = base_url
        self._auth_spec = select_auth(plan.auth, api_key, environ)  # e.g. an API key instead of signing
        self._auth = scheme_for(self._auth_spec)
        self._credentials = resolve_credentials(self._auth_spec, api_key, environ, provider=plan.name)
        self._secrets = self._credentials.secrets()
        self._headers = _merge_headers({"user-agent": USER_AGENT}, headers or {})
        self._headers_only_auth = headers_only(self._auth)
        self._final_headers: dict[int, tuple[dict[str, str], dict[str, str]]] = {}
        """id(the plan's header dict) → (that dict, its final headers), when auth only adds headers."""
        self.retry = RetryPolicy(max_retries, backoff_base, max_backoff, max_retry_after)
        self._owns_transport = transport is None
        self.transport: Transport = transport or AiohttpTransport(timeout)

    def __repr__(self) -> str:
        return f"ProviderModelInstance({self.plan.name!r}, base_url={self.base_url!r})"

    def _prepare(
        self, request: ChatCompletionRequest, *, stream: bool, builtins: dict[str, Any] | None = None
    ) -> tuple[WireRequest, list[RequestWarning]]:
        wire, warnings = self.plan.encode(request, stream=stream, base_url=self.base_url, builtins=builtins)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s: %s %s", self.plan.name, wire.method, redact(wire.url.split("?", 1)[0], self._secrets))
        if warnings and self._secrets:  # a warning may quote a request value, and a value may hold a key
            for warning in warnings:
                warning.message = redact(warning.message, self._secrets)
        if self._headers_only_auth:  # (the plan made `wire` for this call: its headers field is ours to set)
            wire.headers = self._headers_for(wire)
            return wire, warnings
        wire = wire.with_headers(_merge_headers(self._headers, wire.headers))
        return self._auth.apply(wire, self._auth_spec, self._credentials), warnings

    def _headers_for(self, wire: WireRequest) -> dict[str, str]:
        """The final headers (ours, the plan's, the credentials) for a plan's header dict, computed once per
        dict: a plan hands out the same (unchanging) dict on every request, and auth here only adds headers.
        The result is shared between requests; nothing downstream changes it (the transport copies)."""
        source = wire.headers
        found = self._final_headers.get(id(source))
        if found is not None and found[0] is source:
            return found[1]
        merged = wire.with_headers(_merge_headers(self._headers, source))
        final = self._auth.apply(merged, self._auth_spec, self._credentials).headers
        if len(self._final_headers) < 64:
            self._final_headers[id(source)] = (source, final)
        return final

    def _attempts(self) -> Attempts:
        return Attempts(self.plan.name, self.retry, self._secrets)

    def _describe_answer(self, err: LLMError, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """Give an error raised while decoding a 2xx answer its status, request id and a body preview."""
        if err.status is None:
            err.status = status
        if err.request_id is None:  # the plan's error builder knows which header carries the request id
            err.request_id = self.plan.error(status, headers, b"").request_id
        if err.body is None:
            err.body = body[:2000].decode("utf-8", "replace")

    def http_error(self, status: int, headers: Mapping[str, str], body: bytes) -> LLMError:
        """The plan's typed error, with the retry hint and decision taken from the headers."""
        err = classify_http_error(self.plan.error(status, headers, body), status, headers)
        return redact_error(err, self._secrets)

    async def complete(self, request: ChatCompletionRequest) -> ChatCompletionMessageWithFinishReason:
        return await self.complete_validated(request, None)

    async def complete_validated(
        self, request: ChatCompletionRequest, builtins: dict[str, Any] | None
    ) -> ChatCompletionMessageWithFinishReason:
        wire, warnings = self._prepare(request, stream=False, builtins=builtins)
        attempts: Attempts | None = None  # made on the first failure: most calls never need one
        try:
            try:  # the first attempt inline (`_complete_once` without its coroutine): no retry loop unless it fails
                result = self._result_of(await self.transport.send(wire))
            except LLMError as err:
                attempts = self._attempts()
                await attempts.failed(err)  # raises unless this failure may be retried
                result = await attempts.run(lambda: self._complete_once(wire))
        except LLMError as err:
            raise (attempts or self._attempts()).final(err) from None
        if warnings:
            result.warnings = [*warnings, *result.warnings]
        if result.provider is None:
            result.provider = self.plan.name
        return result

    async def _complete_once(self, wire: WireRequest) -> ChatCompletionMessageWithFinishReason:
        """One attempt (a retry; the first one is inlined in `complete_validated`)."""
        return self._result_of(await self.transport.send(wire))

    def _result_of(self, response: Response) -> ChatCompletionMessageWithFinishReason:
        """A whole answer as the result, or its typed error."""
        if not 200 <= response.status < 300:
            raise self.http_error(response.status, response.headers, response.body)
        try:
            return self.plan.decode(response.status, response.headers, response.body)
        except LLMError as err:  # a 2xx body that is not a response (not JSON, wrong shape): say which one
            self._describe_answer(err, response.status, response.headers, response.body)
            raise

    def authorize(self, wire: WireRequest) -> WireRequest:
        """`wire` with our headers and the credentials added (what `_prepare` does for chat requests)."""
        if self._headers_only_auth:
            wire.headers = self._headers_for(wire)
            return wire
        return self._auth.apply(wire.with_headers(_merge_headers(self._headers, wire.headers)), self._auth_spec,
                                self._credentials)

    async def send_decoded(self, wire: WireRequest, decode: Callable[[Response], T]) -> T:
        """One call with the retry rules: `decode` turns a response into the result or raises its typed error."""
        attempts: Attempts | None = None

        async def once() -> T:
            return decode(await self.transport.send(wire))

        try:
            try:
                return await once()
            except LLMError as err:
                attempts = self._attempts()
                await attempts.failed(err)  # raises unless this failure may be retried
                return await attempts.run(once)
        except LLMError as err:
            raise (attempts or self._attempts()).final(err) from None

    async def run_operation(self, operation: str, request: OperationRequest) -> OperationResult:
        from .operations import run_operation

        return await run_operation(self, operation, request)

    async def open_stream(self, request: ChatCompletionRequest) -> ChunkStream:
        wire, warnings = self._prepare(request, stream=True)
        stream = _ProviderChunkStream(self, wire, warnings)
        await stream.open()
        return stream

    async def aclose(self) -> None:
        if self._owns_transport:
            await self.transport.aclose()


class _ProviderChunkStream(ChunkStream):
    """Bytes → frames → chunks for one streamed call, retried (re-opened) only until a chunk is handed out."""

    def __init__(self, owner: ProviderModelInstance, wire: WireRequest, warnings: list[RequestWarning]) -> None:
        self.warnings = warnings
        self._owner = owner
        self._wire = wire
        self._attempts = owner._attempts()
        self._response: StreamResponse | None = None
        self._pending: deque[ChatCompletionChunk] = deque()
        self.pending = self._pending
        """The decoded chunks not handed out yet; a wrapper (`ResultStream`) may pop them itself instead of
        calling `ready()` per chunk. Outside `__anext__` this queue is non-empty only after `__anext__`
        handed out the first chunk of the read that filled it, so the retry rule (`_delivered`) holds."""
        self._framer: Framer
        self._decoder: StreamDecoder
        self._feed_all: Callable[[Sequence[Any], deque[ChatCompletionChunk]], None]
        self._delivered = False
        self._finished = False
        self._deferred: LLMError | None = None

    async def _open_once(self) -> StreamResponse:
        response = await self._owner.transport.open_stream(self._wire)
        if 200 <= response.status < 300:
            return response
        try:
            body = await response.read()
        finally:
            response.close()
        raise self._owner.http_error(response.status, response.headers, body)

    async def open(self) -> None:
        """Connect (with retries) and restart framing and decoding from scratch."""
        try:
            self._response = await self._attempts.run(self._open_once)
        except LLMError as err:
            raise self._attempts.final(err) from None
        self._framer = FRAMERS[self._owner.plan.framing](self._owner.plan)
        self._decoder = decoder = self._owner.plan.stream_decoder()
        self._feed_all = getattr(decoder, "feed_all", None) or (
            lambda frames, out: self._feed_each(decoder, frames, out))
        self._pending.clear()

    async def __anext__(self) -> ChatCompletionChunk:
        while not self._pending:
            if self._finished:
                raise StopAsyncIteration
            if self._response is None:
                try:
                    await self.open()
                except BaseException:
                    self._finished = True
                    raise
            try:
                await self._pump()
            except LLMError as err:
                self._drop_response()
                if self._delivered:
                    self._finished = True
                    raise self._attempts.final(err) from None
                try:
                    await self._attempts.failed(err)  # raises unless this failure may be retried
                except BaseException:
                    self._finished = True
                    raise
            except BaseException:
                self.close()
                raise
        self._delivered = True
        return self._pending.popleft()

    def ready(self) -> ChatCompletionChunk | None:
        pending = self._pending
        if not pending:
            return None
        self._delivered = True
        return pending.popleft()

    async def _pump(self) -> None:
        """Read one piece of the body and decode whatever frames it completes.

        An error decoded after good chunks in the same read is held back until those chunks are handed out,
        so the caller sees everything the provider sent before it failed."""
        if self._deferred is not None:
            err, self._deferred = self._deferred, None
            raise err
        assert self._response is not None
        data = await self._response.read_chunk()
        frames = self._framer.feed(data) if data else self._framer.close()
        pending = self._pending
        try:
            if frames:
                self._feed_all(frames, pending)  # each frame's chunks, appended to `pending`
            if not data:
                pending.extend(self._decoder.close())
                self._finished = True
                self._response = None
        except LLMError as err:
            if not pending:
                raise
            self._deferred = err

    def _drop_response(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            response.close()

    def close(self) -> None:
        self._drop_response()
        self._pending.clear()
        self._finished = True

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # best effort at garbage collection (the loop may be gone)
            self.close()

    @staticmethod
    def _feed_each(decoder: StreamDecoder, frames: Sequence[Any], out: deque[ChatCompletionChunk]) -> None:
        """`feed_all` for a decoder without one: `feed` per frame, its chunks appended in order."""
        for frame in frames:
            out.extend(decoder.feed(frame))
