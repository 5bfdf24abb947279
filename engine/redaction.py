"""Keeping secrets out of text: every form a key can take in a message, a body or a header a server echoes.

A key of `MIN_SECRET_LENGTH` characters or more is replaced by ``[REDACTED]`` wherever it appears, glued to
other text or not, in each form a server may echo it in: raw, URL-encoded, JSON-escaped and base64 (standard
and URL-safe alphabets, at each of the three byte alignments, so a key inside a longer encoded value such as
``Basic base64(user:key)`` is caught too). Shorter keys are not redacted at all: replacing ``"x"`` or
``"test"`` everywhere would garble every message (`max_tokens`, model names) and protect nothing. Passwords
in URLs (``scheme://user:password@host``) are masked whatever their length.

Pure (no I/O), so the engine's preview helpers can redact *before* they cut a body short: a preview cut in
the middle of a key would otherwise leak its first half. The runtime sets the active redactor for the
engine calls that build error previews (`redacting`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from collections.abc import Iterable, Iterator
from contextvars import ContextVar, Token
from functools import lru_cache
from urllib.parse import quote, quote_plus

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "Redactor",
    "activate",
    "deactivate",
    "mask_url_passwords",
    "preview",
    "redacting",
    "secret_forms",
]

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 8
"""Secrets shorter than this are not redacted (documented in the README's Security section)."""

_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/?#@:]*:)([^\s/?#@]+)@")


def mask_url_passwords(text: str) -> str:
    """``https://user:pw@host`` → ``https://user:[REDACTED]@host``, for every URL in `text`."""
    if "@" not in text:
        return text
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)


def _base64_runs(raw: bytes) -> set[str]:
    """The base64 text that encodes `raw` whatever bytes surround it: for each alignment, the groups made
    only of `raw`'s bytes (standard and URL-safe alphabets). Runs shorter than 8 characters are left out."""
    out: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        start = 4 if offset else 0  # the first group mixes in the bytes before the key
        end = ((offset + len(raw)) // 3) * 4  # a last partial group depends on the bytes after it
        run = encoded[start:end]
        if len(run) >= 8:
            out.add(run)
            out.add(run.replace("+", "-").replace("/", "_"))
    return out


@lru_cache(maxsize=256)
def secret_forms(secret: str) -> tuple[str, ...]:
    """Every form of `secret` to redact, longest first (so a longer form is replaced before a part of it);
    empty for a secret shorter than `MIN_SECRET_LENGTH`."""
    if len(secret) < MIN_SECRET_LENGTH:
        return ()
    forms = {secret}
    escaped = json.dumps(secret)[1:-1]  # `"` and `\` escaped, non-ASCII as \uXXXX
    forms.add(escaped)
    forms.add(json.dumps(escaped)[1:-1])  # escaped twice: a request body quoted inside an error body
    forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])
    with contextlib.suppress(UnicodeEncodeError):  # a key with surrogates cannot be sent: nothing to encode
        forms |= {quote(secret, safe=""), quote(secret), quote_plus(secret)}
        forms |= _base64_runs(secret.encode("utf-8"))
    return tuple(sorted(forms, key=len, reverse=True))


class Redactor:
    """Redacts a fixed set of secrets from text; build once per client (the forms are computed here)."""

    __slots__ = ("forms", "secrets")

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = tuple(dict.fromkeys(s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH))
        forms: dict[str, None] = {}
        for secret in self.secrets:
            forms.update(dict.fromkeys(secret_forms(secret)))
        self.forms = tuple(sorted(forms, key=len, reverse=True))

    def __bool__(self) -> bool:
        return bool(self.forms)

    def longest(self) -> int:
        return len(self.forms[0]) if self.forms else 0

    def redact(self, text: str) -> str:
        """`text` with every form of every secret, and every URL password, replaced."""
        for form in self.forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return mask_url_passwords(text)

    def leaks(self, text: str) -> bool:
        """True when `text` holds a form of a secret."""
        return any(form in text for form in self.forms)


_ACTIVE: ContextVar[Redactor | None] = ContextVar("vllora_llm_redactor", default=None)


def activate(redactor: Redactor) -> Token[Redactor | None]:
    """`redacting` without a context manager, for a hot loop: pass the token to `deactivate`."""
    return _ACTIVE.set(redactor)


def deactivate(token: Token[Redactor | None]) -> None:
    _ACTIVE.reset(token)


@contextlib.contextmanager
def redacting(redactor: Redactor | None) -> Iterator[None]:
    """Make `redactor` the one `preview` uses while the engine builds an error from a server's bytes."""
    token = _ACTIVE.set(redactor)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def preview(data: bytes | bytearray | memoryview | str, limit: int) -> str:
    """The first `limit` characters of `data` as text, redacted *before* the cut (a key straddling the cut
    never leaves its first half behind)."""
    redactor = _ACTIVE.get()
    extra = redactor.longest() if redactor else 0
    if isinstance(data, str):
        text = data[: limit + extra]
    else:
        text = bytes(data[: (limit + extra) * 4 if extra else limit]).decode("utf-8", "replace")
    return (redactor.redact(text) if redactor else mask_url_passwords(text))[:limit]
