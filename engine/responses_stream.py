"""A chat chunk stream as Responses stream events: the state machine that opens and closes output items.

Text deltas open a message item (`output_item.added`, `content_part.added`, then `output_text.delta`s); tool-call
deltas open one `function_call` item per call index (`function_call_arguments.delta`s); reasoning deltas open a
reasoning item with one summary part. `finish()` closes every open item in output order and ends with
`response.completed` or `response.incomplete` carrying the whole `Response`; `fail(err)` instead ends a stream
that broke (an error event mid-stream, a cut or stalled stream) with an `error` event and `response.failed`, whose
`Response` has `status: failed`, the `error` and the items so far. Sequence numbers are consecutive from 0. Pure:
the runtime feeds chunks and yields what comes back.
"""

from __future__ import annotations

from collections.abc import MutableSequence
from typing import Any

import msgspec

from .errors import LLMError, RateLimitError
from .gateway import ChatCompletionChunk, RequestWarning, Usage
from .responses_map import call_signature_item, finish_status, logprobs_of, new_id, redacted_item, usage_of
from .responses_types import (
    ContentPartAddedEvent,
    ContentPartDoneEvent,
    ErrorEvent,
    FunctionCallArgumentsDeltaEvent,
    FunctionCallArgumentsDoneEvent,
    FunctionCallItem,
    OutputItem,
    OutputItemAddedEvent,
    OutputItemDoneEvent,
    OutputMessage,
    OutputText,
    OutputTextDeltaEvent,
    OutputTextDoneEvent,
    ReasoningItem,
    ReasoningSummaryPartAddedEvent,
    ReasoningSummaryPartDoneEvent,
    ReasoningSummaryTextDeltaEvent,
    ReasoningSummaryTextDoneEvent,
    Response,
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseError,
    ResponseFailedEvent,
    ResponseIncompleteEvent,
    ResponseInProgressEvent,
    ResponseStreamEvent,
    SummaryText,
)


def failure_code(err: LLMError) -> str:
    """The `error.code` OpenAI would give a response that failed with `err` (its codes are a closed list): a
    rate limit (by class, or an error event whose type says so) or a server error."""
    limited = isinstance(err, RateLimitError) or "rate_limit" in (err.error_type or "").lower()
    return "rate_limit_exceeded" if limited else "server_error"


class _Open:
    """An output item being streamed: its index, id and the text gathered so far."""

    __slots__ = ("arguments", "call_id", "id", "index", "kind", "logprobs", "name", "signature", "text")

    def __init__(self, kind: str, index: int, item_id: str) -> None:
        self.kind = kind
        self.index = index
        self.id = item_id
        self.text: list[str] = []
        self.arguments: list[str] = []
        self.call_id = ""
        self.name = ""
        self.signature: str | None = None
        self.logprobs: list[dict[str, Any]] = []


