"""Stream decoding: framed events → `ChatCompletionChunk`s, as declared in the spec's `stream:`.

Three modes, each a small state machine built once per stream, each in a module of its own:

- `passthrough` (stream_passthrough.py): every event's data is an OpenAI-shaped chunk (decoded straight into
  the Struct); a `done_data` sentinel ends the stream; a top-level `error` object is a `StreamError`.
- `events` (stream_events.py): an event name (SSE `event:`, a payload field, or a frame header) picks a
  handler; handlers are templates producing unified stream parts (`text`, `reasoning`, `reasoning_signature`,
  `reasoning_redacted`, `tool_call_start`, `tool_call_args`, `finish`, `usage`, `meta`, `end`, `error`).
- `whole_response` (stream_whole.py): every event is a complete response; it is read with the response spec
  and emitted as deltas.

Frames come from the runtime's framers, normalised (frames.py: a name, a kind, a payload), so the engine
stays free of I/O and of how a stream was framed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from .content_parts import stream_decoder_factory
from .error_map import compile_event_errors
from .extras import compile_event_extras
from .gateway import ChatCompletionChunk
from .lower_response import event_views, extras_reads, kinds_declared
from .response import FinishMap, UsageMap
from .stream_base import StreamDecoder
from .stream_events import CompiledEvents, EventsDecoder
from .stream_passthrough import PassthroughDecoder
from .stream_whole import WholeResponseDecoder, lower_whole_event

__all__ = ["DecoderFactory", "StreamDecoder", "compile_stream", "event_header"]

DecoderFactory = Callable[[], StreamDecoder]


def event_header(spec: Mapping[str, Any]) -> str | None:
    """The event-stream header that names events (`event_type: {from: header, name: ...}`), else None: what
    the runtime reads into each frame's name."""
    source = dict(spec.get("event_type") or {})
    return str(source.get("name", ":event-type")) if source.get("from") == "header" else None


def compile_stream(spec: Mapping[str, Any], response_spec: Mapping[str, Any], provider: str,
                   errors: Mapping[str, Any] | None = None) -> DecoderFactory:
    """`errors`: the spec's `errors:` block; its `types` table gives the class of an error a stream sends as
    an event (an event-stream `exception` message), which has no HTTP status."""
    mode = spec.get("mode", "passthrough")
    if mode == "passthrough":
        done_data = spec.get("done_data", "[DONE]")
        terminal = spec.get("terminal", "done_data")
        rewriting = stream_decoder_factory(spec, response_spec, provider)
        if rewriting is not None:  # typed content chunks or index-less tool calls: a rewriting decoder per stream
            return lambda: PassthroughDecoder(provider, rewriting(), done_data, terminal)
        decoder = msgspec.json.Decoder(ChatCompletionChunk)
        extras = compile_event_extras(spec.get("extras"), ("stream", "extras"), provider)
        if extras is not None and spec.get("framing", "sse") != "sse":
            extras.first = None  # (`first in data` is for text payloads; event-stream payloads are bytes)
        return lambda: PassthroughDecoder(provider, decoder, done_data, terminal, extras)
    finish = FinishMap(response_spec.get("finish_reason"))
    if mode == "whole_response":
        usage = UsageMap(response_spec.get("usage"))
        where = ("stream", "extras") if spec.get("extras") else ("response", "extras")
        fields = spec.get("extras") or response_spec.get("extras")
        reads = extras_reads(fields, response_spec)  # (None: the extras are read from the event's text)
        viewed = event_views(response_spec, spec, reads)
        event_type, views = viewed if viewed is not None else (Any, {})
        usage_fields = {str(k): v for k, v in (response_spec.get("usage") or {}).items()}
        decode = msgspec.json.Decoder(event_type).decode
        on_events, slots, fold = lower_whole_event(
            response_spec, spec, provider, usage.roots, usage_fields, finish.translate, views,
            reads if reads is not None else compile_event_extras(fields, where, provider), decode)
        declared = kinds_declared(response_spec)
        return lambda: WholeResponseDecoder(provider, decode, on_events, slots, declared, fold)
    answers = frozenset(str(name) for name in response_spec.get("answer_tools") or ())
    compiled = CompiledEvents(spec, provider, answers)
    event_error = compile_event_errors(errors or {}, provider)
    return lambda: EventsDecoder(provider, compiled, finish, spec.get("terminal", "event"), event_error)
