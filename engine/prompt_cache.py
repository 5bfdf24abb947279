"""Explicit prompt caches (`operations.prompt_cache` of a spec): a marked prefix of the conversation is stored
as a provider-side cache resource once, and later requests send only what follows it plus the cache's name.

The spec says everything provider-specific, as data: which keys of the chat body the cache holds (`prefix.keys`,
moved whole, e.g. the system instruction and tools) and which list it holds the leading entries of
(`prefix.list`, the turns up to the last `cache_control` mark); where a request names the cache
(`reference`); the create / get / list / delete calls (endpoints and the create body's template); how the
provider's resource reads as a `CachedContent`; which errors mean the cache is gone (expired or deleted) or
the prefix too small; the minimum size per model (`min_tokens`, overrides by model glob). This module only
splits, renders and decodes (no I/O); `runtime/prompt_cache.py` sends the calls and keeps the registry.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import msgspec

from .cache_marks import Mark, is_marked, last_mark
from .error_map import ErrorBuilder, compile_errors
from .errors import InvalidRequestError, LLMError, MappingError, ProviderError, SpecError
from .gateway import JSON_ENCODER
from .gateway_ops import CachedContent
from .layers import merge_layer
from .response import decode_json
from .templates import Evaluator, compile_template
from .transforms import Context
from .wire import WireRequest

__all__ = ["DISPLAY_PREFIX", "CachedContent", "Mark", "PromptCachePlan", "Split", "compile_prompt_cache",
           "is_marked", "last_mark", "ttl_seconds"]

DISPLAY_PREFIX = "vllora-llm:"
"""Caches this library creates carry `<prefix><key>` as their display name: `client.caches()` lists those."""

_NAME = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)+$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def ttl_seconds(value: str | None, default: int, where: str = "cache_control.ttl") -> int:
    """`cache_control.ttl` (`"5m"`, `"1h"`, `"3600s"`, `"90"`) in whole seconds (at least 1); `default` if None.
    `where` names the field in the error."""
    if value is None:
        return default
    found = _DURATION.match(value)
    if found is None:
        raise InvalidRequestError(f"{where}: {value!r} is not a duration (e.g. '300s', '5m', '1h')", path=where)
    return max(1, round(float(found.group(1)) * _UNITS[found.group(2)]))


class Split(msgspec.Struct, kw_only=True):
    """A chat body cut at the marked prefix: what the cache holds, what the request still sends, its key."""

    cached: dict[str, Any]
    """The prefix: `prefix.list` → its leading entries, and each of `prefix.keys` present in the body."""
    rest: dict[str, Any]
    """The chat body without the prefix (the reference to the cache is set once its name is known)."""
    key: str
    """A hash of the model and the prefix: equal prefixes share one cache."""
    size_estimate: int
    """The prefix's size in tokens, estimated generously (its JSON length / `chars_per_token`)."""


