"""The Responses API types (OpenAI's `CreateResponse`, `Response`, its output items and stream events).

msgspec Structs in OpenAI's JSON shape: `to_dict()` of a `Response` or an event is what OpenAI sends, so code
written for the OpenAI SDK can consume it. Input items stay plain dicts on the request (`input`): OpenAI accepts
many shapes there (messages with or without `type`, earlier output items), checked where they are translated.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from .errors import InvalidRequestError
from .gateway import GatewayStruct, Probability, ProviderSpecific, RequestWarning, Temperature, validation_error

# ---- request ---------------------------------------------------------------------------------------------


class ReasoningConfig(GatewayStruct):
    """`reasoning`: the effort (`minimal` … `high`) and whether a summary is wanted."""

    effort: str | None = None
    summary: str | None = None


class TextConfig(GatewayStruct):
    """`text`: the output `format` (`{"type": "text" | "json_object" | "json_schema", ...}`) and verbosity."""

    format: dict[str, Any] | None = None
    verbosity: str | None = None


class CreateResponse(GatewayStruct, forbid_unknown_fields=True):
    """A Responses request, OpenAI's `CreateResponse` (a plain dict in that shape is accepted too)."""

    model: str
    input: str | list[dict[str, Any]] = ""
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    temperature: Temperature | None = None
    top_p: Probability | None = None
    text: TextConfig | None = None
    reasoning: ReasoningConfig | None = None
    previous_response_id: str | None = None
    store: bool | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    include: list[str] | None = None
    truncation: str | None = None
    stream: bool | None = None
    provider_specific: ProviderSpecific | None = None
    """This library's, as on a chat request (`top_k`, `thinking`, ...): passed to the chat request."""

    @classmethod
    def coerce(cls, data: Any) -> CreateResponse:
        """The typed request (items may be typed output items of an earlier `Response`), a dict, or JSON text."""
        if isinstance(data, (bytes, str)):
            return cls.from_json(data)
        if isinstance(data, cls):
            data = msgspec.to_builtins(data)
        if not isinstance(data, dict):
            raise InvalidRequestError(f"<request>: expected a CreateResponse or a dict, got {type(data).__name__}")
        if isinstance(data.get("input"), list):  # typed output items given back as input
            data = {**data, "input": [msgspec.to_builtins(item) if isinstance(item, msgspec.Struct) else item
                                      for item in data["input"]]}
        try:
            return msgspec.convert(data, cls)
        except msgspec.ValidationError as exc:
            raise validation_error(exc) from None


# ---- output items ----------------------------------------------------------------------------------------


class ResponsesStruct(GatewayStruct, omit_defaults=False):
    """OpenAI writes every field of these objects (nulls and empty lists included)."""


class Tagged(ResponsesStruct):
    """An object whose `type` is its tag."""

    @property
    def type(self) -> str:
        """The object's `type` tag (`message`, `response.output_text.delta`, ...), as the SDK's `.type`."""
        return str(self.__struct_config__.tag)


class OutputText(Tagged, tag_field="type", tag="output_text"):
    text: str
    annotations: list[Any] = msgspec.field(default_factory=list)
    logprobs: list[Any] = msgspec.field(default_factory=list)


class Refusal(Tagged, tag_field="type", tag="refusal"):
    refusal: str


class OutputMessage(Tagged, tag_field="type", tag="message"):
    id: str
    content: list[OutputText | Refusal]
    role: Literal["assistant"] = "assistant"
    status: Literal["in_progress", "completed", "incomplete"] = "completed"


class FunctionCallItem(Tagged, tag_field="type", tag="function_call"):
    id: str
    call_id: str
    name: str
    arguments: str
    status: Literal["in_progress", "completed", "incomplete"] = "completed"


class SummaryText(Tagged, tag_field="type", tag="summary_text"):
    text: str


class ReasoningItem(Tagged, tag_field="type", tag="reasoning"):
    """A reasoning item; `encrypted_content` carries the provider's signature so the block can go back."""

    id: str
    summary: list[SummaryText] = msgspec.field(default_factory=list)
    encrypted_content: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None


