"""Caller input that cannot be sent, caught before any connection opens, as a typed error naming the field.

What the type checks of `ChatCompletionRequest` cannot see: free-form JSON (``extra_body``, schemas, tool
parameters, ``additional_parameters``, tool-call arguments) nested deeper than any real request (it would
end in a `RecursionError` somewhere in the mapping or the encoder), text that cannot be encoded as UTF-8
(lone surrogates), client settings that would be sent as they are (a base URL that is not an http(s) URL,
CR/LF in a header or the key) and model ids that would change a URL path (``.``, ``..``, empty).

The depth walk covers only the free-form fields and is iterative, so a plain text request pays a few
attribute reads; the search for a surrogate runs only after the encoder refused the request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import msgspec

from .errors import InvalidRequestError, MappingError

__all__ = [
    "MAX_INPUT_DEPTH",
    "VALUE_CONTROL",
    "check_base_url",
    "check_depth",
    "check_header_text",
    "check_path_segment",
    "explain_no_json_form",
    "explain_unencodable",
]

MAX_INPUT_DEPTH = 100
"""Deepest nesting accepted in a request's free-form JSON (a JSON schema is rarely deeper than 20)."""

_CONTROL = frozenset(chr(c) for c in (*range(0x20), 0x7F))
VALUE_CONTROL = _CONTROL - {"\t"}
"""What a header value cannot hold (RFC 9110 5.5: field values are visible characters, space and tab); aiohttp
refuses these with a bare ValueError at send time, after the connection is taken."""


def _children(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}" if isinstance(key, str) and key.isidentifier() else f"{path}[{key!r}]", item
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield f"{path}[{i}]", item
    elif isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            item = getattr(value, name)
            if item is not None and item is not msgspec.UNSET:
                yield f"{path}.{name}" if path else name, item


def _json_text_depth(text: str, limit: int) -> bool:
    """True when the JSON text `text` nests brackets deeper than `limit` (strings skipped): one pass."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def _too_deep(value: Any, path: str, limit: int) -> str | None:
    """The path of the first container deeper than `limit` below `value`, or None (iterative)."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        node, where, depth = stack.pop()
        if depth > limit:
            return where
        if isinstance(node, (dict, list, tuple)):
            stack.extend((item, p, depth + 1) for p, item in _children(node, where))
    return None


def _free_form(request: Any) -> Iterator[tuple[str, Any]]:
    """The request's free-form JSON values, with their field paths (typed request or its plain form)."""
    get = (lambda obj, name: obj.get(name)) if isinstance(request, dict) else getattr

    def field(obj: Any, name: str) -> Any:
        if obj is None:
            return None
        try:
            return get(obj, name) if isinstance(obj, (dict, msgspec.Struct)) else None
        except AttributeError:
            return None

    yield "extra_body", field(request, "extra_body")
    specific = field(request, "provider_specific")
    yield "provider_specific.additional_parameters", field(specific, "additional_parameters")
    fmt = field(request, "response_format")
    yield "response_format.json_schema.schema", field(field(fmt, "json_schema"), "schema")
    for i, tool in enumerate(field(request, "tools") or ()):
        yield f"tools[{i}].function.parameters", field(field(tool, "function"), "parameters")
    for i, function in enumerate(field(request, "functions") or ()):
        yield f"functions[{i}].parameters", field(function, "parameters")


def check_depth(request: Any, limit: int = MAX_INPUT_DEPTH, provider: str | None = None) -> None:
    """Raise `InvalidRequestError` naming the field when free-form JSON in `request` nests deeper than
    `limit` (tool-call arguments, JSON text, included)."""
    if isinstance(request, msgspec.Struct):
        typed: Any = request
        try:  # a request of text and numbers: a few attribute reads, on every call (inline: no call of its own)
            if (typed.extra_body is None and typed.provider_specific is None and typed.tools is None
                    and typed.functions is None and typed.response_format is None):
                for message in typed.messages:  # (a loop, not all() over a generator)
                    if message.tool_calls is not None:
                        break
                else:
                    return
        except AttributeError:
            pass
    for path, value in _free_form(request):
        if isinstance(value, (dict, list)):
            where = _too_deep(value, path, limit)
            if where is not None:
                raise InvalidRequestError(f"{path}: nested deeper than {limit} levels (at {where[:120]}…)",
                                          provider=provider, path=path)
    messages = request.get("messages") if isinstance(request, dict) else getattr(request, "messages", None)
    for i, message in enumerate(messages or ()):
        calls = message.get("tool_calls") if isinstance(message, dict) else getattr(message, "tool_calls", None)
        for j, call in enumerate(calls or ()):
            function = call.get("function") if isinstance(call, dict) else getattr(call, "function", None)
            arguments = function.get("arguments") if isinstance(function, dict) else getattr(
                function, "arguments", None)
            if isinstance(arguments, str) and len(arguments) > limit and _json_text_depth(arguments, limit):
                path = f"messages[{i}].tool_calls[{j}].function.arguments"
                raise InvalidRequestError(f"{path}: JSON nested deeper than {limit} levels", provider=provider,
                                          path=path)


