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
    StructuredOutputError,
    TimeoutError,
)
from vllora_llm.engine.tool_errors import MaxToolStepsError, McpConnectionError, ToolLoopError

__all__ = [
    "AuthenticationError",
    "ConnectionError",
    "InvalidRequestError",
    "LLMError",
    "MappingError",
    "MaxToolStepsError",
    "McpConnectionError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProviderError",
    "RateLimitError",
    "SpecError",
    "StreamError",
    "StructuredOutputError",
    "TimeoutError",
    "ToolLoopError",
]