OutputItem = OutputMessage | FunctionCallItem | ReasoningItem


# ---- response --------------------------------------------------------------------------------------------


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


# ---- stream events ---------------------------------------------------------------------------------------


class StreamEvent(Tagged):
    sequence_number: int


class ResponseCreatedEvent(StreamEvent, tag_field="type", tag="response.created"):
    response: Response


class ResponseInProgressEvent(StreamEvent, tag_field="type", tag="response.in_progress"):
    response: Response


class ResponseCompletedEvent(StreamEvent, tag_field="type", tag="response.completed"):
    response: Response


class ResponseIncompleteEvent(StreamEvent, tag_field="type", tag="response.incomplete"):
    response: Response


class ResponseFailedEvent(StreamEvent, tag_field="type", tag="response.failed"):
    response: Response


class OutputItemAddedEvent(StreamEvent, tag_field="type", tag="response.output_item.added"):
    output_index: int
    item: OutputItem


class OutputItemDoneEvent(StreamEvent, tag_field="type", tag="response.output_item.done"):
    output_index: int
    item: OutputItem


class ContentPartAddedEvent(StreamEvent, tag_field="type", tag="response.content_part.added"):
    item_id: str
    output_index: int
    content_index: int
    part: OutputText | Refusal


class ContentPartDoneEvent(StreamEvent, tag_field="type", tag="response.content_part.done"):
    item_id: str
    output_index: int
    content_index: int
    part: OutputText | Refusal


class OutputTextDeltaEvent(StreamEvent, tag_field="type", tag="response.output_text.delta"):
    item_id: str
    output_index: int
    content_index: int
    delta: str
    logprobs: list[Any] = msgspec.field(default_factory=list)


class OutputTextDoneEvent(StreamEvent, tag_field="type", tag="response.output_text.done"):
    item_id: str
    output_index: int
    content_index: int
    text: str
    logprobs: list[Any] = msgspec.field(default_factory=list)


class FunctionCallArgumentsDeltaEvent(StreamEvent, tag_field="type", tag="response.function_call_arguments.delta"):
    item_id: str
    output_index: int
    delta: str


class FunctionCallArgumentsDoneEvent(StreamEvent, tag_field="type", tag="response.function_call_arguments.done"):
    item_id: str
    output_index: int
    arguments: str
    name: str | None = None


class ReasoningSummaryPartAddedEvent(StreamEvent, tag_field="type", tag="response.reasoning_summary_part.added"):
    item_id: str
    output_index: int
    summary_index: int
    part: SummaryText


class ReasoningSummaryPartDoneEvent(StreamEvent, tag_field="type", tag="response.reasoning_summary_part.done"):
    item_id: str
    output_index: int
    summary_index: int
    part: SummaryText


class ReasoningSummaryTextDeltaEvent(StreamEvent, tag_field="type", tag="response.reasoning_summary_text.delta"):
    item_id: str
    output_index: int
    summary_index: int
    delta: str


class ReasoningSummaryTextDoneEvent(StreamEvent, tag_field="type", tag="response.reasoning_summary_text.done"):
    item_id: str
    output_index: int
    summary_index: int
    text: str


class ErrorEvent(StreamEvent, tag_field="type", tag="error"):
    message: str
    code: str | None = None
    param: str | None = None


ResponseStreamEvent = (
    ResponseCreatedEvent | ResponseInProgressEvent | ResponseCompletedEvent | ResponseIncompleteEvent
    | ResponseFailedEvent | OutputItemAddedEvent | OutputItemDoneEvent | ContentPartAddedEvent
    | ContentPartDoneEvent | OutputTextDeltaEvent | OutputTextDoneEvent | FunctionCallArgumentsDeltaEvent
    | FunctionCallArgumentsDoneEvent | ReasoningSummaryPartAddedEvent | ReasoningSummaryPartDoneEvent
    | ReasoningSummaryTextDeltaEvent | ReasoningSummaryTextDoneEvent | ErrorEvent
)
"""Every Responses stream event (decode one with `msgspec.convert(data, ResponseStreamEvent)`)."""
