"""The Responses API stream events (OpenAI's `ResponseStreamEvent` union), each a Struct tagged by its `type`.

The first group is what a translated stream makes (`responses_stream.py`) and what a native one sends most; the
rest are events only a native endpoint sends (refusals, raw reasoning, annotations, audio, built-in tools'
progress). An event of a type not modelled here is kept whole as an `OtherStreamEvent`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .responses_items import KeptWhole, OutputItem, OutputText, Refusal, SummaryText, Tagged
from .responses_result import Response


class StreamEvent(Tagged, gc=False):
    """Every event. Not tracked by the cycle collector (msgspec's `gc=False`): a stream makes one per delta and an
    event never refers back to itself, so tracking would only make the collector run more often."""

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


UNKNOWN_EVENT = "vllora.unknown_event"
"""The tag an `OtherStreamEvent` is encoded under by msgspec (`to_dict()` gives the event's own JSON)."""


class OtherStreamEvent(KeptWhole, StreamEvent, tag_field="type", tag=UNKNOWN_EVENT):
    """An event of a type this library does not know yet (a native endpoint's newer events), kept whole:
    `type` and `sequence_number` as sent, `data` the event's JSON (what `to_dict()` gives back)."""

    data: dict[str, Any]


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
    | CustomToolCallInputDoneEvent | OtherStreamEvent
)
"""Every Responses stream event (decode one with `msgspec.convert(data, ResponseStreamEvent)`); one of a type not
modelled here is an `OtherStreamEvent`."""
