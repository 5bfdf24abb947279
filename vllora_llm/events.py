"""Model events (the crate's `telemetry::events`): pass `events=callback` to a client or to one call."""

from vllora_llm.runtime.events import (
    EventCallback,
    EventQueue,
    Fallback,
    LlmContent,
    LlmError,
    LlmFirstToken,
    LlmStart,
    LlmStop,
    ModelEvent,
    Retry,
    ToolResult,
    ToolStart,
)

__all__ = [
    "EventCallback",
    "EventQueue",
    "Fallback",
    "LlmContent",
    "LlmError",
    "LlmFirstToken",
    "LlmStart",
    "LlmStop",
    "ModelEvent",
    "Retry",
    "ToolResult",
    "ToolStart",
]
