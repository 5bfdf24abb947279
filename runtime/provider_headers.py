"""The headers of a provider instance's calls: ours (`USER_AGENT`), the caller's (`headers=`, whose secret values
are found here to be redacted everywhere) and the plan's, merged case-insensitively; and a redirect target
made fit for an error message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from yarl import URL

from vllora_llm.engine.version import VERSION as __version__
from vllora_llm.engine.wire import AuthSpec

from .auth import redact

__all__ = ["SECRET_HEADERS", "USER_AGENT", "header_secrets", "merge_headers", "safe_location"]

USER_AGENT = f"vllora-llm/{__version__}"  # not importlib.metadata: it costs ~5 ms of every process start

SECRET_HEADERS = frozenset(("authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key",
                            "cookie", "x-auth-token"))
"""Header names whose values (in `headers=`) are treated as secrets without being named in `secret_headers=`."""



def merge_headers(*layers: Mapping[str, str]) -> dict[str, str]:
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


def safe_location(location: str, secrets: Sequence[str]) -> str:
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


def header_secrets(headers: Mapping[str, str], auth: AuthSpec, named: Sequence[str]) -> tuple[str, ...]:
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