class PromptCachePlan:
    """One compiled `prompt_cache` operation."""

    def __init__(self, spec: Mapping[str, Any], shared: Mapping[str, Any], provider: str) -> None:
        self.provider = provider
        where = ("operations", "prompt_cache")
        prefix = dict(spec.get("prefix") or {})
        if not prefix.get("list") or not spec.get("reference"):
            raise SpecError(f"{provider}: operations.prompt_cache needs prefix.list and reference")
        self.list_key = str(prefix["list"])
        self.parts_key = str(prefix.get("parts", "parts"))
        self.moved: tuple[str, ...] = tuple(str(k) for k in prefix.get("keys") or ())
        self.reference = str(spec["reference"])
        self.default_ttl = int(spec.get("default_ttl", 3600))
        self.chars_per_token = float(spec.get("chars_per_token", 4))
        self.min_tokens = int(spec.get("min_tokens", 0))
        self.min_by_glob: list[tuple[tuple[str, ...], int]] = [
            (tuple(layer["match"]), int(layer["min_tokens"]))
            for layer in spec.get("overrides") or () if "min_tokens" in layer
        ]
        create = dict(spec.get("create") or {})
        self.create_endpoint = dict(create.get("endpoint") or {})
        self.create_body: Evaluator = compile_template(create.get("request") or {}, (*where, "create", "request"))
        self.get_endpoint = dict(spec.get("get") or {})
        self.delete_endpoint = dict(spec.get("delete") or {})
        listing = dict(spec.get("list") or {})
        self.list_endpoint = dict(listing.get("endpoint") or {})
        self.list_items = str(listing.get("items", "items"))
        self.list_next = str(listing.get("next_page", "nextPageToken"))
        self.list_page_param = str(listing.get("page_param", "pageToken"))
        self.resource: Evaluator = compile_template(spec.get("resource") or {"name": "$name"}, (*where, "resource"))
        self.gone = _matcher(spec.get("gone"), provider, "gone")
        self.too_small = _matcher(spec.get("too_small"), provider, "too_small")
        api_version = str((shared.get("metadata") or {}).get("api_version", ""))
        self.headers = {str(k): str(v).replace("{api_version}", api_version)
                        for k, v in (shared.get("headers") or {}).items()}
        self.headers.setdefault("content-type", "application/json")
        self.bodiless_headers = {k: v for k, v in self.headers.items() if k.lower() != "content-type"}
        """(Both dicts are handed out as they are, every call: the runtime caches the final headers per dict.)"""
        self.error: ErrorBuilder = compile_errors(
            merge_layer(dict(shared.get("errors") or {}), dict(spec.get("errors") or {})), provider)

    def __repr__(self) -> str:
        return f"<PromptCachePlan {self.provider}>"

    def minimum(self, model: str) -> int:
        """The model's minimum cache size in tokens (the last matching override wins)."""
        found = self.min_tokens
        for globs, value in self.min_by_glob:
            if any(fnmatch.fnmatchcase(model, g) for g in globs):
                found = value
        return found

    # ---- the split ----------------------------------------------------------------------------------------

    def split(self, model: str, full: dict[str, Any], prefix: dict[str, Any]) -> Split | None:
        """Cut `full` (the whole request's chat body) where `prefix` (the chat body of the messages up to the
        mark) ends. None when the prefix's entries are not the leading entries of the whole body's (nothing
        can be cut there) or nothing would be left to send."""
        full_list = full.get(self.list_key) or []
        pre_list = list(prefix.get(self.list_key) or [])
        if not isinstance(full_list, list) or len(pre_list) > len(full_list):
            return None
        count = len(pre_list)
        if full_list[: max(count - 1, 0)] != pre_list[: max(count - 1, 0)]:
            return None
        rest = list(full_list[count:])
        if count and full_list[count - 1] != pre_list[count - 1]:
            straddle = self._straddle(full_list[count - 1], pre_list[count - 1])  # merged with the next turn
            if straddle is None:
                return None
            rest.insert(0, straddle)
        if not rest:  # the mark is on the last turn: cache everything before it
            if count == 0:
                return None
            rest = [pre_list.pop()]
        cached: dict[str, Any] = {self.list_key: pre_list} if pre_list else {}
        body = dict(full)
        body[self.list_key] = rest
        for key in self.moved:
            if key in body:
                cached[key] = body.pop(key)
        if not cached:
            return None
        encoded = msgspec.json.encode(cached, order="sorted")
        key = hashlib.sha256(model.encode() + b"\x00" + encoded).hexdigest()
        estimate = int(len(encoded) / self.chars_per_token)
        return Split(cached=cached, rest=body, key=key, size_estimate=estimate)

    def _straddle(self, whole: Any, head: Any) -> dict[str, Any] | None:
        """The entry after the prefix when the whole body merged the prefix's last turn with the next one: the
        same entry holding only the parts after the prefix's."""
        if not isinstance(whole, dict) or not isinstance(head, dict):
            return None
        parts, head_parts = whole.get(self.parts_key), head.get(self.parts_key)
        if not isinstance(parts, list) or not isinstance(head_parts, list):
            return None
        same = {k: v for k, v in whole.items() if k != self.parts_key} == {
            k: v for k, v in head.items() if k != self.parts_key}
        if not same or parts[: len(head_parts)] != head_parts or len(parts) == len(head_parts):
            return None
        return {**whole, self.parts_key: parts[len(head_parts):]}

    def using(self, rest: dict[str, Any], name: str) -> bytes:
        """The chat body that sends `rest` with the cache `name`."""
        return JSON_ENCODER.encode({**rest, self.reference: name})

    # ---- the calls ----------------------------------------------------------------------------------------

    def create(self, base_url: str, model: str, split: Split, ttl: int) -> WireRequest:
        ctx = Context(self.provider)
        body = self.create_body({"model": model, "prefix": split.cached, "ttl_seconds": ttl,
                                 "ttl": f"{ttl}s", "display_name": DISPLAY_PREFIX + split.key}, ctx)
        return self._wire(self.create_endpoint, base_url, body=body)

    def get(self, base_url: str, name: str) -> WireRequest:
        return self._wire(self.get_endpoint, base_url, name=name)

    def delete(self, base_url: str, name: str) -> WireRequest:
        return self._wire(self.delete_endpoint, base_url, name=name)

    def list_page(self, base_url: str, page_token: str | None = None) -> WireRequest:
        query = {self.list_page_param: page_token} if page_token else {}
        return self._wire(self.list_endpoint, base_url, query=query)

    def _wire(self, endpoint: Mapping[str, Any], base_url: str, *, name: str | None = None,
              body: Any = None, query: Mapping[str, str] | None = None) -> WireRequest:
        if not endpoint.get("path"):
            raise MappingError(f"{self.provider}: the prompt_cache operation declares no such call",
                               provider=self.provider)
        path = str(endpoint["path"])
        if name is not None:
            if not _NAME.match(name) or ".." in name.split("/"):
                raise InvalidRequestError(f"name: {name!r} is not a cache name (e.g. 'cachedContents/abc123')",
                                          provider=self.provider, path="name")
            path = path.replace("{name}", quote(name, safe="/"))
        params = {**dict(endpoint.get("query") or {}), **dict(query or {})}
        url = base_url.rstrip("/") + path + (("?" + urlencode(params)) if params else "")
        data = b"" if body is None else JSON_ENCODER.encode(body)
        headers = self.headers if body is not None else self.bodiless_headers
        return WireRequest(str(endpoint.get("method", "GET")), url, headers, data, False)

    # ---- the answers --------------------------------------------------------------------------------------

    def decode_resource(self, status: int, headers: Mapping[str, str], body: bytes) -> CachedContent:
        if status >= 400:
            raise self.error(status, headers, body)
        return self._resource(decode_json(body, self.provider))

    def _resource(self, data: Any) -> CachedContent:
        out = self.resource(data, Context(self.provider))
        try:
            return msgspec.convert(out, CachedContent)
        except msgspec.ValidationError as exc:
            raise ProviderError(f"the answer is not a cache resource: {exc}", provider=self.provider,
                                body=data) from None

    def decode_page(self, status: int, headers: Mapping[str, str], body: bytes) -> tuple[list[CachedContent],
                                                                                         str | None]:
        if status >= 400:
            raise self.error(status, headers, body)
        data = decode_json(body, self.provider)
        items = data.get(self.list_items) if isinstance(data, dict) else None
        token = data.get(self.list_next) if isinstance(data, dict) else None
        return [self._resource(item) for item in items or ()], token if isinstance(token, str) and token else None

    def decode_deleted(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        if status >= 400:
            raise self.error(status, headers, body)


class _Matcher:
    """Which errors mean one thing (a gone cache, a too small prefix): by status and message pattern."""

    def __init__(self, statuses: frozenset[int], pattern: re.Pattern[str] | None) -> None:
        self.statuses = statuses
        self.pattern = pattern

    def __call__(self, err: LLMError) -> bool:
        if err.status not in self.statuses:
            return False
        return self.pattern is None or self.pattern.search(err.message or "") is not None


def _matcher(spec: Any, provider: str, name: str) -> _Matcher:
    spec = dict(spec or {})
    try:
        pattern = re.compile(str(spec["message"])) if spec.get("message") else None
    except re.error as exc:
        raise SpecError(f"{provider}: operations.prompt_cache.{name}.message: {exc}") from None
    return _Matcher(frozenset(int(s) for s in spec.get("status") or ()), pattern)


def compile_prompt_cache(shared: Mapping[str, Any], provider: str) -> PromptCachePlan | None:
    """The spec's prompt-cache operation, or None when it has none."""
    spec = (shared.get("operations") or {}).get("prompt_cache")
    return PromptCachePlan(spec, shared, provider) if spec else None
