"""The gateway's result types: a whole response (choices, usage, warnings) and the streamed chunk with its
deltas, in OpenAI's shapes whatever the provider."""

from __future__ import annotations

from typing import Any

import msgspec

from .gateway_messages import ChatCompletionMessage, ReasoningDetail
from .gateway_struct import GatewayStruct
from .tool_types import ToolStep

FINISH_REASONS: tuple[str, ...] = ("stop", "length", "tool_calls", "content_filter", "function_call", "error")


class PromptTokensDetails(GatewayStruct):
    cached_tokens: int | None = None
    cache_creation_tokens: int | None = None
    audio_tokens: int | None = None


class CompletionTokensDetails(GatewayStruct):
    reasoning_tokens: int | None = None
    audio_tokens: int | None = None


class Usage(GatewayStruct):
    """Token counts in OpenAI's convention: prompt includes cached tokens, completion includes reasoning."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None
    cost: float | None = None


class RequestWarning(GatewayStruct):
    """A setting the provider could not honour: returned with the response, never silently dropped."""

    code: str
    message: str
    param: str | None = None


class Choice(GatewayStruct):
    message: ChatCompletionMessage
    index: int = 0
    finish_reason: str | None = None
    logprobs: Any = None


class ChatCompletionMessageWithFinishReason(GatewayStruct):
    """A whole (non-streamed) response: choices, usage, and the warnings the mapping produced."""

    choices: list[Choice]
    id: str | None = None
    model: str | None = None
    created: int | None = None
    object: str = "chat.completion"
    usage: Usage | None = None
    warnings: list[RequestWarning] = msgspec.field(default_factory=list)
    provider: str | None = None
    system_fingerprint: str | None = None
    tool_steps: list[ToolStep] | None = None
    """The tool calls the client's tool loop ran to get this answer (MCP servers, Python tools), in order."""
    extras: dict[str, Any] | None = None
    """Provider-specific fields the spec maps (`extras:`: citations, search results, grounding metadata...),
    by name; `extras["raw"]` is the whole provider body with the client option `extras="raw"`."""

    def message(self) -> ChatCompletionMessage:
        """The first choice's message (the crate's `message()`)."""
        if not self.choices:
            return ChatCompletionMessage(role="assistant")
        return self.choices[0].message

    def finish_reason(self) -> str | None:
        return self.choices[0].finish_reason if self.choices else None

    def text(self) -> str:
        return self.message().text()


ChatCompletionResponse = ChatCompletionMessageWithFinishReason


class FunctionCallDelta(GatewayStruct, gc=False):  # (as the chunk: see `ChatCompletionChunk`)
    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(GatewayStruct, gc=False):
    index: int = 0
    id: str | None = None
    type: str | None = None
    function: FunctionCallDelta | None = None
    signature: str | None = None


class ChoiceDelta(GatewayStruct, gc=False):
    role: str | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    reasoning: str | None = None
    reasoning_details: list[ReasoningDetail] | None = None
    reasoning_content: str | None = None
    """Read only: the name several compatible servers give `reasoning`; folded into it where a delta is decoded
    (`from_dict`, `from_json`, the passthrough stream decoder: `fold_reasoning_content`), not by the
    constructor: a `__post_init__` would be a Python call on every streamed chunk of every format."""

    def _after_decode(self) -> None:
        _fold(self)


def _fold(delta: ChoiceDelta) -> None:
    if delta.reasoning_content is not None:
        if delta.reasoning is None:
            delta.reasoning = delta.reasoning_content
        delta.reasoning_content = None


def fold_reasoning_content(chunk: ChatCompletionChunk) -> None:
    """Fold each decoded delta's `reasoning_content` (the alias) into `reasoning`."""
    for choice in chunk.choices:
        if choice.delta.reasoning_content is not None:
            _fold(choice.delta)


class ChunkChoice(GatewayStruct, gc=False):  # (as the chunk: see below)
    delta: ChoiceDelta
    index: int = 0
    finish_reason: str | None = None
    logprobs: Any = None

    def _after_decode(self) -> None:
        _fold(self.delta)


class ChatCompletionChunk(GatewayStruct, gc=False):
    """One streamed piece, in OpenAI's chunk shape whatever the provider. Not tracked by the cycle collector
    (msgspec's `gc=False`; a chunk never refers back to itself): a read decodes hundreds at once, and tracked
    they would make the collector run, and promote them, while they wait to be consumed. Its choice, delta and
    tool-call deltas are not tracked either (nothing in them refers back to them): a Struct the collector does not
    know is made and freed without its header's bookkeeping (~0.3k instructions each, three to five per chunk)."""

    choices: list[ChunkChoice] = msgspec.field(default_factory=list)
    id: str | None = None
    model: str | None = None
    created: int | None = None
    object: str = "chat.completion.chunk"
    usage: Usage | None = None
    extras: dict[str, Any] | None = None
    """Provider-specific fields the spec maps from this chunk's event (see the response's `extras`)."""

    def _after_decode(self) -> None:
        fold_reasoning_content(self)