class ResponseEventBuilder:
    """Feed chat chunks (`feed`), then `finish()` or `fail(err)`. The events they make are appended to `out`: a
    list made here, or the caller's own queue (the stream serves its events from it, no list per chunk)."""

    __slots__ = ("_calls", "_finish_reason", "_items", "_message", "_reasoning", "_sequence", "_usage", "done", "out",
                 "response")

    def __init__(self, shell: Response, out: MutableSequence[ResponseStreamEvent] | None = None) -> None:
        self.response = shell
        self.out: MutableSequence[ResponseStreamEvent] = [] if out is None else out
        self._sequence = 0
        self._items: list[_Open] = []
        self._message: _Open | None = None
        self._reasoning: _Open | None = None
        self._calls: dict[int, _Open] = {}
        self._finish_reason: str | None = None
        self._usage: Usage | None = None
        self.done: list[OutputItem | None] = []

    def _next(self) -> int:
        number = self._sequence
        self._sequence = number + 1
        return number

    def start(self) -> None:
        """`response.created` and `response.in_progress`."""
        snapshot = msgspec.structs.replace(self.response, output=[])
        self.out.append(ResponseCreatedEvent(sequence_number=self._next(), response=snapshot))
        self.out.append(ResponseInProgressEvent(sequence_number=self._next(), response=snapshot))

    def _open(self, kind: str, prefix: str) -> _Open:
        item = _Open(kind, len(self._items), new_id(prefix))
        self._items.append(item)
        self.done.append(None)
        return item

    def feed(self, chunk: ChatCompletionChunk) -> None:
        """The events one chunk makes (none for a chunk that carries only usage or a finish reason)."""
        model = chunk.model
        if model and self.response.model != model:
            self.response.model = model
        if chunk.usage is not None:
            self._usage = chunk.usage
        for choice in chunk.choices:
            if choice.index:
                continue
            delta = choice.delta
            reasoning = delta.reasoning or delta.reasoning_content
            if reasoning or delta.reasoning_details:
                self._reason(reasoning or "", delta.reasoning_details)
            text = delta.content
            if text:
                self._text(text, choice.logprobs)
            if delta.tool_calls:
                for call in delta.tool_calls:
                    function = call.function
                    self._call(call.index, call.id, function.name if function else None,
                               function.arguments if function else None, call.signature)
            if choice.finish_reason is not None:
                self._finish_reason = choice.finish_reason

    def _whole_item(self, done: ReasoningItem) -> None:
        """A reasoning item that arrives whole (a redacted block, a call's signature): added, then done."""
        mark = self._open("reasoning", "rs")
        self.done[mark.index] = done
        self.out.append(OutputItemAddedEvent(sequence_number=self._next(), output_index=mark.index, item=done))
        self.out.append(OutputItemDoneEvent(sequence_number=self._next(), output_index=mark.index, item=done))

    def _reason(self, text: str, details: Any) -> None:
        out = self.out
        redacted = [d.data for d in details or () if d.type == "redacted_thinking" and d.data]
        if redacted:
            self._close_reasoning()
            self._close_message()
            for data in redacted:
                self._whole_item(redacted_item(data))
            details = [d for d in details if not (d.type == "redacted_thinking" and d.data)]
            if not text and not details:
                return
        item = self._reasoning
        if item is None:
            self._close_message()
            item = self._reasoning = self._open("reasoning", "rs")
            out.append(OutputItemAddedEvent(sequence_number=self._next(), output_index=item.index,
                                            item=ReasoningItem(id=item.id, summary=[])))
            out.append(ReasoningSummaryPartAddedEvent(
                sequence_number=self._next(), item_id=item.id, output_index=item.index, summary_index=0,
                part=SummaryText(text="")))
        for detail in details or ():
            if detail.signature:
                item.signature = (item.signature or "") + detail.signature
            if detail.text and not text:
                text = detail.text
        if text:
            item.text.append(text)
            out.append(ReasoningSummaryTextDeltaEvent(sequence_number=self._next(), item_id=item.id,
                                                      output_index=item.index, summary_index=0, delta=text))

    def _text(self, text: str, logprobs: Any) -> None:
        item = self._message or self._open_message()
        item.text.append(text)
        number = self._sequence
        self._sequence = number + 1
        if logprobs is None:
            entries: list[dict[str, Any]] = []
        else:
            entries = logprobs_of(logprobs)
            item.logprobs.extend(entries)
        self.out.append(OutputTextDeltaEvent(sequence_number=number, item_id=item.id, output_index=item.index,
                                             content_index=0, delta=text, logprobs=entries))

    def _open_message(self) -> _Open:
        self._close_reasoning()
        item = self._message = self._open("message", "msg")
        self.out.append(OutputItemAddedEvent(sequence_number=self._next(), output_index=item.index,
                                             item=OutputMessage(id=item.id, content=[], status="in_progress")))
        self.out.append(ContentPartAddedEvent(sequence_number=self._next(), item_id=item.id, output_index=item.index,
                                              content_index=0, part=OutputText(text="")))
        return item

    def _call(self, index: int, call_id: str | None, name: str | None, arguments: str | None,
              signature: str | None) -> None:
        item = self._calls.get(index)
        if item is None:
            self._close_reasoning()
            self._close_message()
            if signature:  # the call's own signature: an item of its own, just before the call
                self._whole_item(call_signature_item(signature))
            item = self._calls[index] = self._open("function_call", "fc")
            item.call_id = call_id or new_id("call")
            item.name = name or ""
            self.out.append(OutputItemAddedEvent(
                sequence_number=self._next(), output_index=item.index,
                item=FunctionCallItem(id=item.id, call_id=item.call_id, name=item.name, arguments="",
                                      status="in_progress")))
        elif name and not item.name:
            item.name = name
        if arguments:
            item.arguments.append(arguments)
            self.out.append(FunctionCallArgumentsDeltaEvent(sequence_number=self._next(), item_id=item.id,
                                                            output_index=item.index, delta=arguments))

    def _close_reasoning(self) -> None:
        item = self._reasoning
        if item is None:
            return
        self._reasoning = None
        out = self.out
        text = "".join(item.text)
        out.append(ReasoningSummaryTextDoneEvent(sequence_number=self._next(), item_id=item.id,
                                                 output_index=item.index, summary_index=0, text=text))
        out.append(ReasoningSummaryPartDoneEvent(sequence_number=self._next(), item_id=item.id,
                                                 output_index=item.index, summary_index=0,
                                                 part=SummaryText(text=text)))
        done = ReasoningItem(id=item.id, summary=[SummaryText(text=text)], encrypted_content=item.signature)
        self.done[item.index] = done
        out.append(OutputItemDoneEvent(sequence_number=self._next(), output_index=item.index, item=done))

    def _close_message(self) -> None:
        item = self._message
        if item is None:
            return
        self._message = None
        out = self.out
        text = "".join(item.text)
        out.append(OutputTextDoneEvent(sequence_number=self._next(), item_id=item.id, output_index=item.index,
                                       content_index=0, text=text, logprobs=item.logprobs))
        out.append(ContentPartDoneEvent(sequence_number=self._next(), item_id=item.id, output_index=item.index,
                                        content_index=0, part=OutputText(text=text, logprobs=item.logprobs)))
        done = OutputMessage(id=item.id, content=[OutputText(text=text, logprobs=item.logprobs)])
        self.done[item.index] = done
        out.append(OutputItemDoneEvent(sequence_number=self._next(), output_index=item.index, item=done))

    def _close_call(self, item: _Open) -> None:
        arguments = "".join(item.arguments)
        self.out.append(FunctionCallArgumentsDoneEvent(sequence_number=self._next(), item_id=item.id,
                                                       output_index=item.index, arguments=arguments, name=item.name))
        done = FunctionCallItem(id=item.id, call_id=item.call_id, name=item.name, arguments=arguments)
        self.done[item.index] = done
        self.out.append(OutputItemDoneEvent(sequence_number=self._next(), output_index=item.index, item=done))

    def finish(self, warnings: list[RequestWarning] | None = None, provider: str | None = None) -> None:
        """Close every open item and end with `response.completed` (or `response.incomplete`)."""
        self._close_reasoning()
        self._close_message()
        for item in sorted(self._calls.values(), key=lambda open_item: open_item.index):
            self._close_call(item)
        self._calls.clear()
        response = self.response
        response.output = [item for item in self.done if item is not None]
        status, details = finish_status(self._finish_reason)
        response.status = status  # type: ignore[assignment]
        response.incomplete_details = details
        response.usage = usage_of(self._usage)
        response.warnings = list(warnings or ())
        response.provider = provider
        end: ResponseStreamEvent
        if details is None:
            end = ResponseCompletedEvent(sequence_number=self._next(), response=response)
        else:
            end = ResponseIncompleteEvent(sequence_number=self._next(), response=response)
        self.out.append(end)

    def fail(self, err: LLMError, warnings: list[RequestWarning] | None = None, provider: str | None = None) -> None:
        """End a broken stream: an `error` event, then `response.failed` with the items so far (the open ones
        `incomplete`, with what they had gathered). No `output_item.done` for the open items: they never ended."""
        code = failure_code(err)
        message = str(err)
        response = self.interrupted()
        response.status = "failed"
        response.incomplete_details = None
        response.error = ResponseError(code=code, message=message, type=err.error_type)
        response.warnings = list(warnings or ())
        response.provider = provider
        self.out.append(ErrorEvent(sequence_number=self._next(), message=message, code=code))
        self.out.append(ResponseFailedEvent(sequence_number=self._next(), response=response))

    def interrupted(self) -> Response:
        """The response with what arrived so far (the open items `incomplete`, no events): for a stream that
        failed or was left early."""
        items: list[OutputItem | None] = list(self.done)
        for item in (self._reasoning, self._message, *self._calls.values()):
            if item is not None and items[item.index] is None:
                items[item.index] = self._partial(item)
        response = self.response
        response.output = [item for item in items if item is not None]
        response.usage = usage_of(self._usage)
        return response

    @property
    def chat_usage(self) -> Usage | None:
        """The chat usage the stream reported (with its cost, when a routing file prices the model)."""
        return self._usage

    @staticmethod
    def _partial(item: _Open) -> OutputItem:
        text = "".join(item.text)
        if item.kind == "message":
            return OutputMessage(id=item.id, content=[OutputText(text=text, logprobs=item.logprobs)],
                                 status="incomplete")
        if item.kind == "reasoning":
            return ReasoningItem(id=item.id, summary=[SummaryText(text=text)], encrypted_content=item.signature,
                                 status="incomplete")
        return FunctionCallItem(id=item.id, call_id=item.call_id, name=item.name, arguments="".join(item.arguments),
                                status="incomplete")
