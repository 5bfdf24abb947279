"""The spec-driven model instance (the contract, the chunk stream and the offline dummy: model_instance.py).

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
import weakref
from abc import abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

from yarl import URL

from vllora_llm.engine.cache_marks import is_marked
from vllora_llm.engine.errors import InvalidRequestError, LLMError, MappingError, ProviderError, SpecError, StreamError
from vllora_llm.engine.gateway import (
    ChatCompletionChunk,
    ChatCompletionMessageWithFinishReason,
    ChatCompletionRequest,
    RequestWarning,
)
from vllora_llm.engine.gateway_ops import OperationInput, OperationResult
from vllora_llm.engine.input_guard import (
    MAX_INPUT_DEPTH,
    check_base_url,
    check_depth,
    check_header_text,
    explain_unencodable,
)
from vllora_llm.engine.redaction import Redactor, activate, deactivate, mask_url_passwords, preview, redacting
from vllora_llm.engine.version import VERSION as __version__
from vllora_llm.engine.wire import AuthSpec, WireRequest

from .auth import headers_only, redact, redact_error, resolve_credentials, scheme_for, select_auth
from .eventstream import EventStreamFramer
from .limits import ACCEPT_ENCODING, Limits, json_too_deep
from .model_instance import (
    ChunkStream,
    DummyModelInstance,
    Framer,
    ModelInstance,
    ProviderPlan,
    StreamDecoder,
)
from .observe import CURRENT
from .retry import Attempts, RetryPolicy, classify_http_error, header_value
from .sse import SSEParser
from .stream_watch import StreamWatch
from .transport import AiohttpTransport, Response, StreamResponse, Timeouts, Transport

if TYPE_CHECKING:  # (the spec compiler is imported only by clients built from a spec)
    from vllora_llm.engine.params import Policy

    from .prompt_cache import PromptCaching
    from .response_store import KeyValueStore

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

WRONG_URL_STATUS = frozenset({404, 405})
"""Statuses that often mean the request went to the wrong URL (a base URL without its version, a typo):
their errors name the method, the URL and the spec's `endpoint.base_url_hint`."""

USER_AGENT = f"vllora-llm/{__version__}"  # not importlib.metadata: it costs ~5 ms of every process start

SECRET_HEADERS = frozenset(("authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key",
                            "cookie", "x-auth-token"))
"""Header names whose values (in `headers=`) are treated as secrets without being named in `secret_headers=`."""


FRAMERS: dict[str, Callable[[ProviderPlan, Limits], Framer]] = {
    "sse": lambda plan, limits: SSEParser(stray_lines_as_data=getattr(plan, "stray_lines", "ignore") == "as_data",
                                          max_event_bytes=limits.max_event_bytes),
    "aws_event_stream": lambda plan, limits: EventStreamFramer(getattr(plan, "event_header", None),
                                                               max_frame_bytes=limits.max_event_bytes),
}
"""A plan's `framing` → the push parser that cuts its stream into frames (configured by the plan and limits)."""


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


def _safe_location(location: str, secrets: Sequence[str]) -> str:
    """A redirect target fit for an error message: without userinfo, known keys redacted (before cutting, so
    no half key shows), at most 300 characters, quoted (control characters escaped)."""
    try:
        url = URL(location)
        text = str(url.with_user(None)) if url.user is not None or url.password is not None else location
    except (ValueError, TypeError):
        text = location
    text = redact(text, secrets)
    if len(text) > 300:
        text = text[:300] + "..."
    return f"Location {text!r}"


