"""`stream.mode: events`: an event name picks a handler; handlers render unified stream parts into chunks.

The name is the frame's (an SSE `event:`, or the event-stream header the spec names: the runtime has read it)
or a field of the payload (`event_type: {from: field, name: type}`). A handler is `ignore`, a parts template,
or a `switch` on a path of the payload whose cases are parts templates. The whole block is lowered into one
generated function per spec, `on_events(frames, st, out)` (stream_events_lower.py): the name read, the handler
picked, each part of its template evaluated into a local (a part written as an object: each of its fields),
and the chunk those parts make built and appended to `out`, with the decoder `st` holding what lasts between
events (id, model, usage, the tool calls opened). The parts are `text`, `reasoning`, `reasoning_signature`,
`reasoning_redacted`, `tool_call_start`, `tool_call_args`, `finish`, `usage`, `meta`, `extras`, `end` and
`error`. The generated code also streams an answer tool's input as text (`response.answer_tools`) and records
a rule that gave nothing for an event (silent.py); it returns the bits of the parts an event gave.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableSequence
from typing import Any, NoReturn

import msgspec

from .error_map import EventErrorBuilder, compile_event_errors
from .errors import StreamError
from .frames import EXCEPTION, AnyFrame, FrameLike
from .gateway import ChatCompletionChunk, FunctionCallDelta, RequestWarning, ToolCallDelta
from .response import FinishMap, build_usage, call_text
from .silent import SilentRules, event_rules, part_names
from .stream_base import StreamDecoder, json_of
from .stream_events_lower import lower_events
from .templates import events_paths
from .transforms import Context
from .views import view_type


class CompiledEvents:
    """The `events:` block as one generated function (`lower_events`) and the decoder of its payloads."""

    def __init__(self, spec: Mapping[str, Any], provider: str = "", answer_tools: frozenset[str] = frozenset()
                 ) -> None:
        source = dict(spec.get("event_type") or {"from": "sse_event"})
        name_path = str(source["name"]) if source.get("from", "sse_event") == "field" else None
        handlers = {str(k): v for k, v in (spec.get("events") or {}).items()}
        paths = events_paths(handlers, name_path)
        viewed = view_type(paths) if paths is not None else None
        event_type, views = viewed if viewed is not None else (Any, {})
        self.decode = msgspec.json.Decoder(event_type).decode
        """A payload's JSON → its view (views.py: only the fields the handlers read), or plain decoded data
        when the handlers' paths allow no view (what `on_events` decodes each payload with)."""
        text_frames = spec.get("framing", "sse") == "sse"  # (an event-stream framer makes no str frames, frames.py)
        self.on_events = lower_events(handlers, name_path, views, self.decode, provider, answer_tools, text_frames)
        self.handlers, self.name_path, self.answer_tools = handlers, name_path, answer_tools
        """What it was compiled from (the handlers; the payload path naming events, None: the frame's name; the
        tools whose input is the answer, `response.answer_tools`)."""
        self.declared = event_rules(handlers)
        """Each rule's part names (silent.py)."""


class EventsDecoder(StreamDecoder):
    def __init__(self, provider: str, events: CompiledEvents, finish: FinishMap, terminal: str,
                 event_error: EventErrorBuilder | None = None) -> None:
        self.provider = provider
        self.event_error = event_error or compile_event_errors({}, provider)
        self.events = events
        self.finish = finish
        self.terminal = terminal
        self.ctx = Context(provider)
        self.id: str | None = None
        self.model: str | None = None
        self.usage: dict[str, int] = {}
        self.tool_index: dict[Any, int] = {}
        self.last_tool: int = -1
        self.indexed_starts = False
        self.has_calls = False
        self.finished = False
        self.answer_blocks: set[Any] = set()
        """The blocks of a tool whose input is the answer (`response.answer_tools`): they stream as text."""
        self.spoke = 0
        """The part names the stream's events gave, as `silent.part_bit` bits (what `on_events` returns)."""
        self.silent = SilentRules(events.declared, "stream.events")
        """The handlers that gave nothing for an event (recorded by the generated code; silent.py)."""

    @property
    def warnings(self) -> list[RequestWarning]:
        """A handler that gave nothing for every event it got while the stream holds none of its parts."""
        if not self.silent.counts:
            return []
        self.silent.spoken.update(part_names(self.spoke))
        return self.silent.warnings("event")

    def feed_all(self, frames: Iterable[AnyFrame], out: MutableSequence[ChatCompletionChunk]) -> None:
        self.spoke |= self.events.on_events(frames, self, out)

    def raise_for(self, frame: FrameLike) -> NoReturn:
        """A frame that is no event: an `exception` (its JSON payload's `message`, its name looked up in the
        spec's `errors.types`) or a stream-level `error` (its `message`)."""
        name = frame.name
        if frame.kind == EXCEPTION:
            body = json_of(frame.payload, self.provider) if frame.payload else {}
            message = body.get("message") if isinstance(body, dict) else None
            raise self.event_error(name or None, str(message or name or "stream exception"), body)
        raise StreamError(str(frame.message or name or "stream error"), provider=self.provider, error_type=name or None)

    def start_call(self, index: Any, call_id: Any, name: Any, arguments: Any) -> ToolCallDelta:
        """A `tool_call_start` part (its fields; `index` None when it has none) opening the next tool call."""
        position = len(self.tool_index)
        self.indexed_starts = self.indexed_starts or index is not None
        self.tool_index[position if index is None else index] = position
        self.last_tool = position
        self.has_calls = True
        return ToolCallDelta(index=position, id=call_text(call_id, "id") or f"call_{position}", type="function",
                             function=FunctionCallDelta(name=call_text(name, "name"),
                                                        arguments=call_text(arguments, "arguments") or ""))

    def end(self, out: MutableSequence[ChatCompletionChunk]) -> None:
        """An `end` part: the stream is complete; the usage gathered comes as a last chunk."""
        self.done = True
        usage = build_usage(self.usage)
        if usage is not None:
            out.append(ChatCompletionChunk(id=self.id, model=self.model, choices=[], usage=usage))

    def close(self) -> list[ChatCompletionChunk]:
        if self.terminal == "eof" or (self.terminal == "finish_reason" and self.finished):
            self.done = True
        return super().close()
