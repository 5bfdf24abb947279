"""`stream.mode: events`: an event name picks a handler; handlers render unified stream parts.

The name is the frame's (an SSE `event:`, or the event-stream header the spec names: the runtime has read it)
or a field of the payload (`event_type: {from: field, name: type}`). A handler is `ignore`, a template, or a
`switch` on a path of the payload whose cases are templates; the whole block is lowered into one generated
function (`templates.compile_events`: the name read, the handler picked, its template evaluated). Templates
produce the parts `text`, `reasoning`, `reasoning_signature`, `reasoning_redacted`, `tool_call_start`,
`tool_call_args`, `finish`, `usage`, `meta`, `end`, `error`, which `_emit` turns into chunks and state; a text
delta alone comes out as its str.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableSequence
from typing import Any, NoReturn

import msgspec

from .error_map import EventErrorBuilder, compile_event_errors
from .errors import StreamError
from .frames import DATA, EXCEPTION, FrameLike
from .gateway import (
    ChatCompletionChunk,
    ChoiceDelta,
    ChunkChoice,
    FunctionCallDelta,
    ReasoningDetail,
    RequestWarning,
    ToolCallDelta,
)
from .paths import compile_getter
from .response import FinishMap, build_usage
from .silent import SilentRules, event_rules
from .stream_base import StreamDecoder, json_of, stream_error
from .templates import compile_events, events_paths
from .transforms import Context
from .views import view_type


class CompiledEvents:
    """The `events:` block as one generated function (`templates.compile_events`): payload, name → parts."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        source = dict(spec.get("event_type") or {"from": "sse_event"})
        name_path = str(source["name"]) if source.get("from", "sse_event") == "field" else None
        handlers = {str(k): v for k, v in (spec.get("events") or {}).items()}
        paths = events_paths(handlers, name_path)
        viewed = view_type(paths) if paths is not None else None
        event_type, views = viewed if viewed is not None else (Any, {})
        self.decode = msgspec.json.Decoder(event_type).decode
        """A payload's JSON → its view (views.py: only the fields the handlers read), or plain decoded data
        when the handlers' paths allow no view."""
        self.read_event = compile_events(handlers, name_path, ("stream",), views)
        self.handlers = frozenset(handlers)
        self.name_of = compile_getter(name_path) if name_path is not None else None
        """The event name in a payload (decoded as plain JSON), for an event whose handler gave nothing."""
        self.declared = event_rules(handlers)
        """Each rule's part names (silent.py)."""
        self.switches = {
            name: (compile_getter(str(handler["switch"])), {str(case) for case in handler.get("cases") or {}})
            for name, handler in handlers.items() if isinstance(handler, dict) and "switch" in handler}
        """A switch handler's getter and cases: which rule of it gave nothing for an event."""


