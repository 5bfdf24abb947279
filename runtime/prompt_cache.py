"""Prompt caching at run time: create the provider-side cache for a marked prefix once, reuse it, recreate it.

A request with `cache_control` marks, on a provider whose spec has a `prompt_cache` operation, goes through
`PromptCaching`: its chat body is cut at the last mark (`engine/prompt_cache.py`), the registry (a
`KeyValueStore`, by default in process: a prefix's hash → the cache's name and expiry) names the cache holding
that prefix, or one is created (once, even for concurrent requests with the same prefix); the request is then
sent with the cache's name and only the rest of the conversation. A cache the provider says is gone (expired,
deleted) is recreated once and the request sent again. A prefix below the model's minimum size is sent
uncached, with a warning value. `client.caches()` (`caches_client.py`) lists and deletes this library's caches.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from vllora_llm.engine.errors import InvalidRequestError, LLMError, MappingError
from vllora_llm.engine.gateway import ChatCompletionMessageWithFinishReason, ChatCompletionRequest, RequestWarning
from vllora_llm.engine.prompt_cache import (
    DISPLAY_PREFIX,
    CachedContent,
    PromptCachePlan,
    Split,
    last_mark,
    ttl_seconds,
)
from vllora_llm.engine.wire import WireRequest

from .auth import redact_error
from .response_store import InMemoryStore, KeyValueStore

if TYPE_CHECKING:
    from .instance import ChunkStream, ProviderModelInstance
    from .transport import Response

__all__ = ["PromptCaching"]

T = TypeVar("T")

KEY_PREFIX = "prompt_cache:"
EXPIRY_MARGIN = 10.0
"""Seconds before its expiry a cache is no longer handed out (a request in flight must still find it); a tenth
of the ttl for caches shorter than 100 s."""
MAX_PAGES = 100


class _Entry(msgspec.Struct, omit_defaults=True):
    name: str | None = None
    expires_at: float = 0.0
    """When the registry stops handing it out (wall clock: entries may be shared between processes)."""
    refused: str | None = None
    """The provider's answer when it refused to cache the prefix (remembered until `expires_at`)."""
    too_small: bool = False
    """Whether that answer said the prefix is below the model's minimum."""


_decode_entry = msgspec.convert


