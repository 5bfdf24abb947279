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

from .codegen import FunctionBuilder
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
from .paths import Getter, compile_getter, plain_keys, single_key
from .redaction import preview
from .response import FinishMap, PartsReader, UsageMap, build_usage, text_part_key
from .templates import Evaluator, compile_template
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
        raise StreamError(f"a stream event is not valid JSON: {preview(data, 200)!r}", provider=provider) from None


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
        reader = PartsReader(response_spec)
        usage = UsageMap(response_spec.get("usage"))
        choices = compile_getter(response_spec["choices"]) if "choices" in response_spec else None
        error_when = compile_getter(spec["error_when"]) if "error_when" in spec else None
        id_path, model_path = str(response_spec.get("id", "id")), str(response_spec.get("model", "model"))
        ids = (compile_getter(id_path), compile_getter(model_path))
        when = (response_spec.get("blocked") or {}).get("when")
        blocked = compile_getter(when) if when else None
        keys = _top_keys([response_spec.get("choices"), spec.get("error_when"), id_path, model_path])
        text_key = text_part_key(response_spec, reader, provider)
        index = _ChoiceIndex(response_spec.get("index"))
        return lambda: _WholeResponseDecoder(provider, reader, finish, usage, choices, error_when, ids, blocked,
                                             keys, text_key, index)
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
        _, data, _ = frame_fields(frame)
        if data == self.done_data:
            self.done = True
            return []
        if not data:
            return []
        if '"error"' in data and isinstance(error := _json(data, self.provider), dict) and "error" in error:
            raise _stream_error(error["error"], self.provider)
        try:
            chunk = self.decoder.decode(data)
        except msgspec.DecodeError:
            _json(data, self.provider)
            raise StreamError(f"a stream event is not a chunk: {preview(data, 200)!r}",
                              provider=self.provider) from None
        if self.terminal != "done_data":
            for choice in chunk.choices:
                if choice.finish_reason is not None:
                    self.finished = True
        return [chunk]

    def feed_all(self, frames: Iterable[Any], out: MutableSequence[ChatCompletionChunk]) -> None:
        """`feed` per frame with the usual SSE event (a chunk's JSON) decoded inline; the sentinel, an empty
        event, one that may be an error, one that does not decode, and a binary frame go through `feed`."""
        decode = self.decoder.decode
        done_data = self.done_data
        watch = self.terminal != "done_data"
        for frame in frames:
            data = frame.data if getattr(frame, "headers", None) is None else None
            if not data or data == done_data or '"error"' in data:
                out.extend(self.feed(frame))
                continue
            try:
                chunk = decode(data)
            except msgspec.DecodeError:
                out.extend(self.feed(frame))  # raises the stream's error
                continue
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
        self.switch: Getter | None = None
        self.cases: dict[str, Evaluator] = {}
        self.default: Evaluator | None = None
        self.template: Evaluator | None = None
        self.parts: Evaluator = _ignored
        """`(payload, ctx) -> parts or None`, chosen once: a plain template is itself, with no call around it."""
        self.text: Callable[[Any], Any] | None = None
        """For a handler that renders some events as `{"text": value}` and nothing else (a plain template, or
        the first `switch` case, of plain references with `text:`; see `_text_template`): `payload -> value` for
        those events, None for the others. A str from it is the event's whole text delta, taken without
        rendering the parts (see `_text_reader`)."""
        if self.ignore:
            return
        if isinstance(spec, dict) and "switch" in spec:
            self.switch = compile_getter(spec["switch"])
            self.cases = {
                str(k): compile_template(v, (*where, "cases", str(k))) for k, v in (spec.get("cases") or {}).items()
            }
            if "default" in spec:
                self.default = compile_template(spec["default"], (*where, "default"))
            self.parts = _switched(self.switch, self.cases, self.default)
            switch_keys = plain_keys(str(spec["switch"]))
            raw_cases = {str(k): v for k, v in (spec.get("cases") or {}).items()}  # (as `cases` keys them)
            for case, template in raw_cases.items():
                if switch_keys is not None and (refs := _text_template(template)) is not None:
                    self.text = _text_reader(*refs, switch=switch_keys, case=case)
                    break
        else:
            self.template = self.parts = compile_template(spec, where)
            if (refs := _text_template(spec)) is not None:
                self.text = _text_reader(*refs)


def _ignored(data: Any, ctx: Context) -> None:
    return None


