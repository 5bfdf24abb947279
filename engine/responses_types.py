"""The Responses API types (OpenAI's `CreateResponse`, `Response`, its output items and stream events).

msgspec Structs in OpenAI's JSON shape: `to_dict()` of a `Response` or an event is what OpenAI sends, so code
written for the OpenAI SDK can consume it. Input items stay plain dicts on the request (`input`): OpenAI accepts
many shapes there (messages with or without `type`, earlier output items), checked where they are translated.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

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
    background: bool | None = None
    conversation: str | dict[str, Any] | None = None
    max_tool_calls: Annotated[int, msgspec.Meta(ge=1)] | None = None
    prompt: dict[str, Any] | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    safety_identifier: str | None = None
    service_tier: str | None = None
    stream_options: dict[str, Any] | None = None
    top_logprobs: Annotated[int, msgspec.Meta(ge=0, le=20)] | None = None
    extra_body: dict[str, Any] | None = None
    """Fields merged into the body a native Responses endpoint gets (as on a chat request)."""

    operation: ClassVar[str] = "responses"
    specific: ClassVar[type[GatewayStruct] | None] = ProviderSpecific
    """The type of `provider_specific` (what a spec's `provider_specific.<field>` rules may name)."""
    not_params: ClassVar[tuple[str, ...]] = ("stream",)
    """Fields no spec rule maps: `stream` is `create` vs `create_stream`."""
    NATIVE_ONLY: ClassVar[tuple[str, ...]] = (
        "background", "conversation", "max_tool_calls", "prompt", "prompt_cache_key", "prompt_cache_retention",
        "safety_identifier", "service_tier", "stream_options", "top_logprobs", "extra_body")
    """Fields only a native Responses endpoint takes (a translated call warns about each one it got)."""

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


class _TagName:
    """`.type` of a tagged object: its class's tag, read once per class and then kept as a plain class attribute
    (callers read `event.type` on every event; a property would build the string on each read)."""

    def __get__(self, obj: object, cls: type[Any]) -> str:
        tag = cls.__struct_config__.tag
        if tag is None:  # an untagged base class (`StreamEvent`): no type, and nothing kept for its subclasses
            raise AttributeError("type")
        cls.type = tag = str(tag)
        return tag


class Tagged(ResponsesStruct):
    """An object whose `type` is its tag (`message`, `response.output_text.delta`, ...), as the SDK's `.type`."""

    type = _TagName()


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
    content: list[dict[str, Any]] | None = None
    """`reasoning_text` parts, where a model returns its raw reasoning (natively served only)."""


# Built-in tools' items (a native Responses endpoint returns them; nested objects stay plain JSON).


class WebSearchCallItem(Tagged, tag_field="type", tag="web_search_call"):
    id: str
    status: str
    action: dict[str, Any] | None = None


class FileSearchCallItem(Tagged, tag_field="type", tag="file_search_call"):
    id: str
    status: str
    queries: list[str] = msgspec.field(default_factory=list)
    results: list[dict[str, Any]] | None = None


class CodeInterpreterCallItem(Tagged, tag_field="type", tag="code_interpreter_call"):
    id: str
    status: str
    container_id: str
    code: str | None = None
    outputs: list[dict[str, Any]] | None = None


class ImageGenerationCallItem(Tagged, tag_field="type", tag="image_generation_call"):
    id: str
    status: str
    result: str | None = None


class CustomToolCallItem(Tagged, tag_field="type", tag="custom_tool_call"):
    call_id: str
    name: str
    input: str
    id: str | None = None


class McpCallItem(Tagged, tag_field="type", tag="mcp_call"):
    id: str
    name: str
    arguments: str
    server_label: str
    output: str | None = None
    error: Any = None
    status: str | None = None
    approval_request_id: str | None = None


class McpListToolsItem(Tagged, tag_field="type", tag="mcp_list_tools"):
    id: str
    server_label: str
    tools: list[dict[str, Any]] = msgspec.field(default_factory=list)
    error: str | None = None


class McpApprovalRequestItem(Tagged, tag_field="type", tag="mcp_approval_request"):
    id: str
    name: str
    arguments: str
    server_label: str


class ComputerCallItem(Tagged, tag_field="type", tag="computer_call"):
    id: str
    call_id: str
    status: str
    pending_safety_checks: list[dict[str, Any]] = msgspec.field(default_factory=list)
    action: dict[str, Any] | None = None


class LocalShellCallItem(Tagged, tag_field="type", tag="local_shell_call"):
    id: str
    call_id: str
    status: str
    action: dict[str, Any]


class ShellCallItem(Tagged, tag_field="type", tag="shell_call"):
    id: str
    call_id: str
    status: str
    action: dict[str, Any]


class ApplyPatchCallItem(Tagged, tag_field="type", tag="apply_patch_call"):
    id: str
    call_id: str
    status: str
    operation: dict[str, Any]


class CompactionItem(Tagged, tag_field="type", tag="compaction"):
    id: str
    encrypted_content: str


OutputItem = (
    OutputMessage | FunctionCallItem | ReasoningItem | WebSearchCallItem | FileSearchCallItem | CodeInterpreterCallItem
    | ImageGenerationCallItem | CustomToolCallItem | McpCallItem | McpListToolsItem | McpApprovalRequestItem
    | ComputerCallItem | LocalShellCallItem | ShellCallItem | ApplyPatchCallItem | CompactionItem
)


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


# Events a native Responses endpoint sends besides the ones above (refusals, raw reasoning, annotations, audio,
# built-in tools' progress).


class ResponseQueuedEvent(StreamEvent, tag_field="type", tag="response.queued"):
    response: Response


class RefusalDeltaEvent(StreamEvent, tag_field="type", tag="response.refusal.delta"):
    item_id: str
    output_index: int
    content_index: int
    delta: str


class RefusalDoneEvent(StreamEvent, tag_field="type", tag="response.refusal.done"):
    item_id: str
    output_index: int
    content_index: int
    refusal: str


class ReasoningTextDeltaEvent(StreamEvent, tag_field="type", tag="response.reasoning_text.delta"):
    item_id: str
    output_index: int
    content_index: int
    delta: str


class ReasoningTextDoneEvent(StreamEvent, tag_field="type", tag="response.reasoning_text.done"):
    item_id: str
    output_index: int
    content_index: int
    text: str


class OutputTextAnnotationAddedEvent(StreamEvent, tag_field="type", tag="response.output_text.annotation.added"):
    item_id: str
    output_index: int
    content_index: int
    annotation_index: int
    annotation: Any = None


class AudioDeltaEvent(StreamEvent, tag_field="type", tag="response.audio.delta"):
    delta: str


class AudioDoneEvent(StreamEvent, tag_field="type", tag="response.audio.done"):
    pass


class AudioTranscriptDeltaEvent(StreamEvent, tag_field="type", tag="response.audio.transcript.delta"):
    delta: str


class AudioTranscriptDoneEvent(StreamEvent, tag_field="type", tag="response.audio.transcript.done"):
    pass


class ToolProgressEvent(StreamEvent):
    """A built-in tool's call moved on (`response.web_search_call.searching`, ...): which item, nothing more."""

    item_id: str
    output_index: int


class WebSearchCallInProgressEvent(ToolProgressEvent, tag_field="type", tag="response.web_search_call.in_progress"):
    pass


class WebSearchCallSearchingEvent(ToolProgressEvent, tag_field="type", tag="response.web_search_call.searching"):
    pass


class WebSearchCallCompletedEvent(ToolProgressEvent, tag_field="type", tag="response.web_search_call.completed"):
    pass


class FileSearchCallInProgressEvent(ToolProgressEvent, tag_field="type", tag="response.file_search_call.in_progress"):
    pass


class FileSearchCallSearchingEvent(ToolProgressEvent, tag_field="type", tag="response.file_search_call.searching"):
    pass


class FileSearchCallCompletedEvent(ToolProgressEvent, tag_field="type", tag="response.file_search_call.completed"):
    pass


class CodeInterpreterCallInProgressEvent(ToolProgressEvent, tag_field="type",
                                         tag="response.code_interpreter_call.in_progress"):
    pass


class CodeInterpreterCallInterpretingEvent(ToolProgressEvent, tag_field="type",
                                           tag="response.code_interpreter_call.interpreting"):
    pass


class CodeInterpreterCallCompletedEvent(ToolProgressEvent, tag_field="type",
                                        tag="response.code_interpreter_call.completed"):
    pass


class CodeInterpreterCallCodeDeltaEvent(ToolProgressEvent, tag_field="type",
                                        tag="response.code_interpreter_call_code.delta"):
    delta: str


class CodeInterpreterCallCodeDoneEvent(ToolProgressEvent, tag_field="type",
                                       tag="response.code_interpreter_call_code.done"):
    code: str


class ImageGenerationCallInProgressEvent(ToolProgressEvent, tag_field="type",
                                         tag="response.image_generation_call.in_progress"):
    pass


class ImageGenerationCallGeneratingEvent(ToolProgressEvent, tag_field="type",
                                         tag="response.image_generation_call.generating"):
    pass


class ImageGenerationCallCompletedEvent(ToolProgressEvent, tag_field="type",
                                        tag="response.image_generation_call.completed"):
    pass


class ImageGenerationCallPartialImageEvent(ToolProgressEvent, tag_field="type",
                                           tag="response.image_generation_call.partial_image"):
    partial_image_b64: str
    partial_image_index: int


class McpCallInProgressEvent(ToolProgressEvent, tag_field="type", tag="response.mcp_call.in_progress"):
    pass


class McpCallCompletedEvent(ToolProgressEvent, tag_field="type", tag="response.mcp_call.completed"):
    pass


class McpCallFailedEvent(ToolProgressEvent, tag_field="type", tag="response.mcp_call.failed"):
    pass


class McpCallArgumentsDeltaEvent(ToolProgressEvent, tag_field="type", tag="response.mcp_call_arguments.delta"):
    delta: str


class McpCallArgumentsDoneEvent(ToolProgressEvent, tag_field="type", tag="response.mcp_call_arguments.done"):
    arguments: str


class McpListToolsInProgressEvent(ToolProgressEvent, tag_field="type", tag="response.mcp_list_tools.in_progress"):
    pass


class McpListToolsCompletedEvent(ToolProgressEvent, tag_field="type", tag="response.mcp_list_tools.completed"):
    pass


class McpListToolsFailedEvent(ToolProgressEvent, tag_field="type", tag="response.mcp_list_tools.failed"):
    pass


class CustomToolCallInputDeltaEvent(ToolProgressEvent, tag_field="type", tag="response.custom_tool_call_input.delta"):
    delta: str


class CustomToolCallInputDoneEvent(ToolProgressEvent, tag_field="type", tag="response.custom_tool_call_input.done"):
    input: str


ResponseStreamEvent = (
    ResponseCreatedEvent | ResponseInProgressEvent | ResponseCompletedEvent | ResponseIncompleteEvent
    | ResponseFailedEvent | OutputItemAddedEvent | OutputItemDoneEvent | ContentPartAddedEvent
    | ContentPartDoneEvent | OutputTextDeltaEvent | OutputTextDoneEvent | FunctionCallArgumentsDeltaEvent
    | FunctionCallArgumentsDoneEvent | ReasoningSummaryPartAddedEvent | ReasoningSummaryPartDoneEvent
    | ReasoningSummaryTextDeltaEvent | ReasoningSummaryTextDoneEvent | ErrorEvent
    | ResponseQueuedEvent | RefusalDeltaEvent | RefusalDoneEvent | ReasoningTextDeltaEvent | ReasoningTextDoneEvent
    | OutputTextAnnotationAddedEvent | AudioDeltaEvent | AudioDoneEvent | AudioTranscriptDeltaEvent
    | AudioTranscriptDoneEvent | WebSearchCallInProgressEvent | WebSearchCallSearchingEvent
    | WebSearchCallCompletedEvent | FileSearchCallInProgressEvent | FileSearchCallSearchingEvent
    | FileSearchCallCompletedEvent | CodeInterpreterCallInProgressEvent | CodeInterpreterCallInterpretingEvent
    | CodeInterpreterCallCompletedEvent | CodeInterpreterCallCodeDeltaEvent | CodeInterpreterCallCodeDoneEvent
    | ImageGenerationCallInProgressEvent | ImageGenerationCallGeneratingEvent | ImageGenerationCallCompletedEvent
    | ImageGenerationCallPartialImageEvent | McpCallInProgressEvent | McpCallCompletedEvent | McpCallFailedEvent
    | McpCallArgumentsDeltaEvent | McpCallArgumentsDoneEvent | McpListToolsInProgressEvent
    | McpListToolsCompletedEvent | McpListToolsFailedEvent | CustomToolCallInputDeltaEvent
    | CustomToolCallInputDoneEvent
)
"""Every Responses stream event (decode one with `msgspec.convert(data, ResponseStreamEvent)`)."""


class OtherStreamEvent(msgspec.Struct):
    """An event of a type this library does not know yet (a native endpoint's newer events), kept whole:
    `type` and `sequence_number` as sent, `data` the event's JSON (what `to_dict()` gives back)."""

    type: str
    sequence_number: int
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)
