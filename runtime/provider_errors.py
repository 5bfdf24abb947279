"""How a provider instance turns a non-2xx answer (or a 2xx it cannot decode) into a typed, redacted error.

Why its own module: the error paths run rarely and read much (the plan's error builder, the retry hints, the
size and depth limits, the wrong-URL hint, redaction); the call path in instance.py keeps the lines every
call runs. `ProviderErrors` is a mixin of `ProviderModelInstance`: it reads the instance's plan, limits and
secrets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from vllora_llm.engine.errors import LLMError, ProviderError
from vllora_llm.engine.redaction import Redactor, preview, redacting
from vllora_llm.engine.wire import WireRequest

from .auth import redact_error
from .limits import Limits, json_too_deep
from .provider_headers import safe_location
from .retry import classify_http_error, header_value

if TYPE_CHECKING:
    from .model_instance import ProviderPlan

__all__ = ["WRONG_URL_STATUS", "ProviderErrors"]

WRONG_URL_STATUS = frozenset({404, 405})
"""Statuses that often mean the request went to the wrong URL (a base URL without its version, a typo):
their errors name the method, the URL and the spec's `endpoint.base_url_hint`."""


class ProviderErrors:
    """The error builders of a provider instance (see the module docstring)."""

    plan: ProviderPlan
    limits: Limits
    _redactor: Redactor
    _secrets: tuple[str, ...]

    def _describe_answer(self, err: LLMError, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """Give an error raised while decoding a 2xx answer its status, request id and a body preview."""
        if err.status is None:
            err.status = status
        if err.request_id is None:  # the plan's error builder knows which header carries the request id
            err.request_id = self.plan.error(status, headers, b"").request_id
        if err.body is None:
            err.body = preview(body, 2000)

    def http_error(
        self, status: int, headers: Mapping[str, str], body: bytes, truncated: bool = False,
        wire: WireRequest | None = None,
    ) -> LLMError:
        """The plan's typed error, with the retry hint and decision taken from the headers. A 3xx is refused
        (never followed); an error body too large (`truncated`) or too deeply nested is left out; when the
        status suggests a wrong URL, the message names the call and the spec's hint on base URLs (keys
        redacted)."""
        if 300 <= status < 400:
            return self.redirect_error(status, headers)
        note = ""
        depth = self.limits.max_json_depth
        if truncated:
            note = f" (error body over {self.limits.max_error_bytes} bytes, Limits.max_error_bytes: not read)"
        elif depth is not None and json_too_deep(body, depth):
            note = f" (error body nested deeper than {depth}, Limits.max_json_depth: not parsed)"
        with redacting(self._redactor or None):  # previews redacted before they are cut
            try:
                err = self.plan.error(status, headers, b"" if note else body)
            except RecursionError:  # (the decoder's own limit, below ours when the stack is already deep)
                note = " (error body nested too deeply to parse)"
                err = self.plan.error(status, headers, b"")
        if note:
            err.message += note
            err.args = (err.message,)
        err = classify_http_error(err, status, headers)
        if wire is not None and status in WRONG_URL_STATUS:
            err.message = f"{err.message} ({self._where(wire)})"
            err.args = (err.message,)
        return redact_error(err, self._redactor)

    def redirect_error(self, status: int, headers: Mapping[str, str]) -> LLMError:
        """A 3xx as a typed error: provider APIs do not redirect, and following one would resend the key
        (in headers aiohttp keeps across hosts) and the prompt to wherever the server points."""
        location = header_value(headers, "location")
        shown = "no Location" if location is None else safe_location(location, self._secrets)
        err = ProviderError(
            f"redirect refused ({shown}): provider calls never follow redirects; set base_url to the final URL",
            provider=self.plan.name, status=status, retryable=False,
        )
        err.request_id = self.plan.error(status, headers, b"").request_id
        return redact_error(err, self._redactor)

    def _where(self, wire: WireRequest) -> str:
        """`POST https://host/path; hint: <the spec's endpoint.base_url_hint>; the default base URL is ...`."""
        text = f"{wire.method} {wire.url}"
        hint: str | None = getattr(self.plan, "base_url_hint", None)
        if hint:
            text += f"; hint: {hint}"
            default: str = getattr(self.plan, "default_base_url", "")
            if default and "{" not in default and not wire.url.startswith(default.rstrip("/") + "/"):
                text += f"; the default base URL is {default}"
        return text