def _switched(switch: Getter, cases: dict[str, Evaluator], default: Evaluator | None) -> Evaluator:
    """A `switch` handler: the case named by the value at `switch` (its str), else `default`, else nothing."""

    def parts(data: Any, ctx: Context) -> Any:
        kind = switch(data)
        render = cases.get(kind if type(kind) is str else str(kind), default)
        return render(data, ctx) if render is not None else None

    return parts


def _text_template(template: Any) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]] | None:
    """(the keys of `$a.b`, the keys that must hold None) when `template` is an object with `text: $a.b` whose
    other fields are plain references, or (`tool_call_args`) an object of them: when those references are
    None, it renders an event as `{"text": value}` (`{}` when the value is None), plus `tool_call_args`
    without `arguments`, which `_EventsDecoder.feed_all` turns into a text delta all the same. So a str value
    is then the event's whole text delta."""
    if not isinstance(template, dict) or "text" not in template:
        return None
    text: tuple[str, ...] | None = None
    nones: list[tuple[str, ...]] = []
    for name, field in template.items():
        if name == "tool_call_args" and isinstance(field, dict) and "$op" not in field:
            refs = {str(key): _ref_keys(value) for key, value in field.items()}
            if any(keys is None for keys in refs.values()):
                return None
            if (arguments := refs.get("arguments")) is not None:
                nones.append(arguments)
            continue
        if (keys := _ref_keys(field)) is None:
            return None
        if name == "text":
            text = keys
        else:
            nones.append(keys)
    return (text, tuple(nones)) if text is not None else None


def _ref_keys(template: Any) -> tuple[str, ...] | None:
    """The keys of a reference `$a.b` of plain object keys, else None."""
    if not isinstance(template, str) or not template.startswith("$") or template.startswith("$$"):
        return None
    return plain_keys(template[1:].lstrip("."))


def _text_reader(text: tuple[str, ...], others: tuple[tuple[str, ...], ...] = (),
                 switch: tuple[str, ...] | None = None, case: str = "") -> Callable[[Any], Any]:
    """One generated function reading the value at `text`, after checking that every path of `others` holds
    None and (for a `switch` handler) that the value at `switch` is `case`, else returning None. Reads as
    paths.py's getters do (None as soon as a step is missing or not an object); a shared prefix is read once."""
    code = FunctionBuilder(("item",))
    if switch is not None:
        code.line(f"if {_emit_read(switch, code)} != {code.bind(case)}: return None")
    for keys in others:
        code.line(f"if {_emit_read(keys, code)} is not None: return None")
    return code.build(_emit_read(text, code))


def _emit_read(keys: tuple[str, ...], code: FunctionBuilder) -> str:
    """Emit the lines reading `item[k1][k2]...` into locals; return the local holding the value."""
    holder = "item"
    for depth in range(1, len(keys) + 1):
        local = code.reads.get(keys[:depth])
        if local is None:
            local = code.reads[keys[:depth]] = code.temp()
            code.line(f"{local} = {holder}.get({code.bind(keys[depth - 1])}) if type({holder}) is dict else None")
        holder = local
    return holder


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
        self.name_key = single_key(str(source["name"])) if self.name_field is not None else None
        """The payload key naming the event, when the name is one key: read inline (`.get` on a dict)."""
        self.texts = {name: h.text for name, h in self.handlers.items() if h.text is not None and name != "*"}
        """Event name → its handler's text reader (`_Handler.text`)."""


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
        handlers, unknown, texts = events.handlers, events.unknown, events.texts
        name_key, name_field = events.name_key, events.name_field
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
            if name_key is not None:  # (what the one-key `name_field` getter reads)
                if type(name := payload.get(name_key) if type(payload) is dict else None) is not str:
                    name = str(name or "")
            elif name_field is not None:
                if type(name := name_field(payload)) is not str:  # (a str is what str() would give back)
                    name = str(name or "")
            elif events.by_header and headers is not None:
                if type(name := headers.get(events.header, "")) is not str:
                    name = str(name)
            else:
                name = frame.event if headers is None else frame_fields(frame)[0]
            if (read := texts.get(name)) is not None and type(text := read(payload)) is str:
                # the handler would render `{"text": text}`: the text delta below, without the parts
                append(ChatCompletionChunk(id=self.id, model=self.model,
                                           choices=[ChunkChoice(delta=ChoiceDelta(content=text), index=0)]))
                continue
            handler = handlers.get(name, unknown)
            if handler is None:
                continue
            parts = handler.parts(payload, ctx)
            if not parts:
                continue
            if type(text := parts.get("text")) is str and (  # a text delta (most events): what _emit would build
                len(parts) == 1
                or (len(parts) == 2 and type(args := parts.get("tool_call_args")) is dict
                    and not args.get("arguments"))
            ):
                append(ChatCompletionChunk(id=self.id, model=self.model,
                                           choices=[ChunkChoice(delta=ChoiceDelta(content=text), index=0)]))
                continue
            out.extend(self._emit(parts))

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
        if not parts:
            return []
        return self._emit(parts)

    def _emit(self, parts: dict[str, Any]) -> list[ChatCompletionChunk]:
        if type(text := parts.get("text")) is str and (  # a text delta (most events): what the rest would build
            len(parts) == 1
            or (len(parts) == 2 and type(args := parts.get("tool_call_args")) is dict and not args.get("arguments"))
        ):
            return [ChatCompletionChunk(id=self.id, model=self.model,
                                        choices=[ChunkChoice(delta=ChoiceDelta(content=text), index=0)])]
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
        out: list[ChatCompletionChunk] = []
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
        return out

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


