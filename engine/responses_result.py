"""The Responses API result: OpenAI's `Response` (its output items, usage, error and incomplete details).

`to_dict()` of a `Response` is what OpenAI sends (this library's own fields, `warnings` and `provider`, left out).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from .gateway import RequestWarning
from .responses_items import OutputItem, OutputMessage, OutputText, ResponsesStruct
from .responses_request import ReasoningConfig, TextConfig


class InputTokensDetails(ResponsesStruct):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(ResponsesStruct):
    reasoning_tokens: int = 0


class ResponseUsage(ResponsesStruct):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_tokens_details: InputTokensDetails = msgspec.field(default_factory=InputTokensDetails)
    output_tokens_details: OutputTokensDetails = msgspec.field(default_factory=OutputTokensDetails)


class IncompleteDetails(ResponsesStruct):
    reason: Literal["max_output_tokens", "content_filter"]


class ResponseError(ResponsesStruct):
    """Why a response failed: `code` is one of OpenAI's (`server_error`, `rate_limit_exceeded`, ...), `type` the
    provider's own error type when it gave one."""

    code: str
    message: str
    param: str | None = None
    type: str | None = None


LIBRARY_FIELDS = ("warnings", "provider")  # this library's own `Response` fields: left out of `to_dict()`


class Response(ResponsesStruct):
    """A Responses result (OpenAI's `Response`). `output_text` joins the text of every output message."""

    id: str
    created_at: float
    model: str
    output: list[OutputItem] = msgspec.field(default_factory=list)
    object: Literal["response"] = "response"
    status: Literal["completed", "failed", "in_progress", "incomplete", "queued", "cancelled"] = "completed"
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    instructions: str | None = None
    max_output_tokens: int | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    parallel_tool_calls: bool = True
    previous_response_id: str | None = None
    reasoning: ReasoningConfig | None = None
    store: bool = True
    temperature: float | None = None
    text: TextConfig | None = None
    tool_choice: str | dict[str, Any] = "auto"
    tools: list[dict[str, Any]] = msgspec.field(default_factory=list)
    top_p: float | None = None
    truncation: str | None = "disabled"
    usage: ResponseUsage | None = None
    user: str | None = None
    background: bool | None = None
    completed_at: float | None = None
    conversation: dict[str, Any] | None = None
    max_tool_calls: int | None = None
    prompt: dict[str, Any] | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    safety_identifier: str | None = None
    service_tier: str | None = None
    top_logprobs: int | None = None
    warnings: list[RequestWarning] = msgspec.field(default_factory=list)
    """What the provider mapping could not honour (this library's; not in `to_dict()`)."""
    provider: str | None = None
    """Who answered (this library's; not in `to_dict()`)."""

    @property
    def output_text(self) -> str:
        """The text of every `output_text` part of every output message, joined (as the official SDK's)."""
        return "".join(part.text for item in self.output if isinstance(item, OutputMessage)
                       for part in item.content if isinstance(part, OutputText))

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        for name in LIBRARY_FIELDS:
            out.pop(name, None)
        return out
