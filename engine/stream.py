"""Stream decoding: framed events → `ChatCompletionChunk`s, as declared in the spec's `stream:`.

Three modes, each a small state machine built once per stream:

- `passthrough`: every event's data is an OpenAI-shaped chunk (decoded straight into the Struct); a
  `done_data` sentinel ends the stream; a top-level `error` object is a `StreamError`.
- `events`: an event name (SSE `event:`, a payload field, or a frame header) picks a handler; handlers are
  templates producing unified stream parts (`text`, `reasoning`, `reasoning_signature`, `reasoning_redacted`,
  `tool_call_start`, `tool_call_args`, `finish`, `usage`, `meta`, `end`, `error`).
- `whole_response`: every event is a complete response; it is read with the response spec and emitted as
  deltas.

Frames come from the runtime's framers (duck-typed: `.event`/`.data` for SSE, `.headers`/`.payload` for
binary event streams), so the engine stays free of I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableSequence
from typing import Any

import msgspec

from .error_map import EventErrorBuilder, compile_event_errors
from .errors import InvalidRequestError, StreamError
from .gateway import (
    ChatCompletionChunk,
    ChoiceDelta,
    ChunkChoice,
    FunctionCallDelta,
    ReasoningDetail,
    ToolCallDelta,
)
from .lower_response import ReadChoice, lower_choice
from .paths import Getter, compile_getter
from .response import FinishMap, UsageMap, build_usage
from .templates import Evaluator, compile_switch, compile_template
from .transforms import Context

DecoderFactory = Callable[[], "StreamDecoder"]
_NOTHING = object()


class StreamDecoder:
    """Feed frames, get chunks; `close()` at end of input raises if the terminal event never came."""

    provider = ""
    done = False

    def feed(self, frame: Any) -> list[ChatCompletionChunk]:
        raise NotImplementedError

    def feed_all(self, frames: Iterable[Any], out: MutableSequence[ChatCompletionChunk]) -> None:
        """`feed` each frame in order, appending its chunks to `out` (a stream's queue of pending chunks).

        Why: a read completes dozens of frames; one call per read, chunks appended where they are wanted,
        costs less than a call, a list and an `extend` per frame. Same chunks as `feed`; when a frame raises,
        `out` holds the chunks of the frames before it and none of its own."""
        for frame in frames:
            out.extend(self.feed(frame))

    def close(self) -> list[ChatCompletionChunk]:
        if not self.done:
            raise StreamError("the stream ended before its terminal event (truncated)", provider=self.provider)
        return []


def frame_fields(frame: Any) -> tuple[str, Any, str]:
    """(event name, data, message type) of an SSE event or a binary event-stream message; an event-stream
    `exception` message is named by its `:exception-type`, an `error` message by its `:error-code`."""
    headers = getattr(frame, "headers", None)
    if headers is not None:
        name = headers.get(":event-type") or headers.get(":exception-type") or headers.get(":error-code") or ""
        return str(name), frame.payload, str(headers.get(":message-type", "event"))
    return frame.event, frame.data, "event"


def _json(data: Any, provider: str) -> Any:
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError:
        preview = data[:200] if isinstance(data, str) else bytes(data[:200]).decode("utf-8", "replace")
        raise StreamError(f"a stream event is not valid JSON: {preview!r}", provider=provider) from None


def compile_stream(spec: Mapping[str, Any], response_spec: Mapping[str, Any], provider: str,
                   errors: Mapping[str, Any] | None = None) -> DecoderFactory:
    """`errors`: the spec's `errors:` block; its `types` table gives the class of an error a stream sends as
    an event (an event-stream `exception` message), which has no HTTP status."""
    mode = spec.get("mode", "passthrough")
    if mode == "passthrough":
        done_data = spec.get("done_data", "[DONE]")
        terminal = spec.get("terminal", "done_data")
        decoder = msgspec.json.Decoder(ChatCompletionChunk)
        return lambda: _PassthroughDecoder(provider, decoder, done_data, terminal)
    finish = FinishMap(response_spec.get("finish_reason"))
    if mode == "whole_response":
        read_choice = lower_choice(response_spec)
        usage = UsageMap(response_spec.get("usage"))
        choices = compile_getter(response_spec["choices"]) if "choices" in response_spec else None
        error_when = compile_getter(spec["error_when"]) if "error_when" in spec else None
        ids = (compile_getter(response_spec.get("id", "id")), compile_getter(response_spec.get("model", "model")))
        when = (response_spec.get("blocked") or {}).get("when")
        blocked = compile_getter(when) if when else None
        return lambda: _WholeResponseDecoder(provider, read_choice, finish, usage, choices, error_when, ids, blocked)
    compiled = _compile_events(spec)
    event_error = compile_event_errors(errors or {}, provider)
    return lambda: _EventsDecoder(provider, compiled, finish, spec.get("terminal", "event"), event_error)


# ---- passthrough ------------------------------------------------------------------------------------------


class _PassthroughDecoder(StreamDecoder):
    def __init__(self, provider: str, decoder: msgspec.json.Decoder[ChatCompletionChunk], done_data: str,
                 terminal: str) -> None:
        self.provider = provider
        self.decoder = decoder
        self.done_data = done_data
        self.terminal = terminal
        self.finished = False

    def feed(self, frame: Any) -> list[ChatCompletionChunk]:
        out: list[ChatCompletionChunk] = []
        self.feed_all((frame,), out)
        return out

    def feed_all(self, frames: Iterable[Any], out: MutableSequence[ChatCompletionChunk]) -> None:
        decode = self.decoder.decode
        done_data = self.done_data
        watch = self.terminal != "done_data"
        for frame in frames:
            data = frame.data if getattr(frame, "headers", None) is None else frame.payload
            if data == done_data:
                self.done = True
                continue
            if not data:
                continue
            if '"error"' in data and isinstance(error := _json(data, self.provider), dict) and "error" in error:
                raise _stream_error(error["error"], self.provider)
            try:
                chunk = decode(data)
            except msgspec.DecodeError:
                _json(data, self.provider)
                raise StreamError(f"a stream event is not a chunk: {data[:200]!r}", provider=self.provider) from None
            if watch:
                for choice in chunk.choices:
                    if choice.finish_reason is not None:
                        self.finished = True
            out.append(chunk)

    def close(self) -> list[ChatCompletionChunk]:
        if self.terminal == "eof" or (self.terminal == "finish_reason" and self.finished):
            self.done = True
        return super().close()


def _stream_error(error: Any, provider: str) -> StreamError:
    if isinstance(error, dict):
        message = str(error.get("message") or error)
        kind = error.get("type") or error.get("status") or error.get("code")
        return StreamError(message, provider=provider, error_type=str(kind) if kind is not None else None, body=error)
    return StreamError(str(error), provider=provider)


# ---- event handlers ---------------------------------------------------------------------------------------


class _Handler:
    def __init__(self, spec: Any, where: tuple[str | int, ...]) -> None:
        self.ignore = spec == "ignore"
        self.parts: Evaluator = _ignored
        """`(payload, ctx) -> parts or None`, chosen once: a plain template is itself, with no call around it."""
        if self.ignore:
            return
        if isinstance(spec, dict) and "switch" in spec:
            self.parts = compile_switch(str(spec["switch"]), {str(k): v for k, v in (spec.get("cases") or {}).items()},
                                        spec.get("default"), where)
        else:
            self.parts = compile_template(spec, where)


def _ignored(data: Any, ctx: Context) -> None:
    return None


class _CompiledEvents:
    def __init__(self, spec: Mapping[str, Any]) -> None:
        source = dict(spec.get("event_type") or {"from": "sse_event"})
        self.source = source.get("from", "sse_event")
        self.name_field: Getter | None = compile_getter(source["name"]) if self.source == "field" else None
        self.header = source.get("name", ":event-type")
        self.by_header = self.source == "header"
        self.handlers = {
            str(k): _Handler(v, ("stream", "events", str(k))) for k, v in (spec.get("events") or {}).items()
        }
        self.unknown = self.handlers.get("*")


def _compile_events(spec: Mapping[str, Any]) -> _CompiledEvents:
    return _CompiledEvents(spec)


class _EventsDecoder(StreamDecoder):
    def __init__(self, provider: str, events: _CompiledEvents, finish: FinishMap, terminal: str,
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

    def feed(self, frame: Any) -> list[ChatCompletionChunk]:
        out: list[ChatCompletionChunk] = []
        self.feed_all((frame,), out)
        return out

    def feed_all(self, frames: Iterable[Any], out: MutableSequence[ChatCompletionChunk]) -> None:
        events = self.events
        handlers, unknown, name_field = events.handlers, events.unknown, events.name_field
        ctx = self.ctx
        append = out.append
        for frame in frames:
            headers = getattr(frame, "headers", None)
            if headers is None:  # an SSE event
                data = frame.data
            elif headers.get(":message-type", "event") != "event":
                out.extend(self._message(frame, *frame_fields(frame)))
                continue
            else:
                data = frame.payload
            if data:
                try:
                    payload = msgspec.json.decode(data)
                except msgspec.DecodeError:
                    _json(data, self.provider)  # raises the stream's error with a preview
                    raise
            else:
                payload = {}
            if name_field is not None:
                if type(name := name_field(payload)) is not str:  # (a str is what str() would give back)
                    name = str(name or "")
            elif events.by_header and headers is not None:
                if type(name := headers.get(events.header, "")) is not str:
                    name = str(name)
            else:
                name = frame.event if headers is None else frame_fields(frame)[0]
            handler = handlers.get(name, unknown)
            if handler is None:
                continue
            parts = handler.parts(payload, ctx)
            if not parts:
                continue
            if type(text := parts.get("text")) is str and (  # a text delta (most events): what `_emit` builds
                len(parts) == 1
                or (len(parts) == 2 and type(args := parts.get("tool_call_args")) is dict and not args.get("arguments"))
            ):
                append(ChatCompletionChunk(id=self.id, model=self.model,
                                           choices=[ChunkChoice(delta=ChoiceDelta(content=text), index=0)]))
            else:
                self._emit(parts, out)

    def _message(self, frame: Any, name: str, data: Any, message_type: str) -> list[ChatCompletionChunk]:
        """An event-stream message that is not an event: an `exception` or `error` raises; another type (none
        is defined today) is decoded as an event, as it always was."""
        if message_type == "exception":
            body = _json(data, self.provider) if data else {}
            message = body.get("message") if isinstance(body, dict) else None
            raise self.event_error(name or None, str(message or name or "stream exception"), body)
        if message_type == "error":
            text = getattr(frame, "headers", {}).get(":error-message")
            raise StreamError(str(text or name or "stream error"), provider=self.provider, error_type=name or None)
        payload = _json(data, self.provider) if data else {}
        if self.events.name_field is not None:
            name = str(self.events.name_field(payload) or "")
        elif self.events.by_header:
            name = str(frame.headers.get(self.events.header, ""))
        handler = self.events.handlers.get(name, self.events.unknown)
        if handler is None:
            return []
        parts = handler.parts(payload, self.ctx)
        out: list[ChatCompletionChunk] = []
        if parts:
            self._emit(parts, out)
        return out

    def _emit(self, parts: dict[str, Any], out: MutableSequence[ChatCompletionChunk]) -> None:
        """The chunks of one event's unified parts, appended to `out`."""
        if "error" in parts:
            raise _stream_error(parts["error"], self.provider)
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
        args = parts.get("tool_call_args")
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
        if touched:
            out.append(ChatCompletionChunk(
                id=self.id, model=self.model,
                choices=[ChunkChoice(delta=delta, index=0, finish_reason=finish_reason)],
            ))
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


# ---- whole responses --------------------------------------------------------------------------------------


class _WholeResponseDecoder(StreamDecoder):
    """Every event is a whole response: its choices are read by the response spec's generated `read_choice`
    (the function non-streamed responses use) and become deltas; the usage block is read again only when it
    differs from the last one read."""

    def __init__(self, provider: str, read_choice: ReadChoice, finish: FinishMap, usage: UsageMap,
                 choices: Getter | None, error_when: Getter | None, ids: tuple[Getter, Getter],
                 blocked: Getter | None = None) -> None:
        self.provider = provider
        self.read_choice = read_choice
        self.blocked = blocked
        self.get_id, self.get_model = ids
        self.finish = finish
        self.usage_map = usage
        self.choices = choices
        self.error_when = error_when
        self.ctx = Context(provider)
        self.calls: dict[int, int] = {}
        self.usage: dict[str, int] = {}
        self.usage_read: Any = _NOTHING  # what the last usage read saw (`UsageMap.inputs`)

    def feed(self, frame: Any) -> list[ChatCompletionChunk]:
        data = frame.payload if getattr(frame, "headers", None) is not None else frame.data  # frame_fields' data
        if not data or data.isspace():  # (what `not data.strip()` tells, without copying the event)
            return []
        try:
            body = msgspec.json.decode(data)
        except msgspec.DecodeError:
            _json(data, self.provider)  # raises the stream's error with a preview
            raise
        if self.error_when is not None and (error := self.error_when(body)) is not None:
            raise _stream_error(error, self.provider)
        raw_choices = self.choices(body) if self.choices is not None else [body]
        if not raw_choices and self.blocked is not None and (reason := self.blocked(body)) is not None:
            raise InvalidRequestError(f"the prompt was blocked ({reason})", provider=self.provider,
                                      error_type=str(reason), body=body)
        if raw_choices and type(raw_choices) is not list:
            raise StreamError(f"an event's choices are a {type(raw_choices).__name__}, not a list: "
                              f"{str(raw_choices)[:80]!r}", provider=self.provider)
        out_choices = [self._choice(position, raw) for position, raw in enumerate(raw_choices or ())]
        inputs = self.usage_map.inputs(body)
        if inputs is None or inputs != self.usage_read:  # the same usage block again reads the same values
            self.usage.update(self.usage_map.read(body, self.ctx))
            self.usage_read = inputs
        out = []
        if out_choices:  # the id and model getters are pure: read only when a chunk carries them
            ident, model = self.get_id(body), self.get_model(body)
            out.append(ChatCompletionChunk(id=str(ident) if ident is not None else None,
                                           model=str(model) if model is not None else None, choices=out_choices))
        if self.done and self.usage:
            out.append(ChatCompletionChunk(choices=[], usage=build_usage(self.usage)))
            self.usage = {}
            self.usage_read = _NOTHING
        return out

    def _choice(self, position: int, raw: Any) -> ChunkChoice:
        """One candidate of an event as a delta; the delta is built once, from what its pieces gave."""
        index, pieces, raw_reason = self.read_choice(raw, self.ctx)
        if type(index) is not int:
            index = position
        if len(pieces) == 1 and len(piece := pieces[0]) == 1 and type(text := piece.get("text")) is str:
            delta = ChoiceDelta(content=text)  # one plain text piece (most events): what `_gather` gives
        else:
            content, calls, details, reasoning = self._gather(index, pieces)
            delta = ChoiceDelta(content=content, tool_calls=calls or None, reasoning=reasoning,
                                reasoning_details=details or None)
        reason = (None if raw_reason is None  # absent on all but the last event: `translate(None)` is None
                  else self.finish.translate(raw_reason, bool(self.calls.get(index))))
        if reason is not None:
            self.done = True
        return ChunkChoice(delta=delta, index=index, finish_reason=reason)

    def _gather(self, index: Any, pieces: list[dict[str, Any]]
                ) -> tuple[str | None, list[ToolCallDelta], list[ReasoningDetail], str | None]:
        """A candidate's pieces → (content, tool-call deltas, reasoning details, reasoning text)."""
        texts: list[str] = []
        calls: list[ToolCallDelta] = []
        details: list[ReasoningDetail] = []
        reasoning: str | None = None
        for piece in pieces:
            if isinstance(text := piece.get("text"), str):
                texts.append(text)
                if "reasoning" in piece:  # a content part that also carries a reasoning signature
                    details.append(msgspec.convert(piece["reasoning"], ReasoningDetail))
            elif "tool_call" in piece:
                call = piece["tool_call"]
                n = self.calls.get(index, 0)
                self.calls[index] = n + 1
                calls.append(ToolCallDelta(index=n, id=call.get("id") or f"call_{index}_{n}", type="function",
                                           signature=call.get("signature"),
                                           function=FunctionCallDelta(name=call.get("name"),
                                                                      arguments=call.get("arguments") or "{}")))
            elif "reasoning" in piece:
                detail = msgspec.convert(piece["reasoning"], ReasoningDetail)
                reasoning = (reasoning or "") + (detail.text or "")
                details.append(detail)
        return "".join(texts) if texts else None, calls, details, reasoning