def _top_keys(paths: list[Any]) -> tuple[str | None, ...] | None:
    """The single keys of `paths` (None for an absent path), or None unless every present path is one key."""
    keys = tuple(None if path is None else single_key(str(path)) for path in paths)
    if any(key is None and path is not None for key, path in zip(keys, paths, strict=True)):
        return None
    return keys


class _ChoiceIndex:
    """A choice's index as the response spec reads it (`index:`, as non-streamed responses do): an int there,
    else the choice's position."""

    __slots__ = ("get", "key")

    def __init__(self, path: Any) -> None:
        self.key = single_key(str(path)) if path is not None else None
        """The one key the path reads (read inline), when it is one key."""
        self.get: Getter | None = compile_getter(str(path)) if path is not None and self.key is None else None

    def __call__(self, raw: Any, position: int) -> int:
        if self.key is not None:
            value = raw.get(self.key) if type(raw) is dict else None
        else:
            value = self.get(raw) if self.get is not None else None
        return value if type(value) is int else position


_HEADS: dict[tuple[tuple[str, str], ...], msgspec.json.Decoder[Any]] = {}
"""The head Struct decoders of `_WholeResponseDecoder`, by their (field, key) pairs."""


class _WholeResponseDecoder(StreamDecoder):
    def __init__(self, provider: str, reader: PartsReader, finish: FinishMap, usage: UsageMap,
                 choices: Getter | None, error_when: Getter | None, ids: tuple[Getter, Getter],
                 blocked: Getter | None = None, keys: tuple[str | None, ...] | None = None,
                 text_key: str | None = None, index: _ChoiceIndex | None = None) -> None:
        self.provider = provider
        self.index = index or _ChoiceIndex(None)
        self.keys = keys
        """(choices, error_when, id, model) as single keys, when each path is one key (or absent): `feed`
        then reads them with `dict.get` inline, four calls fewer per event (see `_top_keys`)."""
        self.blocked = blocked
        self.get_id, self.get_model = ids
        self.reader = reader
        self.finish = finish
        self.usage_map = usage
        self.choices = choices
        self.error_when = error_when
        self.ctx = Context(provider)
        self.calls: dict[int, int] = {}
        self.usage: dict[str, int] = {}
        self.usage_read: Any = _NOTHING  # what the last usage read saw (`UsageMap.inputs`)
        roots = usage.roots
        self.usage_root: str | None = roots[0] if roots is not None and len(roots) == 1 else None
        """The one usage block's key, when there is one: `feed` builds `UsageMap.inputs` itself (one call
        fewer on every event)."""
        parts_keys = reader.parts_keys
        self.fast = (keys is not None and keys[0] is not None and self.usage_root is not None
                     and finish.key is not None and parts_keys is not None and reader.kind_field is None)
        """Whether `_feed_one` may read an event: every path it reads inline is one or two plain keys."""
        self.parts_first, self.parts_second = parts_keys or ("", None)
        self.first_kind: dict[str, str] = {}
        """The kind a part holding one key (with a truthy value) has: the first `present` entry of that key."""
        for key, kind in reader.present:
            self.first_kind.setdefault(key, kind)
        self.head: msgspec.json.Decoder[Any] | None = None
        """Decodes an event into a Struct of the top-level values `_feed_one` reads (the usage block kept as raw
        JSON, compared with the last one as bytes), the rest skipped; None when the fast path is off."""
        if self.fast and keys is not None:
            names = {field: key for field, key in zip(("choices", "error", "ident", "model", "usage"),
                                                      (*keys, self.usage_root), strict=True) if key is not None}
            if len(set(names.values())) == len(names):
                self.head = _HEADS.get(shape := tuple(names.items()))
                if self.head is None:  # made once per shape, not per stream (a Struct type costs ~25 us)
                    fields = [(field, msgspec.Raw if field == "usage" else Any, None) for field in names]
                    self.head = _HEADS[shape] = msgspec.json.Decoder(msgspec.defstruct("_Head", fields, rename=names))
        self.text_key = text_key
        """The key of a one-key part `{key: text}` that renders as `{"text": text}` (`text_part_key`): with the
        head Struct, `feed_all` reads the usual text event inline, without the kind template."""

    def feed(self, frame: Any) -> list[ChatCompletionChunk]:
        data = frame.payload if getattr(frame, "headers", None) is not None else frame.data  # frame_fields' data
        if not data or data.isspace():  # (what `not data.strip()` tells, without copying the event)
            return []
        if self.head is not None:
            try:
                head = self.head.decode(data)
            except msgspec.DecodeError:  # not an object (or not JSON): the general path says what it is
                head = None
            if head is not None and (fast := self._feed_one(head)) is not None:
                return fast
        return self._feed_body(data)

    def feed_all(self, frames: Iterable[Any], out: MutableSequence[ChatCompletionChunk]) -> None:
        """`feed` per frame, with the usual event read inline: no error, one candidate whose parts are one part
        holding one text (`text_key`), no finish reason, the usage block the same bytes as the last one read,
        the stream not done. Then `_feed_one` would render `{"text": text}`, change no state and give one
        chunk: this one. Any other event goes the way `feed` takes it (`_feed_one`, else the general path)."""
        head_decoder, key = self.head, self.text_key
        if head_decoder is None or key is None:
            super().feed_all(frames, out)
            return
        decode = head_decoder.decode
        first, second = self.parts_first, self.parts_second
        finish_key = self.finish.key
        append = out.append
        for frame in frames:
            data = frame.payload if getattr(frame, "headers", None) is not None else frame.data
            if not data or data.isspace():
                continue
            try:
                head = decode(data)
            except msgspec.DecodeError:  # not an object (or not JSON): the general path says what it is
                out.extend(self._feed_body(data))
                continue
            if (not self.done and getattr(head, "error", None) is None and type(choices := head.choices) is list
                    and len(choices) == 1 and type(raw := choices[0]) is dict):
                parts = raw.get(first)
                if second is not None:
                    parts = parts.get(second) if type(parts) is dict else None
                if (type(parts) is list and len(parts) == 1 and type(part := parts[0]) is dict and len(part) == 1
                        and type(text := part.get(key)) is str and text and raw.get(finish_key) is None
                        and head.usage == self.usage_read):
                    ident, model = head.ident, head.model
                    append(ChatCompletionChunk(
                        id=ident if type(ident) is str else str(ident) if ident is not None else None,
                        model=model if type(model) is str else str(model) if model is not None else None,
                        choices=[ChunkChoice(delta=ChoiceDelta(content=text), index=self.index(raw, 0))]))
                    continue
            fast = self._feed_one(head)
            out.extend(fast if fast is not None else self._feed_body(data))

    def _feed_body(self, data: Any) -> list[ChatCompletionChunk]:
        """The general path: the event decoded as a dict and read through the getters."""
        try:
            body = msgspec.json.decode(data)
        except msgspec.DecodeError:
            _json(data, self.provider)  # raises the stream's error with a preview
            raise
        keys = self.keys if type(body) is dict else None  # a single-key getter is `body.get(key)` on a dict
        if keys is not None:
            choices_key, error_key, id_key, model_key = keys
            if error_key is not None and (error := body.get(error_key)) is not None:
                raise _stream_error(error, self.provider)
            raw_choices = body.get(choices_key) if choices_key is not None else [body]
        else:
            if self.error_when is not None and (error := self.error_when(body)) is not None:
                raise _stream_error(error, self.provider)
            raw_choices = self.choices(body) if self.choices else [body]
        if not raw_choices and self.blocked is not None and (reason := self.blocked(body)) is not None:
            raise InvalidRequestError(f"the prompt was blocked ({reason})", provider=self.provider,
                                      error_type=str(reason), body=body)
        if type(raw_choices) is list and len(raw_choices) == 1:  # the usual event: one candidate
            out_choices = [self._choice(0, raw_choices[0])]
        elif raw_choices and type(raw_choices) is not list:
            raise StreamError(f"an event's choices are a {type(raw_choices).__name__}, not a list: "
                              f"{str(raw_choices)[:80]!r}", provider=self.provider)
        else:
            out_choices = [self._choice(position, raw) for position, raw in enumerate(raw_choices or ())]
        root = self.usage_root
        inputs = (body.get(root),) if root is not None and type(body) is dict else self.usage_map.inputs(body)
        if inputs is None or inputs != self.usage_read:  # the same usage block again reads the same values
            self.usage.update(self.usage_map.read(body, self.ctx))
            self.usage_read = inputs
        out = []
        if out_choices:  # the id and model getters are pure: read only when a chunk carries them
            if keys is not None:
                ident, model = body.get(id_key), body.get(model_key)
            else:
                ident, model = self.get_id(body), self.get_model(body)
            out.append(ChatCompletionChunk(id=str(ident) if ident is not None else None,
                                           model=str(model) if model is not None else None, choices=out_choices))
        if self.done and self.usage:
            out.append(ChatCompletionChunk(choices=[], usage=build_usage(self.usage)))
            self.usage = {}
            self.usage_read = _NOTHING
        return out

    def _feed_one(self, head: Any) -> list[ChatCompletionChunk] | None:
        """`feed`'s usual event, read inline: no error, one candidate (a dict) whose parts are one part holding
        one key. What the general path gives, with the getters, `_choice` and `PartsReader.pieces` unrolled;
        None (before anything is read into the decoder's state) for any other event."""
        if getattr(head, "error", None) is not None:
            return None
        raw_choices = head.choices
        if type(raw_choices) is not list or len(raw_choices) != 1 or type(raw := raw_choices[0]) is not dict:
            return None
        parts = raw.get(self.parts_first)
        if (second := self.parts_second) is not None:
            parts = parts.get(second) if type(parts) is dict else None
        if type(parts) is not list or len(parts) != 1 or type(part := parts[0]) is not dict or len(part) != 1:
            return None
        for key, value in part.items():  # (the one key)
            kind = self.first_kind.get(key) if value else None
        render = self.reader.kinds.get(kind) if kind is not None else None
        if render is None:
            return None
        index = self.index(raw, 0)
        piece = render(part, self.ctx)
        if len(piece) == 1 and type(text := piece.get("text")) is str:
            delta = ChoiceDelta(content=text)
        else:
            content, calls, details, reasoning = self._gather(index, [piece])
            delta = ChoiceDelta(content=content, tool_calls=calls or None, reasoning=reasoning,
                                reasoning_details=details or None)
        raw_reason = raw.get(self.finish.key)
        reason = None if raw_reason is None else self.finish.translate(raw_reason, bool(self.calls.get(index)))
        if reason is not None:
            self.done = True
        choice = ChunkChoice(delta=delta, index=index, finish_reason=reason)
        usage = head.usage  # raw JSON (or None when absent): the same bytes read the same values
        if usage != self.usage_read:
            block = msgspec.json.decode(usage) if usage is not None else None
            self.usage.update(self.usage_map.read({self.usage_root: block}, self.ctx))
            self.usage_read = usage
        ident, model = head.ident, head.model
        out = [ChatCompletionChunk(id=ident if type(ident) is str else str(ident) if ident is not None else None,
                                   model=model if type(model) is str else str(model) if model is not None else None,
                                   choices=[choice])]
        if self.done and self.usage:
            out.append(ChatCompletionChunk(choices=[], usage=build_usage(self.usage)))
            self.usage = {}
            self.usage_read = _NOTHING
        return out

    def _choice(self, position: int, raw: Any) -> ChunkChoice:
        """One candidate of an event as a delta; the delta is built once, from what its pieces gave."""
        index = self.index(raw, position)
        pieces = self.reader.pieces(raw, self.ctx)
        if len(pieces) == 1 and len(piece := pieces[0]) == 1 and type(text := piece.get("text")) is str:
            content: str | None = text  # one plain text piece (most events): what the loop below gives
            calls: list[ToolCallDelta] = []
            details: list[ReasoningDetail] = []
            reasoning: str | None = None
        else:
            content, calls, details, reasoning = self._gather(index, pieces)
        delta = ChoiceDelta(content=content, tool_calls=calls or None, reasoning=reasoning,
                            reasoning_details=details or None)
        finish = self.finish
        key = finish.key  # `finish.get(raw)` without the call when it reads one key
        raw_reason = (raw.get(key) if type(raw) is dict else None) if key is not None else finish.get(raw)
        reason = (None if raw_reason is None  # absent on all but the last event: `translate(None)` is None
                  else finish.translate(raw_reason, bool(self.calls.get(index))))
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
