"""The shared base of the unified gateway types: `GatewayStruct` (`from_dict` / `to_dict` / `validate`), their
JSON encoder, and how a msgspec error becomes an `InvalidRequestError` naming the JSON path.

Kept apart from the types themselves so each family (messages, request, response) is one small module.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

import msgspec

from .errors import InvalidRequestError
from .input_guard import explain_no_json_form
from .validators import COPIES, validator_type

T = TypeVar("T", bound="GatewayStruct")


def enc_hook(obj: Any) -> Any:
    """Encode the content wrappers (str / list subclasses) as their plain types."""
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, list):
        return list(obj)
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


JSON_ENCODER = msgspec.json.Encoder(enc_hook=enc_hook)
_to_builtins = msgspec.to_builtins
_convert = msgspec.convert
_REFUSALS = (TypeError, ValueError, NotImplementedError, RecursionError)
"""What msgspec raises for a value it cannot convert (NotImplementedError: `enc_hook`'s refusal)."""


def _plain(value: Any) -> Any:
    return _to_builtins(value, enc_hook=enc_hook)


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_PATH = re.compile(r"\s*-\s*at\s*`\$\.?(?P<path>[^`]*)`\s*$")

URL_PATTERN = r"^(?:[A-Za-z][A-Za-z0-9+.\-]*://\S|data:)"
"""What an image URL must look like: a scheme with an authority (https://…, gs://…, s3://…) or a data: URL."""
_PATTERN_HINTS = {URL_PATTERN: "expected a URL (https://…, gs://… or data:…)"}


def validation_error(exc: msgspec.ValidationError | msgspec.DecodeError, *, root: str = "") -> InvalidRequestError:
    """Turn msgspec's message into ours: `messages[2].content[0].image_url.url: expected str, got int`."""
    text = str(exc)
    path = root
    match = _PATH.search(text)
    if match:
        inner = match.group("path")
        if inner.startswith("["):
            path = f"{root}{inner}"
        elif inner:
            path = f"{root}.{inner}" if root else inner
        text = text[: match.start()]
    unknown = re.match(r"Object contains unknown field `([^`]*)`", text)
    if unknown:
        name = unknown.group(1)
        if not _PLAIN_KEY.match(name):  # a key such as ": " or "a.b" stays readable as one key in a path
            path = f"{path}[{json.dumps(name, ensure_ascii=False)}]"
        else:
            path = f"{path}.{name}" if path else name
        text = "unknown field (not part of the unified request; use extra_body to send it verbatim)"
    missing = re.match(r"Object missing required field `([^`]*)`", text)
    if missing:  # name the missing field as the path, as for an unknown one
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
    for pattern, hint in _PATTERN_HINTS.items():
        if f"matching regex {pattern!r}" in text:
            text = hint
    text = text.replace("`", "'")
    text = text[:1].lower() + text[1:]
    if text == "expected 'array' of length >= 1":
        text = "must not be empty (give at least one)"
    return InvalidRequestError(f"{path or '<request>'}: {text}", path=path or None)


class GatewayStruct(msgspec.Struct, omit_defaults=True, kw_only=True):
    """Shared conversions; every gateway type derives from it."""

    @classmethod
    def from_dict(cls: type[T], data: Any) -> T:
        if isinstance(data, cls):
            return data
        try:
            value = msgspec.convert(data, cls)
        except msgspec.ValidationError as exc:
            raise validation_error(exc) from None
        value._after_decode()
        return value

    @classmethod
    def from_json(cls: type[T], data: bytes | str) -> T:
        try:
            value = msgspec.json.decode(data, type=cls)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise validation_error(exc) from None
        value._after_decode()
        return value

    def _after_decode(self) -> None:
        """What a value read from data still needs (e.g. an alias folded into its field), done here rather than
        in `__post_init__` when building one in code must stay a C constructor call (a streamed chunk's parts)."""

    def to_dict(self) -> dict[str, Any]:
        """The plain-data form; a value with no JSON form is an `InvalidRequestError` naming its field."""
        try:
            out: dict[str, Any] = _to_builtins(self, enc_hook=enc_hook)
        except _REFUSALS as exc:
            raise explain_no_json_form(self, exc, _plain) from None
        return out

    def validate(self) -> None:
        """Check what constructing a Struct does not (types, ranges, NaN, enums, URLs) as `from_dict` does;
        raises `InvalidRequestError` naming the field path."""
        self.validated_builtins()

    def validated_builtins(self) -> dict[str, Any]:
        """`validate()`, returning the plain-data form it checked (the same as `to_dict()`)."""
        try:
            data: dict[str, Any] = _to_builtins(self, enc_hook=enc_hook)
        except _REFUSALS as exc:  # (RecursionError: free-form JSON nested past the interpreter's limit)
            raise explain_no_json_form(self, exc, _plain) from None
        cls = type(self)
        try:  # (into the type's validator copy: the same checks, without the hooks that only reshape)
            _convert(data, COPIES.get(cls) or validator_type(cls))
        except msgspec.ValidationError as exc:
            raise validation_error(exc) from None
        return data

    def to_json(self) -> bytes:
        """The JSON text; a value with no JSON form is an `InvalidRequestError` naming its field."""
        try:
            return JSON_ENCODER.encode(self)
        except _REFUSALS as exc:
            raise explain_no_json_form(self, exc, JSON_ENCODER.encode) from None


def always_encoded(value: str) -> str:
    """`value` as a str object distinct from the interned literal a field default is.

    msgspec's `omit_defaults` compares a field with its default by identity: `type="function"` written as a
    literal (the same interned object as the default) would be left out of the encoded body, while the same
    value decoded from JSON would be kept. Fields the wire requires run through this in `__post_init__`.
    """
    return value[:1] + value[1:] if len(value) > 1 else value
