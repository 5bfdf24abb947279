"""Error bodies → typed `LLMError`s, as declared in the spec's `errors:`.

Status families give the default class (401 auth, 403 permission, 404 not found, 4xx invalid request,
429 rate limit, 408/409/5xx retryable); the spec may name classes per status or per provider error type,
where the message, type and code are found, which header holds the request id, and where a body carries a
retry delay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from .errors import (
    ERROR_CLASSES,
    AuthenticationError,
    InvalidRequestError,
    LLMError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitError,
    StreamError,
)
from .paths import Getter, compile_getter
from .redaction import preview
from .transforms import Context, bind

ErrorBuilder = Callable[[int, Mapping[str, str], bytes], LLMError]
EventErrorBuilder = Callable[[str | None, str, Any], LLMError]
"""(error type, message, parsed body) of an error a stream sends as an event → the typed error."""

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


def default_class(status: int) -> type[LLMError]:
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 404:
        return NotFoundError
    if status == 429:
        return RateLimitError
    if 400 <= status < 500 and status not in (408, 409):
        return InvalidRequestError
    return ProviderError


def _class_entry(entry: Any) -> tuple[type[LLMError], bool | None]:
    if isinstance(entry, str):
        return ERROR_CLASSES[entry], None
    return ERROR_CLASSES[entry["class"]], entry.get("retryable")


def _type_table(spec: Mapping[str, Any]) -> Callable[[Any], tuple[type[LLMError] | None, bool | None]]:
    """`types:` lookup: exact name first, then case-insensitively (`ThrottlingException` in an HTTP header
    and `throttlingException` in a stream event are one type)."""
    exact = {str(k): _class_entry(v) for k, v in (spec.get("types") or {}).items()}
    folded = {k.casefold(): v for k, v in exact.items()}

    def lookup(error_type: Any) -> tuple[type[LLMError] | None, bool | None]:
        if error_type is None:
            return None, None
        name = str(error_type)
        return exact.get(name) or folded.get(name.casefold()) or (None, None)

    return lookup


def compile_event_errors(spec: Mapping[str, Any], provider: str) -> EventErrorBuilder:
    """Errors sent inside a stream (no HTTP status): the class comes from `types:` by the event's error type
    (its `retryable` too, else the class's default); an unlisted type is a `StreamError`."""
    by_type = _type_table(spec)

    def build(error_type: str | None, message: str, body: Any) -> LLMError:
        cls, retryable = by_type(error_type)
        return (cls or StreamError)(message, provider=provider, error_type=error_type, body=body,
                                    retryable=retryable)

    return build


def compile_errors(spec: Mapping[str, Any], provider: str) -> ErrorBuilder:
    message = compile_getter(spec.get("message", "error.message"))
    kind = compile_getter(spec.get("type", "error.type"))
    code = compile_getter(spec.get("code", "error.code"))
    request_id_header = spec.get("request_id_header", "x-request-id").lower()
    request_id_body = compile_getter(spec["request_id"]) if spec.get("request_id") else None
    type_header = spec.get("type_header", "").lower()
    by_status = {int(k): _class_entry(v) for k, v in (spec.get("status") or {}).items()}
    by_type = _type_table(spec)
    retryable_status = RETRYABLE_STATUS | frozenset(spec.get("retryable_status") or ())
    retry_spec = spec.get("retry_after")
    retry_get = compile_getter(retry_spec["from"]) if retry_spec else None
    retry_fn = None
    if retry_spec and "transform" in retry_spec:
        ref = retry_spec["transform"]
        retry_fn = bind(ref, {}) if isinstance(ref, str) else bind(ref["name"], ref.get("args"))

    def build(status: int, headers: Mapping[str, str], body: bytes) -> LLMError:
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            data: Any = msgspec.json.decode(body) if body else None
        except msgspec.DecodeError:
            data = None
        if isinstance(data, list) and data and isinstance(data[0], dict):
            data = data[0]  # some APIs wrap the error object in a one-element array
        text = message(data) if data is not None else None
        if text is None:
            shown = preview(body, 300).strip()
            text = f"HTTP {status}" + (f": {shown}" if shown else "")
        error_type = (lowered.get(type_header) if type_header else None) or (kind(data) if data is not None else None)
        if isinstance(error_type, str) and ":" in error_type and type_header:
            error_type = error_type.split(":", 1)[0]
        error_code = code(data) if data is not None else None
        cls, retryable = by_type(error_type)
        if cls is None:
            cls, retryable = by_status.get(status, (default_class(status), None))
        if retryable is None:
            retryable = status in retryable_status
        retry_after = None
        if retry_get is not None and data is not None:
            raw = retry_get(data)
            retry_after = retry_fn(raw, Context(provider)) if retry_fn is not None and raw is not None else raw
        return cls(
            str(text),
            provider=provider,
            status=status,
            error_type=str(error_type or error_code) if (error_type or error_code) else None,
            request_id=lowered.get(request_id_header) or _text_or_none(request_id_body, data),
            retry_after=float(retry_after) if isinstance(retry_after, (int, float)) else None,
            body=data if data is not None else preview(body, 2000),
            retryable=retryable,
        )

    return build


def _text_or_none(get: Getter | None, data: Any) -> str | None:
    """The string at a body path (a request id some providers repeat in the error body), or None."""
    value = get(data) if get is not None and data is not None else None
    return str(value) if isinstance(value, (str, int)) else None