class EventsDecoder(StreamDecoder):
    def __init__(self, provider: str, events: CompiledEvents, finish: FinishMap, terminal: str,
                 event_error: EventErrorBuilder | None = None, answer_tools: frozenset[str] = frozenset()) -> None:
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
        self.answer_tools = answer_tools
        """Tools whose input is the answer (`response.answer_tools`): their blocks stream as text."""
        self.answer_blocks: set[Any] = set()
        self.silent = SilentRules(events.declared, "stream.events")
        """The handlers that gave nothing for an event, and the parts the stream gave (silent.py)."""

    @property
    def warnings(self) -> list[RequestWarning]:
        """A handler that gave nothing for every event it got while the stream holds none of its parts."""
        return self.silent.warnings("event") if self.silent.counts else []

    def feed_all(self, frames: Iterable[FrameLike], out: MutableSequence[ChatCompletionChunk]) -> None:
        read_event = self.events.read_event
        decode = self.events.decode
        ctx = self.ctx
        append = out.append
        data_kind = DATA
        texted: bool | str = False  # (a non-empty text delta came: the stream gave text)
        for frame in frames:
            if frame.kind != data_kind:
                self._raise(frame)
            data = frame.payload
            if data:
                try:
                    payload = decode(data)
                except msgspec.DecodeError:
                    json_of(data, self.provider)  # raises the stream's error with a preview
                    raise
            else:
                payload = {}
            parts = read_event(payload, frame, ctx)
            if type(parts) is str:  # a text delta and nothing else (templates._lower_parts)
                texted = texted or parts
                append(ChatCompletionChunk(id=self.id, model=self.model,
                                           choices=[ChunkChoice(delta=ChoiceDelta(content=parts), index=0)]))
            elif parts:
                self._emit(parts, out)
            elif parts is not None and data:  # a handler gave nothing for a payload (silent.py)
                self._silent(frame)
        if texted:
            self.silent.spoken.add("text")

    def _silent(self, frame: FrameLike) -> None:
        """Record which rule gave nothing for this event (read again as plain JSON: a rare path)."""
        events = self.events
        try:
            payload = msgspec.json.decode(frame.payload)
        except msgspec.DecodeError:
            return
        name = frame.name if events.name_of is None else events.name_of(payload)
        name = "" if name is None else str(name)
        handler = name if name in events.handlers else "*"
        rule = handler
        switch = events.switches.get(handler)
        if switch is not None:
            value = switch[0](payload)
            rule = f"{handler}.cases.{value}" if str(value) in switch[1] else f"{handler}.default"
        self.silent.record(rule, name)

    def _raise(self, frame: FrameLike) -> NoReturn:
        """A frame that is no event: an `exception` (its JSON payload's `message`, its name looked up in the
        spec's `errors.types`) or a stream-level `error` (its `message`)."""
        name = frame.name
        if frame.kind == EXCEPTION:
            body = json_of(frame.payload, self.provider) if frame.payload else {}
            message = body.get("message") if isinstance(body, dict) else None
            raise self.event_error(name or None, str(message or name or "stream exception"), body)
        raise StreamError(str(frame.message or name or "stream error"), provider=self.provider, error_type=name or None)

    def _emit(self, parts: dict[str, Any], out: MutableSequence[ChatCompletionChunk]) -> None:
        """The chunks of one event's unified parts, appended to `out`."""
        if "error" in parts:
            raise stream_error(parts["error"], self.provider)
        self.silent.spoken.update(parts)
        meta = parts.get("meta")
        if meta:
            self.id = meta.get("id", self.id)
            self.model = meta.get("model", self.model)
        if "usage" in parts and isinstance(parts["usage"], dict):
            self.usage.update({k: int(v) for k, v in parts["usage"].items() if isinstance(v, (int, float))})
        delta = ChoiceDelta()
        touched = False
        if meta and meta.get("role"):
            delta.role = str(meta["role"])
            touched = True
        if isinstance(parts.get("text"), str):
            delta.content = parts["text"]
            touched = True
        if isinstance(parts.get("reasoning"), str):
            delta.reasoning = parts["reasoning"]
            delta.reasoning_details = [ReasoningDetail(text=parts["reasoning"])]
            touched = True
        if isinstance(parts.get("reasoning_signature"), str):
            delta.reasoning_details = [ReasoningDetail(signature=parts["reasoning_signature"])]
            touched = True
        if isinstance(parts.get("reasoning_redacted"), str):
            delta.reasoning_details = [ReasoningDetail(type="redacted_thinking", data=parts["reasoning_redacted"])]
            touched = True
        start = parts.get("tool_call_start")
        if isinstance(start, dict) and type(name := start.get("name")) is str and name in self.answer_tools:
            self.answer_blocks.add(start.get("index"))
            start = None
        args = parts.get("tool_call_args")
        if self.answer_blocks and isinstance(args, dict) and args.get("index") in self.answer_blocks:
            if args.get("arguments"):
                delta.content = str(args["arguments"])
                touched = True
            args = None
        if isinstance(start, dict) and start.get("name"):  # no name: the block is not a tool call
            index = len(self.tool_index)
            self.indexed_starts = self.indexed_starts or start.get("index") is not None
            self.tool_index[start.get("index", index)] = index
            self.last_tool = index
            self.has_calls = True
            delta.tool_calls = [ToolCallDelta(
                index=index, id=start.get("id") or f"call_{index}", type="function",
                function=FunctionCallDelta(name=start.get("name"), arguments=start.get("arguments") or ""),
            )]
            touched = True
        if isinstance(args, dict) and args.get("arguments") and self._opened_call(args.get("index")):
            index = self.tool_index.get(args.get("index"), self.last_tool)
            delta.tool_calls = [*(delta.tool_calls or ()), ToolCallDelta(
                index=max(index, 0), function=FunctionCallDelta(arguments=args["arguments"]))]
            touched = True
        finish_reason = None
        if parts.get("finish") is not None:
            finish_reason = self.finish.translate(parts["finish"], self.has_calls)
            self.finished = True
            touched = True
        extras = parts.get("extras")
        if extras:  # (an `extras` part: the provider fields this event carries, see extras.py)
            extras = {k: v for k, v in extras.items() if v is not None and v != [] and v != {}} or None
        if touched:
            out.append(ChatCompletionChunk(
                id=self.id, model=self.model,
                choices=[ChunkChoice(delta=delta, index=0, finish_reason=finish_reason)], extras=extras,
            ))
        elif extras:
            out.append(ChatCompletionChunk(id=self.id, model=self.model, choices=[], extras=extras))
        if parts.get("end"):
            self.done = True
            usage = build_usage(self.usage)
            if usage is not None:
                out.append(ChatCompletionChunk(id=self.id, model=self.model, choices=[], usage=usage))

    def _opened_call(self, index: Any) -> bool:
        """Argument pieces naming a block index belong to a tool call only when a `tool_call_start` opened that
        index; pieces for other blocks (a provider-side tool the spec does not map) are not a call's."""
        if index is None or index in self.tool_index:
            return True
        return bool(self.tool_index) and not self.indexed_starts

    def close(self) -> list[ChatCompletionChunk]:
        if self.terminal == "eof" or (self.terminal == "finish_reason" and self.finished):
            self.done = True
        return super().close()
