"""Credentials: find the key, put it on the wire the way the spec's `auth.scheme` says, keep it out of text.

Specs name a scheme (`bearer`, `header`, `query`, `none`); each is a small object in `AUTH_SCHEMES`, so a
scheme that needs more than a key (``aws_sigv4``: signing the final request) registers itself there without
touching the callers. Plans render requests without credentials; only `AuthScheme.apply` adds them, on a
copy of the `WireRequest`, as the last step before sending.

Secrets never reach an error, a repr or a log line: `Credentials` hides itself in its repr, and every message
or body preview the runtime builds goes through `redact` (see `redact_error`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

import msgspec

from vllora_llm.engine.errors import AuthenticationError, LLMError
from vllora_llm.engine.redaction import REDACTED, Redactor
from vllora_llm.engine.wire import AuthSpec, WireRequest

__all__ = [
    "AUTH_SCHEMES",
    "AuthScheme",
    "Credentials",
    "Redactor",
    "redact",
    "redact_error",
    "register_auth_scheme",
    "resolve_credentials",
    "select_auth",
]

@dataclass(frozen=True, slots=True)
class Credentials:
    """What a scheme needs to authenticate: the key, plus named extras (e.g. a session token)."""

    key: str | None = None
    extras: Mapping[str, str] = field(default_factory=dict)

    def secrets(self) -> tuple[str, ...]:
        """Every value that must be redacted from text."""
        return tuple(s for s in (self.key, *self.extras.values()) if s)

    def __repr__(self) -> str:
        return f"Credentials(key={REDACTED if self.key else None}, extras={sorted(self.extras)})"


def _redactor(secrets: Iterable[str] | Redactor) -> Redactor:
    return secrets if isinstance(secrets, Redactor) else Redactor(secrets)


def redact(text: str, secrets: Iterable[str] | Redactor) -> str:
    """Replace every secret of 8 characters or more in `text` (raw, URL-encoded, JSON-escaped and base64
    forms), and every URL password, with ``[REDACTED]``."""
    return _redactor(secrets).redact(text)


_ERROR_TEXT_FIELDS = ("message", "error_type", "request_id", "path", "provider")


def redact_error(error: LLMError, secrets: Iterable[str] | Redactor) -> LLMError:
    """Redact, in place, everything an error shows (`str`, `repr`, traceback, `vars`): its message, args,
    type, code, request id, notes and body; returns it for ``raise redact_error(...)``."""
    redactor = _redactor(secrets)
    for name in _ERROR_TEXT_FIELDS:
        value = getattr(error, name, None)
        if isinstance(value, str):
            setattr(error, name, redactor.redact(value))
    for name, value in list(vars(error).items()):  # attributes a subclass or a caller added
        if name not in _ERROR_TEXT_FIELDS and name != "body" and isinstance(value, str):
            setattr(error, name, redactor.redact(value))
    error.args = tuple(redactor.redact(a) if isinstance(a, str) else a for a in error.args)
    notes = getattr(error, "__notes__", None)
    if isinstance(notes, list):
        error.__notes__ = [redactor.redact(n) if isinstance(n, str) else n for n in notes]
    body = error.body
    if isinstance(body, str):
        error.body = redactor.redact(body)
    elif isinstance(body, (bytes, bytearray)):
        error.body = redactor.redact(bytes(body).decode("utf-8", "replace"))
    elif body is not None:
        cleaned = _redact_value(body, redactor)  # a parsed body stays parsed, only its strings change
        error.body = redactor.redact(repr(cleaned)) if redactor.leaks(repr(cleaned)) else cleaned
    return error


def _redact_value(value: object, redactor: Redactor) -> object:
    """`value` with every string in it (keys included) redacted, keeping dicts, lists and tuples."""
    if isinstance(value, str):
        return redactor.redact(value)
    if isinstance(value, dict):
        return {_redact_value(k, redactor): _redact_value(v, redactor) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v, redactor) for v in value]
    if isinstance(value, tuple):
        return tuple(_redact_value(v, redactor) for v in value)
    return value


class AuthScheme(Protocol):
    """One way of authenticating: find the credentials, then add them to a rendered request."""

    def credentials(self, spec: AuthSpec, api_key: str | None, environ: Mapping[str, str]) -> Credentials:
        """Resolve credentials (explicit key first, then the environment); raise `AuthenticationError`."""
        ...

    def apply(self, wire: WireRequest, spec: AuthSpec, credentials: Credentials) -> WireRequest:
        """Return a copy of `wire` carrying the credentials (never mutate the caller's request)."""
        ...


def _key_from(spec: AuthSpec, api_key: str | None, environ: Mapping[str, str]) -> str:
    if api_key:
        return api_key
    for name in spec.env:
        value = environ.get(name)
        if value:
            return value
    hint = f" or set {' or '.join(spec.env)}" if spec.env else ""
    raise AuthenticationError(f"no API key: pass api_key={hint}")


class _KeyScheme:
    """Shared by the schemes whose credential is one key."""

    def credentials(self, spec: AuthSpec, api_key: str | None, environ: Mapping[str, str]) -> Credentials:
        return Credentials(_key_from(spec, api_key, environ))

    def apply(self, wire: WireRequest, spec: AuthSpec, credentials: Credentials) -> WireRequest:
        raise NotImplementedError


class BearerScheme(_KeyScheme):
    """``Authorization: Bearer <key>``."""

    headers_only = True

    def apply(self, wire: WireRequest, spec: AuthSpec, credentials: Credentials) -> WireRequest:
        name = spec.name or "authorization"
        return wire.with_headers({**wire.headers, name: f"Bearer {credentials.key}"})


class HeaderScheme(_KeyScheme):
    """``<spec.name>: <prefix><key>`` (e.g. an ``x-api-key`` header)."""

    headers_only = True

    def apply(self, wire: WireRequest, spec: AuthSpec, credentials: Credentials) -> WireRequest:
        if not spec.name:
            raise AuthenticationError("auth scheme 'header' needs auth.name (the header to set)")
        return wire.with_headers({**wire.headers, spec.name: f"{spec.prefix}{credentials.key}"})


class QueryScheme(_KeyScheme):
    """``?<spec.name>=<key>`` appended to the URL's query."""

    def apply(self, wire: WireRequest, spec: AuthSpec, credentials: Credentials) -> WireRequest:
        if not spec.name:
            raise AuthenticationError("auth scheme 'query' needs auth.name (the query parameter)")
        parts = urlsplit(wire.url)
        pair = urlencode({spec.name: f"{spec.prefix}{credentials.key}"})
        query = f"{parts.query}&{pair}" if parts.query else pair
        return msgspec.structs.replace(wire, url=urlunsplit(parts._replace(query=query)))


class NoAuthScheme:
    """No credentials (local servers, gateways in front of the provider)."""

    headers_only = True

    def credentials(self, spec: AuthSpec, api_key: str | None, environ: Mapping[str, str]) -> Credentials:
        return Credentials(api_key or None)

    def apply(self, wire: WireRequest, spec: AuthSpec, credentials: Credentials) -> WireRequest:
        return wire


AUTH_SCHEMES: dict[str, AuthScheme] = {
    "bearer": BearerScheme(),
    "header": HeaderScheme(),
    "query": QueryScheme(),
    "none": NoAuthScheme(),
}
"""Scheme name (a spec's ``auth.scheme``) → implementation. Extend with `register_auth_scheme`."""

_REGISTERED_ON_IMPORT = {"aws_sigv4": "vllora_llm.runtime.sigv4"}
"""Built-in schemes whose module registers them, imported when a spec first names one (most clients never
sign a request: `sigv4.py` is not imported for them)."""


def register_auth_scheme(name: str, scheme: AuthScheme) -> None:
    """Make `name` usable as ``auth.scheme`` in specs (how ``aws_sigv4`` plugs in)."""
    AUTH_SCHEMES[name] = scheme


def headers_only(scheme: AuthScheme) -> bool:
    """True when `apply` changes only headers, from the headers and the credentials alone (nothing of the
    URL or body): a client may then compute a request's final headers once and reuse them. Opt-in by a
    scheme's `headers_only = True` attribute; a signing scheme (its headers cover the body) must not."""
    return getattr(scheme, "headers_only", False) is True


def scheme_for(spec: AuthSpec) -> AuthScheme:
    """The scheme a spec names, or an `AuthenticationError` listing the known ones."""
    scheme = AUTH_SCHEMES.get(spec.scheme)
    if scheme is None and spec.scheme in _REGISTERED_ON_IMPORT:
        import_module(_REGISTERED_ON_IMPORT[spec.scheme])
        scheme = AUTH_SCHEMES.get(spec.scheme)
    if scheme is None:
        known = ", ".join(sorted({*AUTH_SCHEMES, *_REGISTERED_ON_IMPORT}))
        raise AuthenticationError(f"unknown auth scheme {spec.scheme!r} (known: {known})")
    return scheme


def select_auth(spec: AuthSpec, api_key: str | None = None, environ: Mapping[str, str] | None = None) -> AuthSpec:
    """The auth to use: the spec's API-key form (``auth.api_key``) when a key is passed or one of its variables
    is set, else the spec's own scheme (e.g. request signing with ``aws_sigv4``)."""
    form = spec.api_key
    if form is None:
        return spec
    environ = os.environ if environ is None else environ
    if api_key or any(environ.get(name) for name in form.env):
        return form
    return spec


def resolve_credentials(
    spec: AuthSpec,
    api_key: str | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    provider: str | None = None,
) -> Credentials:
    """Explicit `api_key` first, else the first set variable of ``spec.env``; raises if none is found."""
    try:
        return scheme_for(spec).credentials(spec, api_key, os.environ if environ is None else environ)
    except AuthenticationError as exc:
        if provider and exc.provider is None:
            exc.provider = provider
        raise