def _unencodable(value: Any) -> str | None:
    """The path of the first string (or dict key) in `value` that is not valid Unicode text."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return where or "<request>"
            continue
        if isinstance(node, dict):
            for key in node:
                if isinstance(key, str):
                    try:
                        key.encode("utf-8")
                    except UnicodeEncodeError:
                        return f"{where}[{key!r}]" if where else repr(key)
        stack.extend((item, p) for p, item in reversed(list(_children(node, where))))
    return None


def explain_unencodable(request: Any, exc: BaseException, provider: str | None = None) -> InvalidRequestError:
    """The typed error for a request the mapping or the encoder could not handle (`exc`: a
    `UnicodeEncodeError` or a `RecursionError`), naming the field."""
    if isinstance(exc, RecursionError):
        try:
            check_depth(request, provider=provider)
        except InvalidRequestError as err:
            return err
        return InvalidRequestError("the request is nested too deeply to be encoded", provider=provider)
    path = _unencodable(request) or "<request>"
    return InvalidRequestError(
        f"{path}: text with an unpaired surrogate (not valid Unicode) cannot be sent", provider=provider, path=path)


def _refused(encode: Callable[[Any], Any], value: Any) -> bool:
    try:
        encode(value)
    except (TypeError, ValueError, NotImplementedError):
        return True
    return False


def _without_json_form(value: Any, encode: Callable[[Any], Any]) -> tuple[str, str] | None:
    """The path of the first value (or dict key) in `value` that `encode` refuses, and what it is, or None."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            for key in node:
                if not isinstance(key, str) and _refused(encode, {key: None}):
                    return where or "<value>", f"a dict key of type {type(key).__name__!r}"
        elif not isinstance(node, (list, tuple, msgspec.Struct)):
            if _refused(encode, node):
                return where or "<value>", f"a value of type {type(node).__name__!r}"
            continue
        stack.extend((item, p) for p, item in reversed(list(_children(node, where))))
    return None


def explain_no_json_form(
    value: Any, exc: BaseException, encode: Callable[[Any], Any], provider: str | None = None
) -> InvalidRequestError:
    """The typed error for a value `encode` (msgspec's `to_builtins` or a JSON encoder) refused with `exc`: the
    field path and the type of what has no JSON form, never the value (it may be a secret). A `RecursionError`
    or a `UnicodeEncodeError` is `explain_unencodable`'s."""
    if isinstance(exc, (RecursionError, UnicodeEncodeError)):
        return explain_unencodable(value, exc, provider)
    found = _without_json_form(value, encode)
    if found is None:
        return InvalidRequestError(f"<request>: has no JSON form ({type(exc).__name__})", provider=provider)
    path, what = found
    return InvalidRequestError(
        f"{path}: {what} has no JSON form (give JSON data: str, int, float, bool, None, list, dict)",
        provider=provider, path=path)


def check_path_segment(value: str, field: str, provider: str | None = None) -> None:
    """A value put into a URL path (a model id) must not be empty, ``.`` or ``..``."""
    if value in ("", ".", ".."):
        raise MappingError(
            f"{field}: {value!r} cannot be a URL path segment (the URL would change); pass a model id",
            provider=provider, path=field)


def check_base_url(url: str, provider: str | None = None, field: str = "base_url") -> None:
    """An http(s) URL with a host and no whitespace or control characters, else `InvalidRequestError`."""
    bad = next((ch for ch in url if ch in _CONTROL or ch.isspace()), None)
    if bad is not None:
        raise InvalidRequestError(
            f"{field}: contains {bad!r} (whitespace or a control character): percent-encode it",
            provider=provider, path=field)
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise InvalidRequestError(f"{field}: not a valid URL ({exc})", provider=provider, path=field) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidRequestError(
            f"{field}: the scheme must be http or https, got {parts.scheme or 'none'!r}",
            provider=provider, path=field)
    if not host:
        raise InvalidRequestError(f"{field}: the URL has no host", provider=provider, path=field)


def check_header_text(headers: Mapping[str, str], provider: str | None = None) -> None:
    """Header names are tokens and values carry no control character but tab and are Latin-1 (what HTTP/1.1 can
    send)."""
    for name, value in headers.items():
        path = f"headers[{name!r}]" if isinstance(name, str) else "headers"
        if not isinstance(name, str) or not name or any(ch in _CONTROL or ch in ' ()<>@,;:\\"/[]?={}' or ord(ch) > 126
                                                        for ch in name):
            raise InvalidRequestError(f"{path}: not a valid header name", provider=provider, path="headers")
        if not isinstance(value, str):
            raise InvalidRequestError(f"{path}: expected 'str', got {type(value).__name__!r}", provider=provider,
                                      path=path)
        bad = next((ch for ch in value if ch in VALUE_CONTROL), None)
        if bad is not None:
            what = "CR, LF or NUL" if bad in "\r\n\0" else f"a control character (U+{ord(bad):04X})"
            raise InvalidRequestError(f"{path}: the value contains {what}", provider=provider, path=path)
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise InvalidRequestError(f"{path}: the value has characters HTTP headers cannot carry "
                                      "(only Latin-1)", provider=provider, path=path) from None