class PromptCaching:
    """The prompt caches of one provider instance (see the module docstring)."""

    def __init__(self, instance: ProviderModelInstance, plan: PromptCachePlan, store: KeyValueStore | None) -> None:
        self.instance = instance
        self.plan = plan
        self.store: KeyValueStore = store if store is not None else InMemoryStore(max_entries=1000)
        self.clock: Callable[[], float] = time.time
        """The registry's wall clock (expiry is wall time: a store may be shared between processes)."""
        self.created = 0
        """How many caches this instance created (a number to watch: each one is billed for storage)."""
        self._inflight: dict[str, asyncio.Future[_Entry]] = {}
        self._keys: dict[str, str] = {}
        """A cache's name → its registry key, for the caches created here (so `delete` forgets them too)."""

    # ---- chat calls ---------------------------------------------------------------------------------------

    async def complete(
        self, request: ChatCompletionRequest, builtins: dict[str, Any] | None
    ) -> ChatCompletionMessageWithFinishReason:
        async def send(body: Callable[[bytes], bytes] | None) -> ChatCompletionMessageWithFinishReason:
            instance = self.instance
            if body is None:
                return await instance.complete_uncached(request, builtins)
            wire, warnings = instance._prepare(request, stream=False, body_edit=body)
            result = await instance.send_decoded(wire, lambda response: instance._result_of(response, wire))
            result.warnings = [*warnings, *result.warnings]
            if result.provider is None:
                result.provider = instance.plan.name
            return result

        result, warnings = await self._run(request, send)
        if warnings:
            result.warnings = [*result.warnings, *warnings]
        return result

    async def open_stream(self, request: ChatCompletionRequest) -> ChunkStream:
        async def send(body: Callable[[bytes], bytes] | None) -> ChunkStream:
            return await self.instance.open_stream_uncached(request, body)

        stream, warnings = await self._run(request, send)
        if warnings:
            stream.warnings = [*stream.warnings, *warnings]
        return stream

    async def _run(
        self, request: ChatCompletionRequest, send: Callable[[Callable[[bytes], bytes] | None], Awaitable[T]]
    ) -> tuple[T, list[RequestWarning]]:
        """`send` the request through its prefix's cache (`send(None)`: uncached), with the warnings to add."""
        mark = last_mark(request)
        if mark is None:
            return await send(None), []
        index = mark.message
        plan, model = self.plan, request.model
        ttl = ttl_seconds(mark.ttl, plan.default_ttl, mark.path + ".ttl")
        prefix = self._body(msgspec.structs.replace(request, messages=request.messages[: index + 1]))[1]
        whole, decoded = self._body(request)
        if plan.reference in decoded:  # the caller named a cache of their own (provider_specific.cached_content)
            return await send(None), [_warning(
                "prompt_cache_ignored", f"the request already names a cache ({plan.reference}); the "
                "cache_control marks were not used")]
        split = plan.split(model, decoded, prefix)
        if split is None:
            return await send(None), [_warning(
                "prompt_cache_not_split", "the marked prefix could not be cut from the request (nothing would "
                "follow it, or it renders differently alone); sent without a cache")]
        minimum = plan.minimum(model)
        if split.size_estimate < minimum:
            return await send(None), [_warning(
                "prompt_cache_too_small", f"the marked prefix (about {split.size_estimate} tokens) is below "
                f"{model}'s minimum cache size ({minimum} tokens); sent without a cache")]
        entry = await self._entry(model, split, ttl)
        if entry.name is None:
            return await send(None), [self._refused(entry)]
        try:
            return await send(self._rewrite(model, prefix, entry.name, whole, split)), []
        except LLMError as err:
            if not plan.gone(err):
                raise
        await self._forget(KEY_PREFIX + split.key, entry.name)  # expired or deleted: recreate it once
        entry = await self._entry(model, split, ttl)
        if entry.name is None:
            return await send(None), [self._refused(entry)]
        return await send(self._rewrite(model, prefix, entry.name, whole, split)), []

    def _refused(self, entry: _Entry) -> RequestWarning:
        code = "prompt_cache_too_small" if entry.too_small else "prompt_cache_refused"
        return _warning(code, f"{self.instance.plan.name} refused to cache the marked prefix ({entry.refused}); "
                              "sent without a cache")

    def _body(self, request: ChatCompletionRequest) -> tuple[bytes, dict[str, Any]]:
        wire, _ = self.instance.plan.encode(request, stream=False, base_url=self.instance.base_url)
        body: dict[str, Any] = msgspec.json.decode(wire.body)
        return wire.body, body

    def _rewrite(
        self, model: str, prefix: dict[str, Any], name: str, whole: bytes, split: Split
    ) -> Callable[[bytes], bytes]:
        """The edit that turns the plan's body for the whole request into the one naming cache `name` (`whole`
        and `split`: that body as already cut, reused when the call renders the same bytes)."""

        def edit(raw: bytes) -> bytes:
            found: Split | None = split if raw == whole else self.plan.split(model, msgspec.json.decode(raw), prefix)
            if found is None:
                raise MappingError("the marked prefix could not be cut from the request",
                                   provider=self.plan.provider)
            return self.plan.using(found.rest, name)

        return edit

    # ---- the registry -------------------------------------------------------------------------------------

    async def _entry(self, model: str, split: Split, ttl: int) -> _Entry:
        """The live cache for `split` (found in the registry, else created once for all concurrent callers)."""
        key = KEY_PREFIX + split.key
        found = await self.store.get(key)
        if found is not None:
            try:
                entry = _decode_entry(found, _Entry)
            except msgspec.ValidationError:
                entry = None
            if entry is not None and entry.expires_at > self.clock():
                return entry
        pending = self._inflight.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._create(key, model, split, ttl))
            self._inflight[key] = pending
            pending.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(pending)

    async def _create(self, key: str, model: str, split: Split, ttl: int) -> _Entry:
        wire = self.plan.create(self._base_url(), model, split, ttl)
        try:
            resource = await self._call(wire, self.plan.decode_resource)
        except InvalidRequestError as err:  # too small, or a model that takes no cache: send it uncached
            entry = _Entry(refused=err.message, too_small=self.plan.too_small(err), expires_at=self.clock() + ttl)
        else:
            self.created += 1
            entry = _Entry(name=resource.name, expires_at=self.clock() + ttl - min(EXPIRY_MARGIN, ttl / 10))
            if len(self._keys) >= 4096:
                self._keys.pop(next(iter(self._keys)))
            self._keys[resource.name] = key
        await self.store.put(key, msgspec.to_builtins(entry))
        return entry

    async def _forget(self, key: str, name: str) -> None:
        """Drop the registry entry `key` if it still names the cache `name` (a concurrent request that found the
        same cache gone may have stored its replacement already)."""
        self._keys.pop(name, None)
        found = await self.store.get(key)
        if isinstance(found, dict) and found.get("name") not in (None, name):
            return
        delete = getattr(self.store, "delete", None)
        if delete is not None:
            await delete(key)
        else:
            await self.store.put(key, msgspec.to_builtins(_Entry()))

    # ---- the other calls ----------------------------------------------------------------------------------

    def _base_url(self) -> str:
        return self.instance.plan.resolve_base_url(self.instance.base_url)

    async def _call(self, wire: WireRequest, decode: Callable[[int, Any, bytes], T]) -> T:
        """One call of the operation with the instance's auth, retries, timeouts and redaction."""
        instance = self.instance
        wire = instance.authorize(wire)

        def handle(response: Response) -> T:
            status, headers, body = response.status, response.headers, response.body
            if not 200 <= status < 300:
                raise instance.http_error(status, headers, body, response.truncated, wire)
            try:
                return decode(status, headers, body)
            except LLMError as err:
                instance._describe_answer(err, status, headers, body)
                raise redact_error(err, instance._redactor) from None

        return await instance.send_decoded(wire, handle)

    async def list(self, *, everything: bool = False) -> list[CachedContent]:
        out: list[CachedContent] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            page, token = await self._call(self.plan.list_page(self._base_url(), token), self.plan.decode_page)
            out.extend(page)
            if token is None:
                break
        if everything:
            return out
        return [c for c in out if (c.display_name or "").startswith(DISPLAY_PREFIX)]

    async def get(self, name: str) -> CachedContent:
        return await self._call(self.plan.get(self._base_url(), name), self.plan.decode_resource)

    async def delete(self, name: str) -> None:
        await self._call(self.plan.delete(self._base_url(), name), self.plan.decode_deleted)
        key = self._keys.get(name)
        if key is not None:
            await self._forget(key, name)


def _warning(code: str, message: str) -> RequestWarning:
    return RequestWarning(code=code, message=message, param="cache_control")