def _header_secrets(headers: Mapping[str, str], auth: AuthSpec, named: Sequence[str]) -> tuple[str, ...]:
    """The values of the caller's headers that are secrets: the ones named in `secret_headers=`, the known
    credential headers and the spec's own auth header; for ``Bearer <token>``-like values, the token too."""
    secret = {name.lower() for name in named} | SECRET_HEADERS
    if auth.name:
        secret.add(auth.name.lower())
    out: list[str] = []
    for name, value in headers.items():
        if isinstance(name, str) and isinstance(value, str) and name.lower() in secret and value:
            out.append(value)
            scheme, _, token = value.partition(" ")
            if token and scheme.isalpha():
                out.append(token.strip())
    return tuple(out)


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
        limits: Limits | None = None,
        secret_headers: Sequence[str] = (),
        max_input_depth: int = MAX_INPUT_DEPTH,
        extras: str | None = None,
        cache_store: KeyValueStore | None = None,
    ) -> None:
        """`cache_store` keeps the prompt-cache registry (spec with a `prompt_cache` operation only; default: an
        in-memory LRU)."""
        if extras not in (None, "raw"):
            raise InvalidRequestError(f"extras: expected 'raw' or None, got {extras!r}", provider=plan.name)
        self.raw_extras = extras == "raw"
        """`extras="raw"`: every result and chunk also carries the provider's whole body (event) under
        `extras["raw"]`, for debugging."""
        if plan.framing not in FRAMERS:
            known = ", ".join(sorted(FRAMERS))
            raise SpecError(f"{plan.name}: unknown stream framing {plan.framing!r} (known: {known})")
        self.plan = plan
        self.base_url = base_url
        self._otel_name: str = getattr(plan, "otel_provider_name", None) or plan.name
        self.otel_provider_name = self._otel_name
        self._propagate_trace = bool(getattr(plan, "propagate_trace_context", False))
        self._auth_spec = select_auth(plan.auth, api_key, environ)  # e.g. an API key instead of signing
        self._auth = scheme_for(self._auth_spec)
        self._credentials = resolve_credentials(self._auth_spec, api_key, environ, provider=plan.name)
        check_header_text(headers or {}, plan.name)
        self._secrets = (*self._credentials.secrets(), *_header_secrets(headers or {}, plan.auth, secret_headers))
        self._check_key()
        self._headers = _merge_headers({"user-agent": USER_AGENT, "accept-encoding": ACCEPT_ENCODING}, headers or {})
        self.max_input_depth = max_input_depth
        self._secrets = (*self._secrets, *self._check_base_url(plan, base_url))
        self._redactor = Redactor(self._secrets)
        self._headers_only_auth = headers_only(self._auth)
        self._final_headers: dict[int, tuple[dict[str, str], dict[str, str]]] = {}
        """id(the plan's header dict) → (that dict, its final headers), when auth only adds headers."""
        self.retry = RetryPolicy(max_retries, backoff_base, max_backoff, max_retry_after)
        self._owns_transport = transport is None
        self.limits: Limits = limits or getattr(transport, "limits", None) or Limits()
        """Size and depth limits (a transport you pass bounds bodies with its own `limits`)."""
        self.transport: Transport = transport or AiohttpTransport(timeout, limits=self.limits)
        self._cache_store = cache_store
        self._prompt_cache: PromptCaching | None = None
        self._caches = bool(((getattr(plan, "spec", None) or {}).get("operations") or {}).get("prompt_cache"))
        """Whether the spec has a `prompt_cache` operation (compiled on the first marked request)."""

    @property
    def prompt_cache(self) -> PromptCaching | None:
        """Creates and reuses the provider-side caches of marked prefixes (None: the spec has no such operation)."""
        if self._prompt_cache is None and self._caches:
            from vllora_llm.engine.prompt_cache import compile_prompt_cache

            from .prompt_cache import PromptCaching

            cache_plan = compile_prompt_cache(getattr(self.plan, "spec", {}), self.plan.name)
            if cache_plan is not None:
                self._prompt_cache = PromptCaching(self, cache_plan, self._cache_store)
        return self._prompt_cache

    def __repr__(self) -> str:
        return f"ProviderModelInstance({self.plan.name!r}, base_url={mask_url_passwords(repr(self.base_url))})"

    def unsupported_policy(self, model: str) -> Policy:
        found = getattr(self.plan, "unsupported_policy", None)
        if callable(found):
            policy: Policy = found(model)
            return policy
        return super().unsupported_policy(model)

    def _check_base_url(self, plan: ProviderPlan, base_url: str | None) -> tuple[str, ...]:
        """Validate the base URL the calls will use (when it can be known now) and return its password, a
        secret to redact. A URL with `user:password@` is refused when the request's auth (or a caller's
        header) already sends `Authorization`: HTTP cannot carry both, and the password would be dropped."""
        resolve = getattr(plan, "resolve_base_url", None)
        try:
            url = resolve(base_url) if resolve is not None else base_url
        except LLMError:
            url = base_url  # placeholders still unfilled: the request names what is missing
        if not url or "{" in url:
            return ()
        check_base_url(url, plan.name)
        parts = urlsplit(url)
        if parts.username is None and parts.password is None:
            return ()
        if self._sends_authorization():
            raise InvalidRequestError(
                f"base_url: credentials in the URL (user:password@) cannot be sent with {plan.name}'s "
                "Authorization header; remove them from the URL", provider=plan.name, path="base_url")
        return tuple(p for p in (parts.password, unquote(parts.password or "")) if p)

    def _check_key(self) -> None:
        """A key that HTTP cannot carry (CR, LF, NUL, unpaired surrogates, or outside Latin-1 in a header) is
        refused here, naming `api_key` (never quoting it), instead of failing inside aiohttp."""
        in_header = headers_only(self._auth)
        for secret in self._credentials.secrets():
            problem = "CR, LF or NUL" if any(ch in secret for ch in "\r\n\0") else None
            try:
                secret.encode("latin-1" if in_header else "utf-8")
            except UnicodeEncodeError:
                problem = problem or "characters a request cannot carry"
            if problem:
                raise InvalidRequestError(f"api_key: the key contains {problem}", provider=self.plan.name,
                                          path="api_key")

    def _sends_authorization(self) -> bool:
        if any(name.lower() == "authorization" for name in self._headers):
            return True
        if not headers_only(self._auth):
            return True  # a signing scheme sets Authorization itself
        probe = self._auth.apply(WireRequest("POST", "http://localhost/", {}, b"", False), self._auth_spec,
                                 self._credentials)
        return any(name.lower() == "authorization" for name in probe.headers)

    def _prepare(
        self, request: ChatCompletionRequest, *, stream: bool, builtins: dict[str, Any] | None = None,
        body_edit: Callable[[bytes], bytes] | None = None,
    ) -> tuple[WireRequest, list[RequestWarning]]:
        """The wire request, authorized; `body_edit` rewrites the plan's body first (the prompt cache's cut)."""
        check_depth(request, self.max_input_depth, self.plan.name)  # a text-only request: a few attribute reads
        try:
            wire, warnings = self.plan.encode(request, stream=stream, base_url=self.base_url, builtins=builtins)
        except (RecursionError, UnicodeEncodeError) as exc:  # what the encoder refused: name the field
            raise explain_unencodable(request, exc, self.plan.name) from None
        if body_edit is not None:
            wire.body = body_edit(wire.body)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s: %s %s", self.plan.name, wire.method, redact(wire.url.split("?", 1)[0], self._redactor))
        if warnings and self._redactor:  # a warning may quote a request value, and a value may hold a key
            for warning in warnings:
                warning.message = redact(warning.message, self._redactor)
        trace_headers: dict[str, str] = {}
        observation = CURRENT.get()
        if observation is not None:  # an observed call: say where it goes, and carry its trace if the spec allows
            observation.target(self._otel_name, wire.url, self._secrets)
            if self._propagate_trace:
                trace_headers = observation.trace_headers()
        if self._headers_only_auth:  # (the plan made `wire` for this call: its headers field is ours to set)
            wire.headers = self._headers_for(wire)
            if trace_headers:  # a copy: the shared final headers stay as they are
                wire.headers = {**wire.headers, **trace_headers}
            return wire, warnings
        wire = wire.with_headers(_merge_headers(self._headers, wire.headers, trace_headers))
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
        return Attempts(self.plan.name, self.retry, self._redactor)

    def _describe_answer(self, err: LLMError, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """Give an error raised while decoding a 2xx answer its status, request id and a body preview."""
        if err.status is None:
            err.status = status
        if err.request_id is None:  # the plan's error builder knows which header carries the request id
            err.request_id = self.plan.error(status, headers, b"").request_id
        if err.body is None:
            err.body = preview(body, 2000)

    def http_error(
        self, status: int, headers: Mapping[str, str], body: bytes, truncated: bool = False,
        wire: WireRequest | None = None,
    ) -> LLMError:
        """The plan's typed error, with the retry hint and decision taken from the headers. A 3xx is refused
        (never followed); an error body too large (`truncated`) or too deeply nested is left out; when the
        status suggests a wrong URL, the message names the call and the spec's hint on base URLs (keys
        redacted)."""
        if 300 <= status < 400:
            return self.redirect_error(status, headers)
        note = ""
        depth = self.limits.max_json_depth
        if truncated:
            note = f" (error body over {self.limits.max_error_bytes} bytes, Limits.max_error_bytes: not read)"
        elif depth is not None and json_too_deep(body, depth):
            note = f" (error body nested deeper than {depth}, Limits.max_json_depth: not parsed)"
        with redacting(self._redactor or None):  # previews redacted before they are cut
            try:
                err = self.plan.error(status, headers, b"" if note else body)
            except RecursionError:  # (the decoder's own limit, below ours when the stack is already deep)
                note = " (error body nested too deeply to parse)"
                err = self.plan.error(status, headers, b"")
        if note:
            err.message += note
            err.args = (err.message,)
        err = classify_http_error(err, status, headers)
        if wire is not None and status in WRONG_URL_STATUS:
            err.message = f"{err.message} ({self._where(wire)})"
            err.args = (err.message,)
        return redact_error(err, self._redactor)

    def redirect_error(self, status: int, headers: Mapping[str, str]) -> LLMError:
        """A 3xx as a typed error: provider APIs do not redirect, and following one would resend the key
        (in headers aiohttp keeps across hosts) and the prompt to wherever the server points."""
        location = header_value(headers, "location")
        shown = "no Location" if location is None else _safe_location(location, self._secrets)
        err = ProviderError(
            f"redirect refused ({shown}): provider calls never follow redirects; set base_url to the final URL",
            provider=self.plan.name, status=status, retryable=False,
        )
        err.request_id = self.plan.error(status, headers, b"").request_id
        return redact_error(err, self._redactor)

    def _where(self, wire: WireRequest) -> str:
        """`POST https://host/path; hint: <the spec's endpoint.base_url_hint>; the default base URL is ...`."""
        text = f"{wire.method} {wire.url}"
        hint: str | None = getattr(self.plan, "base_url_hint", None)
        if hint:
            text += f"; hint: {hint}"
            default: str = getattr(self.plan, "default_base_url", "")
            if default and "{" not in default and not wire.url.startswith(default.rstrip("/") + "/"):
                text += f"; the default base URL is {default}"
        return text

    async def complete(self, request: ChatCompletionRequest) -> ChatCompletionMessageWithFinishReason:
        return await self.complete_validated(request, None)

    async def complete_validated(
        self, request: ChatCompletionRequest, builtins: dict[str, Any] | None
    ) -> ChatCompletionMessageWithFinishReason:
        if self._caches and is_marked(request):
            caching = self.prompt_cache
            if caching is not None:
                return await caching.complete(request, builtins)
        return await self.complete_uncached(request, builtins)

    async def complete_uncached(
        self, request: ChatCompletionRequest, builtins: dict[str, Any] | None
    ) -> ChatCompletionMessageWithFinishReason:
        """One whole completion, as the plan renders it (no prompt cache)."""
        wire, warnings = self._prepare(request, stream=False, builtins=builtins)
        attempts: Attempts | None = None  # made on the first failure: most calls never need one
        try:
            try:  # the first attempt inline (`_complete_once` without its coroutine): no retry loop unless it fails
                result = self._result_of(await self.transport.send(wire), wire)
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
        return self._result_of(await self.transport.send(wire), wire)

    def _result_of(self, response: Response, wire: WireRequest) -> ChatCompletionMessageWithFinishReason:
        """A whole answer as the result, or its typed error."""
        if not 200 <= response.status < 300:
            raise self.http_error(response.status, response.headers, response.body, response.truncated, wire)
        body = response.body
        depth = self.limits.max_json_depth
        try:
            if depth is not None and json_too_deep(body, depth):
                raise ProviderError(f"response body nested deeper than {depth} (Limits.max_json_depth)")
            try:
                return self.plan.decode(response.status, response.headers, body, raw=self.raw_extras)
            except RecursionError:  # (the decoder's own limit, below ours when the stack is already deep)
                raise ProviderError("response body nested too deeply to decode") from None
        except LLMError as first:  # a 2xx body that is not a response (not JSON, wrong shape): say which one
            err = first
        if self._redactor:  # build it again with previews redacted before they are cut
            with redacting(self._redactor):
                try:
                    self.plan.decode(response.status, response.headers, body)
                except LLMError as again:
                    err = again
                except RecursionError:
                    pass
                self._describe_answer(err, response.status, response.headers, body)
        else:
            self._describe_answer(err, response.status, response.headers, body)
        raise err

    def authorize(self, wire: WireRequest) -> WireRequest:
        """`wire` with our headers and the credentials added (what `_prepare` does for chat requests); an
        observed call learns where it goes."""
        observation = CURRENT.get()
        if observation is not None:
            observation.target(self._otel_name, wire.url, self._secrets)
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

    async def run_operation(self, operation: str, request: OperationInput) -> OperationResult:
        from .operations import run_operation

        return await run_operation(self, operation, request)

    def serves(self, operation: str, model: str) -> bool:
        try:
            self.plan.operation(operation)
        except MappingError:
            return False
        return True

    async def open_operation_stream(self, operation: str, request: OperationInput) -> ChunkStream:
        from .operations import open_operation_stream

        return await open_operation_stream(self, operation, request)

    async def open_stream_for(
        self, wire: WireRequest, warnings: list[RequestWarning], decoder: Callable[[], Any], framing: str
    ) -> ChunkStream:
        """The open stream of `wire` (already authorized), its frames decoded by `decoder()`: retries (until the
        first item is handed out), limits and stream timeouts as for chat."""
        stream = _ProviderChunkStream(self, wire, warnings, decoder, framing)
        await stream.open()
        return stream

    async def open_stream(self, request: ChatCompletionRequest) -> ChunkStream:
        if self._caches and is_marked(request):
            caching = self.prompt_cache
            if caching is not None:
                return await caching.open_stream(request)
        return await self.open_stream_uncached(request)

    async def open_stream_uncached(
        self, request: ChatCompletionRequest, body_edit: Callable[[bytes], bytes] | None = None
    ) -> ChunkStream:
        """A stream, opened, as the plan renders it (`body_edit`: see `_prepare`)."""
        wire, warnings = self._prepare(request, stream=True, body_edit=body_edit)
        stream = _ProviderChunkStream(self, wire, warnings)
        await stream.open()
        return stream

    async def aclose(self) -> None:
        if self._owns_transport:
            await self.transport.aclose()


DECODE_BATCH = 32
"""Frames decoded at a time (a read can complete thousands). Each event's chunk is a few objects the garbage
collector tracks; decoded a read at a time, they all live until handed out, so the collector's young
generation (700 objects) fills and is scanned every ~100 events and its survivors promoted and scanned
again (~0.3 us per event on a 5,000-event stream). Batches of 32 are handed out and freed before the next
is made: the count never reaches the threshold."""


class _ProviderChunkStream(ChunkStream):
    """Bytes → frames → chunks for one streamed call, retried (re-opened) only until a chunk is handed out."""

    def __init__(
        self, owner: ProviderModelInstance, wire: WireRequest, warnings: list[RequestWarning],
        decoder: Callable[[], Any] | None = None, framing: str | None = None,
    ) -> None:
        """`decoder` / `framing`: another operation's stream decoder factory and framing (default: chat's)."""
        self.warnings = warnings
        self.provider = owner.plan.name
        self._owner = owner
        self._new_decoder: Callable[[], Any] = decoder or (lambda: owner.plan.stream_decoder(raw=owner.raw_extras))
        self._framing = framing or owner.plan.framing
        self._wire = wire
        self._attempts = owner._attempts()
        self._response: StreamResponse | None = None
        self._pending: deque[ChatCompletionChunk] = deque()
        self.pending = self._pending
        """The decoded chunks not handed out yet; a wrapper (`ResultStream`) may pop them itself instead of
        calling `ready()` per chunk. Outside `__anext__` this queue is non-empty only after `__anext__`
        handed out the first chunk of the read that filled it, so the retry rule (`_delivered`) holds."""
        self._framer: Framer
        self._frames: Sequence[Any] = ()
        """The frames of the last read; those from `_next` on are not decoded yet."""
        self._next = 0
        self._at_end = False
        """The last read was the end of the body: once its frames are decoded, the decoder is closed."""
        self._decoder: StreamDecoder
        self._feed_all: Callable[[Sequence[Any], deque[ChatCompletionChunk]], None]
        self._delivered = False
        self._finished = False
        self._deferred: LLMError | None = None
        self._watch: StreamWatch | None = None
        self._started: float | None = None

    async def _open_once(self) -> StreamResponse:
        response = await self._owner.transport.open_stream(self._wire)
        status = response.status
        if 200 <= status < 300:
            return response
        try:
            body = b"" if 300 <= status < 400 else await response.read()
        finally:
            response.close()
        raise self._owner.http_error(status, response.headers, body, getattr(response, "truncated", False), self._wire)

    async def open(self) -> None:
        """Connect (with retries) and restart framing and decoding from scratch."""
        if self._started is None:
            self._started = asyncio.get_running_loop().time()
        try:
            self._response = await self._attempts.run(self._open_once)
        except LLMError as err:
            raise self._attempts.final(err) from None
        owner = self._owner
        self._framer = FRAMERS[self._framing](owner.plan, owner.limits)
        self._frames, self._next, self._at_end = (), 0, False
        self._decoder = decoder = self._new_decoder()
        self._feed_all = getattr(decoder, "feed_all", None) or (
            lambda frames, out: self._feed_each(decoder, frames, out))
        self._pending.clear()
        self._watch_stream()

    def _watch_stream(self) -> None:
        """Start the `stream_idle` / `stream_total` watch on the response just opened (a transport without
        `current_timeouts` times its streams itself)."""
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        current = getattr(self._owner.transport, "current_timeouts", None)
        timeouts: Timeouts | None = current() if current is not None else None
        if timeouts is None or (timeouts.idle is None and timeouts.stream_total is None):
            return
        abort = getattr(self._response, "abort", None)
        this = weakref.ref(self)  # the timer must not keep an abandoned stream alive

        def fail(exc: BaseException) -> None:
            if abort is not None:
                abort(exc)  # wakes the read in progress with `exc`
            elif (stream := this()) is not None:
                stream._deferred = exc if isinstance(exc, LLMError) else None
                stream._drop_response()

        total = timeouts.stream_total
        if total is not None and self._started is not None:  # a re-open (retry) keeps the first start
            total = max(total - (asyncio.get_running_loop().time() - self._started), 0.0)
        self._watch = StreamWatch(timeouts.idle, total, fail, self._owner.plan.name)

    async def __anext__(self) -> ChatCompletionChunk:
        while not self._pending:
            if self._finished:
                self._stop_watch()
                raise StopAsyncIteration
            if self._response is None:
                try:
                    await self.open()
                except BaseException:
                    self._finished = True
                    raise
            watch = self._watch
            if watch is not None:
                watch.waiting = True  # the caller waits for the server from here
            try:
                await self._pump()
            except LLMError as err:
                self._drop_response()
                if self._delivered:
                    self._finished = True
                    self._stop_watch()
                    raise self._attempts.final(err) from None
                try:
                    await self._attempts.failed(err)  # raises unless this failure may be retried
                except BaseException:
                    self._finished = True
                    self._stop_watch()
                    raise
            except BaseException:
                self.close()
                raise
        watch = self._watch
        if watch is not None:
            watch.waiting = False
            watch.progress += 1
        self._delivered = True
        return self._pending.popleft()

    def _stop_watch(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.stop()

    def ready(self) -> ChatCompletionChunk | None:
        pending = self._pending
        if not pending:
            return None
        self._delivered = True
        return pending.popleft()

    async def _pump(self) -> None:
        """Decode the next frames held from the last read (`DECODE_BATCH` of them), or read one piece of the
        body and decode the first frames it completes.

        An error decoded after good chunks is held back until those chunks are handed out, so the caller sees
        everything the provider sent before it failed; the frames after it are dropped."""
        if self._deferred is not None:
            err, self._deferred = self._deferred, None
            raise err
        frames, start = self._frames, self._next
        if start >= len(frames):  # nothing held: read
            assert self._response is not None
            data = await self._response.read_chunk()
            self._frames = frames = self._framer.feed(data) if data else self._framer.close()
            self._at_end = not data
            start = 0
        stop = self._next = start + DECODE_BATCH
        pending = self._pending
        redactor = self._owner._redactor
        token = activate(redactor) if redactor else None  # error previews redacted before they are cut
        try:
            try:
                if frames:  # each frame's chunks, appended to `pending`
                    self._feed_all(frames if not start and stop >= len(frames) else frames[start:stop], pending)
                if self._at_end and stop >= len(frames):
                    pending.extend(self._decoder.close())
                    found = self._decoder.warnings  # a mapping that gave nothing (engine/silent.py)
                    if found:
                        self.warnings.extend(found)  # (in place: a router's stream shares the list)
                    self._finished = True
                    self._response = None
                    self._stop_watch()
            except RecursionError:  # the JSON decoder's own depth limit (free per event; ours is for bodies)
                raise StreamError("a stream event is nested too deeply to decode") from None
        except LLMError as err:
            self._frames, self._next = (), 0
            if not pending:
                raise
            self._deferred = err
        finally:
            if token is not None:
                deactivate(token)

    def _drop_response(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            response.close()

    def close(self) -> None:
        self._stop_watch()
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
