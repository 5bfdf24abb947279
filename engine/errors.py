"""The error hierarchy: every failure a caller can see is one of these.

Pure (no I/O) so both the engine and the runtime raise the same classes. The tree::

    LLMError
    ├── ProviderError              the provider answered with an error (status, type, message, request id)
    │   ├── AuthenticationError    401 / 403, or no credentials found
    │   │   └── PermissionDeniedError   403
    │   ├── RateLimitError         429 (retry_after when the provider says)
    │   ├── InvalidRequestError    4xx about the request; also raised locally, before any I/O, with a field path
    │   │   ├── NotFoundError      404
    │   │   └── MappingError       a request the provider spec cannot express
    │   └── StreamError            an error event mid-stream, a truncated stream, a bad frame
    ├── TimeoutError               connect / idle read / total timeout
    ├── ConnectionError            the connection failed or dropped before a response
    ├── SpecError                  a bad provider spec (carries every diagnostic)
    └── StructuredOutputError      the answer's JSON does not fit the class asked for (`completions().parse`)

Messages never carry secrets: the runtime redacts known keys before an error is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class LLMError(Exception):
    """Base class. Every attribute is optional so one shape serves every error kind."""

    retryable_default = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        error_type: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        body: Any = None,
        path: str | None = None,
        retryable: bool | None = None,
        attempts: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.error_type = error_type
        self.request_id = request_id
        self.retry_after = retry_after
        self.body = body
        self.path = path
        self.retryable = self.retryable_default if retryable is None else retryable
        self.attempts = attempts

    def __str__(self) -> str:
        parts: list[str] = []
        if self.provider:
            parts.append(self.provider)
        if self.status is not None:
            parts.append(str(self.status))
        if self.error_type:
            parts.append(self.error_type)
        head = " ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.path and not self.message.startswith(self.path):
            text = f"{self.path}: {text}"
        if self.request_id:
            text += f" (request id {self.request_id})"
        if self.attempts and self.attempts > 1:
            text += f" after {self.attempts} attempts"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class ProviderError(LLMError):
    """The provider answered with an error status or an error body."""


class AuthenticationError(ProviderError):
    """Missing, wrong or insufficient credentials."""


class PermissionDeniedError(AuthenticationError):
    """The key is valid but may not do this (HTTP 403)."""


class RateLimitError(ProviderError):
    """Too many requests (HTTP 429); `retry_after` holds the provider's hint in seconds."""

    retryable_default = True


class InvalidRequestError(ProviderError):
    """The request is malformed: said by the provider (4xx) or found locally before any I/O (`path`)."""


class NotFoundError(InvalidRequestError):
    """Unknown model or endpoint (HTTP 404)."""


class MappingError(InvalidRequestError):
    """The request is well-formed but the provider spec cannot express it (or its policy is `error`)."""


class StreamError(ProviderError):
    """A stream failed after it started: an error event, a bad frame, or an end without its terminal event."""


class TimeoutError(LLMError):
    """A connect, idle-read or total timeout fired."""

    retryable_default = True


class ConnectionError(LLMError):
    """The connection could not be made or dropped before a response arrived."""

    retryable_default = True


class SpecError(LLMError):
    """A provider spec failed to load or validate; `diagnostics` lists every problem found."""

    def __init__(self, message: str, diagnostics: Sequence[object] = ()) -> None:
        super().__init__(message)
        self.diagnostics = list(diagnostics)

    def __str__(self) -> str:
        if not self.diagnostics:
            return self.message
        return self.message + "\n" + "\n".join(str(d) for d in self.diagnostics)


class StructuredOutputError(LLMError):
    """The model's answer is not JSON, or does not fit the class given as `response_format`: `target` names the
    class, `path` the field, `body` holds the answer's text."""

    def __init__(self, message: str, *, target: str | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.target = target


ALL_ERRORS: tuple[type[LLMError], ...] = (
    LLMError,
    ProviderError,
    AuthenticationError,
    PermissionDeniedError,
    RateLimitError,
    InvalidRequestError,
    NotFoundError,
    MappingError,
    StreamError,
    TimeoutError,
    ConnectionError,
    SpecError,
)
"""The classes an HTTP answer or a spec can produce (`StructuredOutputError` is raised after a good answer)."""

ERROR_CLASSES: dict[str, type[LLMError]] = {cls.__name__: cls for cls in ALL_ERRORS}
