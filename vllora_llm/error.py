"""Public error types (the crate's `LLMResult` errors as an exception hierarchy)."""

from vllora_llm.engine.errors import (
    AuthenticationError,
    ConnectionError,
    InvalidRequestError,
    LLMError,
    MappingError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitError,
    SpecError,
    StreamError,
    TimeoutError,
)

__all__ = [
    "AuthenticationError",
    "ConnectionError",
    "InvalidRequestError",
    "LLMError",
    "MappingError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProviderError",
    "RateLimitError",
    "SpecError",
    "StreamError",
    "TimeoutError",
]
