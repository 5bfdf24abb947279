"""Gemini's explicit context caches (cachedContents) for the local provider server.

`POST /v1beta/cachedContents` (and `/v1/`) creates a cache from `model` (`models/<m>`), `contents`,
`systemInstruction`, `tools`, `toolConfig`, `ttl` (`"3600s"`, default 1 h) or `expireTime`, `displayName`;
`GET` lists (`pageSize`, `pageToken`) or gets one, `PATCH` changes its expiry, `DELETE` removes it. A cache
smaller than `MIN_TOKENS` (words, the server's token count) is refused with the API's 400 "Cached content
is too small". generateContent with `cachedContent` answers as if the cache's turns came first, reports
`cachedContentTokenCount`, and refuses what the API refuses: a cache that expired, was deleted or never
existed (403 "CachedContent not found"), another model's cache, and its own `systemInstruction`, `tools` or
`toolConfig` beside a cache. Tests read `caches_of(server.app)`: what was created, and `expire()` to age one.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from vllora_llm.tools.testing.replies import count_words
from vllora_llm.tools.testing.responder import Call, JsonReply, WireError, add_route

MIN_TOKENS = 1024
"""The smallest cache accepted (Gemini 2.5 Flash's minimum), for every model."""
DEFAULT_TTL = 3600.0
_TTL = re.compile(r"^(\d+(?:\.\d+)?)s$")
MOVED = ("systemInstruction", "tools", "toolConfig")


@dataclass(slots=True)
class CacheRecord:
    name: str
    model: str
    display_name: str | None
    body: dict[str, Any]
    """What the cache holds: `contents` and each of `systemInstruction`, `tools`, `toolConfig` it was given."""
    tokens: int
    created: float
    expires: float

    def resource(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "model": self.model, "createTime": _rfc3339(self.created),
                               "updateTime": _rfc3339(self.created), "expireTime": _rfc3339(self.expires),
                               "usageMetadata": {"totalTokenCount": self.tokens}}
        if self.display_name is not None:
            out["displayName"] = self.display_name
        return out


@dataclass(slots=True)
class CacheStore:
    """The server's caches; `clock` is wall time (tests may replace it)."""

    caches: dict[str, CacheRecord] = field(default_factory=dict)
    creates: list[dict[str, Any]] = field(default_factory=list)
    """Every create request body that made a cache, in order."""
    deleted: int = 0
    clock: Callable[[], float] = time.time
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def live(self, name: str) -> CacheRecord | None:
        record = self.caches.get(name)
        if record is not None and record.expires <= self.clock():
            del self.caches[name]  # the service deletes a cache when it expires
            return None
        return record

    def expire(self, name: str | None = None) -> None:
        """Age one cache (or all of them) past its expiry."""
        for record in self.caches.values():
            if name is None or record.name == name:
                record.expires = self.clock() - 1.0


CACHES: web.AppKey[CacheStore] = web.AppKey("vllora_local_gemini_caches", CacheStore)


def caches_of(app: web.Application) -> CacheStore:
    return app[CACHES]


def register(app: web.Application) -> None:
    from vllora_llm.tools.testing.wire_gemini import API_VERSIONS, WIRE

    app[CACHES] = CacheStore()
    for version in API_VERSIONS:
        add_route(app, "POST", f"/{version}/cachedContents", WIRE, create)
        add_route(app, "GET", f"/{version}/cachedContents", WIRE, list_caches)
        add_route(app, "GET", f"/{version}/cachedContents/{{id}}", WIRE, get)
        add_route(app, "PATCH", f"/{version}/cachedContents/{{id}}", WIRE, update)
        add_route(app, "DELETE", f"/{version}/cachedContents/{{id}}", WIRE, delete)


def _rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _checked_key(call: Call) -> None:
    if not (call.headers.get("x-goog-api-key", "").strip() or call.recorded.query.get("key")):
        raise WireError(403, "Method doesn't allow unregistered callers (callers without established identity).")


def _expiry(body: dict[str, Any], now: float) -> float:
    ttl = body.get("ttl")
    if ttl is not None:
        found = _TTL.match(ttl) if isinstance(ttl, str) else None
        if found is None:
            raise WireError(400, 'Invalid value at \'cached_content.ttl\' (type.googleapis.com/google.protobuf.'
                                 'Duration), Field \'ttl\', Illegal duration format; duration must end with \'s\'')
        return now + float(found.group(1))
    expire = body.get("expireTime")
    if isinstance(expire, str):
        try:
            return datetime.fromisoformat(expire.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise WireError(400, "Invalid value at 'cached_content.expire_time'") from None
    return now + DEFAULT_TTL


def _tokens(body: dict[str, Any]) -> int:
    texts = [p.get("text", "") for c in body.get("contents") or () if isinstance(c, dict)
             for p in c.get("parts") or () if isinstance(p, dict) and isinstance(p.get("text"), str)]
    system = body.get("systemInstruction") or {}
    texts += [p.get("text", "") for p in system.get("parts") or () if isinstance(p, dict)
              and isinstance(p.get("text"), str)]
    return sum(count_words(text) for text in texts)


async def create(call: Call) -> JsonReply:
    from vllora_llm.tools.testing.wire_gemini import check_part

    _checked_key(call)
    body = call.json
    if not isinstance(body, dict):
        raise WireError(400, "Invalid JSON payload received. Expected an object.")
    model = body.get("model")
    if not isinstance(model, str) or not model.startswith("models/") or len(model) <= len("models/"):
        raise WireError(400, "* CreateCachedContentRequest.cached_content.model: model must be models/{model}")
    for i, content in enumerate(body.get("contents") or ()):
        if not isinstance(content, dict) or content.get("role") not in ("user", "model"):
            raise WireError(400, f"* CreateCachedContentRequest.cached_content.contents[{i}].role: must be user "
                                 "or model")
        for j, part in enumerate(content.get("parts") or ()):
            check_part(part, model.removeprefix("models/"), f"contents[{i}].parts[{j}]", i + 1)
    store = caches_of(call.request.app)
    now = store.clock()
    tokens = _tokens(body)
    if tokens < MIN_TOKENS:
        raise WireError(400, f"Cached content is too small. total_token_count={tokens}, "
                             f"min_total_token_count={MIN_TOKENS}")
    name = f"cachedContents/local{next(store._ids):04d}"
    held = {key: body[key] for key in ("contents", *MOVED) if body.get(key) is not None}
    display = body.get("displayName")
    record = CacheRecord(name, model, display if isinstance(display, str) else None, held, tokens, now,
                         _expiry(body, now))
    store.caches[name] = record
    store.creates.append(body)
    return JsonReply(record.resource())


async def list_caches(call: Call) -> JsonReply:
    _checked_key(call)
    store = caches_of(call.request.app)
    live = [r for name in list(store.caches) if (r := store.live(name)) is not None]
    size = int(call.recorded.query.get("pageSize") or 100)
    start = int(call.recorded.query.get("pageToken") or 0)
    page = live[start:start + max(size, 1)]
    out: dict[str, Any] = {"cachedContents": [r.resource() for r in page]} if page else {}
    if start + size < len(live):
        out["nextPageToken"] = str(start + size)
    return JsonReply(out)


def _named(call: Call) -> tuple[CacheStore, CacheRecord]:
    _checked_key(call)
    store = caches_of(call.request.app)
    name = "cachedContents/" + call.request.match_info["id"]
    record = store.live(name)
    if record is None:
        raise WireError(404, f"CachedContent not found: {name}")
    return store, record


async def get(call: Call) -> JsonReply:
    return JsonReply(_named(call)[1].resource())


async def update(call: Call) -> JsonReply:
    store, record = _named(call)
    body = call.json if isinstance(call.json, dict) else {}
    record.expires = _expiry(body, store.clock())
    return JsonReply(record.resource())


async def delete(call: Call) -> JsonReply:
    store, record = _named(call)
    del store.caches[record.name]
    store.deleted += 1
    return JsonReply({})


def expand(call: Call, body: Any, model: str) -> tuple[Any, int]:
    """A generateContent body naming `cachedContent`, as if sent whole (the cache's turns first), with the
    cache's size; a body without one as it is, with 0."""
    if not isinstance(body, dict) or "cachedContent" not in body:
        return body, 0
    name = body["cachedContent"]
    record = caches_of(call.request.app).live(name) if isinstance(name, str) else None
    if record is None:
        raise WireError(403, f"CachedContent not found (or permission denied): {name}")
    if record.model != f"models/{model}":
        raise WireError(400, f"Model used by GenerateContent request (models/{model}) and CachedContent "
                             f"({record.model}) has to be the same.")
    if any(body.get(key) is not None for key in MOVED):
        raise WireError(400, "CachedContent can not be used with GenerateContent request setting "
                             "system_instruction, tools or tool_config.\n\nProposed fix: move those values to "
                             "CachedContent from GenerateContent request.")
    whole = {k: v for k, v in body.items() if k != "cachedContent"}
    whole.update({key: value for key, value in record.body.items() if key != "contents"})
    whole["contents"] = [*(record.body.get("contents") or []), *(body.get("contents") or [])]
    return whole, record.tokens
