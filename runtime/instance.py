"""The spec-driven model instance (the contract, the chunk stream and the offline dummy: model_instance.py).

`ProviderModelInstance` is where the layers meet: the plan renders and parses (pure), auth adds credentials,
the transport moves bytes, a framer cuts the stream into frames and the plan's stream decoder turns frames
into chunks (one streamed call: `provider_stream.py`; the calls' headers: `provider_headers.py`). Retries
(rules in `retry.py`) are driven from here and from the stream, because only there is it known whether a
chunk already reached the caller: a stream is re-opened after a failure only until its first chunk is
handed out, never after.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

from vllora_llm.engine.cache_marks import is_marked
from vllora_llm.engine.errors import InvalidRequestError, LLMError, MappingError, ProviderError, SpecError
from vllora_llm.engine.gateway import (
    JSON_ENCODER,
    ChatCompletionChunk,
    ChatCompletionMessageWithFinishReason,
    ChatCompletionRequest,
    RequestWarning,
)
from vllora_llm.engine.input_guard import (
    MAX_INPUT_DEPTH,
    VALUE_CONTROL,
    check_base_url,
    check_depth,
    check_header_text,
    explain_no_json_form,
)
from vllora_llm.engine.redaction import Redactor, mask_url_passwords, redacting
from vllora_llm.engine.wire import WireRequest

from .auth import headers_only, redact, resolve_credentials, scheme_for, select_auth
from .limits import ACCEPT_ENCODING, Limits, json_too_deep, opening_brackets
from .model_instance import ChunkStream, DummyModelInstance, ModelInstance, ProviderPlan
from .observe import CURRENT
from .provider_errors import ProviderErrors
from .provider_headers import USER_AGENT, header_secrets, merge_headers
from .provider_stream import FRAMERS, ProviderChunkStream
from .retry import Attempts, RetryPolicy
from .transport import AiohttpTransport, Response, Timeouts, Transport

if TYPE_CHECKING:  # (the spec compiler is imported only by clients built from a spec)
    from vllora_llm.engine.gateway_ops import OperationInput, OperationResult
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


class ProviderModelInstance(ProviderErrors, StreamOpeningInstance):
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
        self._secrets = (*self._credentials.secrets(), *header_secrets(headers or {}, plan.auth, secret_headers))
        self._check_key()
        self._headers = merge_headers({"user-agent": USER_AGENT, "accept-encoding": ACCEPT_ENCODING}, headers or {})
        self.max_input_depth = max_input_depth
        self._secrets = (*self._secrets, *self._check_base_url(plan, base_url))
        self._redactor = Redactor(self._secrets)
        self._headers_only_auth = headers_only(self._auth)
        self._final_headers: dict[int, tuple[dict[str, str], dict[str, str]]] = {}
        """id(the plan's header dict) → (that dict, its final headers), when auth only adds headers."""
        self._last_headers: tuple[dict[str, str] | None, dict[str, str]] = (None, {})
        """The pair of `_final_headers` found or stored last (one tuple: read and replaced whole, thread-safe)."""
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
            if problem is None and in_header and any(ch in VALUE_CONTROL for ch in secret):
                problem = "a control character"
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
        self, request: ChatCompletionRequest, stream: bool, builtins: dict[str, Any] | None = None,
        body_edit: Callable[[bytes], bytes] | None = None,
    ) -> tuple[WireRequest, list[RequestWarning]]:
        """The wire request, authorized; `body_edit` rewrites the plan's body first (the prompt cache's cut)."""
        # (one call: which fields are free-form is input_guard's knowledge, kept there; its first test is cheap)
        check_depth(request, self.max_input_depth, self.plan.name)
        try:
            wire, warnings = self.plan.encode(request, stream=stream, base_url=self.base_url, builtins=builtins)
        except (RecursionError, UnicodeEncodeError, NotImplementedError) as exc:  # the encoder refused: name the field
            raise explain_no_json_form(request, exc, JSON_ENCODER.encode, self.plan.name) from None
        if body_edit is not None:
            wire.body = body_edit(wire.body)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s: %s %s", self.plan.name, wire.method, redact(wire.url.split("?", 1)[0], self._redactor))
        if warnings and self._redactor:  # a warning may quote a request value, and a value may hold a key
            for warning in warnings:
                warning.message = redact(warning.message, self._redactor)
        observation = CURRENT.get()
        if observation is None and self._headers_only_auth:  # the usual call: the final headers of the plan's dict
            last = self._last_headers  # (`_headers_for`'s last answer: one model's calls hand out one dict)
            wire.headers = last[1] if last[0] is wire.headers else self._headers_for(wire)
            return wire, warnings
        trace_headers: dict[str, str] = {}
        if observation is not None:  # an observed call: say where it goes, and carry its trace if the spec allows
            observation.target(self._otel_name, wire.url, self._secrets)
            if self._propagate_trace:
                trace_headers = observation.trace_headers()
        if self._headers_only_auth:  # (the plan made `wire` for this call: its headers field is ours to set)
            wire.headers = self._headers_for(wire)
            if trace_headers:  # a copy: the shared final headers stay as they are
                wire.headers = {**wire.headers, **trace_headers}
            return wire, warnings
        wire = wire.with_headers(merge_headers(self._headers, wire.headers, trace_headers))
        return self._auth.apply(wire, self._auth_spec, self._credentials), warnings

    def _headers_for(self, wire: WireRequest) -> dict[str, str]:
        """The final headers (ours, the plan's, the credentials) for a plan's header dict, computed once per
        dict: a plan hands out the same (unchanging) dict on every request, and auth here only adds headers.
        The result is shared between requests; nothing downstream changes it (the transport copies)."""
        source = wire.headers
        found = self._final_headers.get(id(source))
        if found is not None and found[0] is source:
            self._last_headers = found
            return found[1]
        merged = wire.with_headers(merge_headers(self._headers, source))
        final = self._auth.apply(merged, self._auth_spec, self._credentials).headers
        self._last_headers = (source, final)
        if len(self._final_headers) < 64:
            self._final_headers[id(source)] = self._last_headers
        return final

    def _attempts(self) -> Attempts:
        return Attempts(self.plan.name, self.retry, self._redactor)

    def complete(self, request: ChatCompletionRequest) -> Coroutine[Any, Any, ChatCompletionMessageWithFinishReason]:
        return self.complete_validated(request, None)

    def complete_validated(
        self, request: ChatCompletionRequest, builtins: dict[str, Any] | None
    ) -> Coroutine[Any, Any, ChatCompletionMessageWithFinishReason]:
        # A plain function handing out the call's coroutine: no coroutine of its own for each call to pass through.
        if self._caches and is_marked(request):
            caching = self.prompt_cache
            if caching is not None:
                return caching.complete(request, builtins)
        return self.complete_uncached(request, builtins)

    async def complete_uncached(
        self, request: ChatCompletionRequest, builtins: dict[str, Any] | None
    ) -> ChatCompletionMessageWithFinishReason:
        """One whole completion, as the plan renders it (no prompt cache)."""
        wire, warnings = self._prepare(request, False, builtins)
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
            if depth is not None and opening_brackets(body, depth) > depth and json_too_deep(body, depth):
                # (`json_too_deep`'s own first test first: an ordinary body needs no more)
                raise ProviderError(f"response body nested deeper than {depth} (Limits.max_json_depth)")
            try:  # (a 2xx: the plan's body decoder straight away, unless the whole body is kept too)
                if self.raw_extras:
                    return self.plan.decode(response.status, response.headers, body, raw=True)
                return self.plan.decode_body(body)
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
        return self._auth.apply(wire.with_headers(merge_headers(self._headers, wire.headers)), self._auth_spec,
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

    async def run_operation_validated(
        self, operation: str, request: OperationInput, builtins: dict[str, Any] | None
    ) -> OperationResult:
        from .operations import run_operation

        return await run_operation(self, operation, request, builtins)

    def serves(self, operation: str, model: str) -> bool:
        try:
            self.plan.operation(operation)
        except MappingError:
            return False
        return True

    async def open_operation_stream(self, operation: str, request: OperationInput) -> ChunkStream:
        from .operations import open_operation_stream

        return await open_operation_stream(self, operation, request)

    async def open_operation_stream_validated(
        self, operation: str, request: OperationInput, builtins: dict[str, Any] | None
    ) -> ChunkStream:
        from .operations import open_operation_stream

        return await open_operation_stream(self, operation, request, builtins)

    async def open_stream_for(
        self, wire: WireRequest, warnings: list[RequestWarning], decoder: Callable[[], Any], framing: str
    ) -> ChunkStream:
        """The open stream of `wire` (already authorized), its frames decoded by `decoder()`: retries (until the
        first item is handed out), limits and stream timeouts as for chat."""
        stream = ProviderChunkStream(self, wire, warnings, decoder, framing)
        await stream.open()
        return stream

    def open_stream(self, request: ChatCompletionRequest) -> Coroutine[Any, Any, ChunkStream]:
        return self.open_stream_validated(request, None)

    def open_stream_validated(
        self, request: ChatCompletionRequest, builtins: dict[str, Any] | None
    ) -> Coroutine[Any, Any, ChunkStream]:
        if self._caches and is_marked(request):
            caching = self.prompt_cache
            if caching is not None:
                return caching.open_stream(request)
        return self.open_stream_uncached(request, builtins=builtins)

    async def open_stream_uncached(
        self, request: ChatCompletionRequest, body_edit: Callable[[bytes], bytes] | None = None,
        builtins: dict[str, Any] | None = None,
    ) -> ChunkStream:
        """A stream, opened, as the plan renders it (`body_edit`, `builtins`: see `_prepare`)."""
        wire, warnings = self._prepare(request, stream=True, builtins=builtins, body_edit=body_edit)
        stream = ProviderChunkStream(self, wire, warnings)
        await stream.open()
        return stream

    async def aclose(self) -> None:
        if self._owns_transport:
            await self.transport.aclose()
