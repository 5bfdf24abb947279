"""A plain reference for the generated `read_choice`: the response mapping read through getters and templates,
with no code generation, so the generated reader can be compared with it on every payload."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from vllora_llm.engine.codegen import FunctionBuilder
from vllora_llm.engine.errors import InvalidRequestError, StreamError
from vllora_llm.engine.extras import EventExtras
from vllora_llm.engine.gateway import (
    ChatCompletionChunk,
    ChoiceDelta,
    ChunkChoice,
    FunctionCallDelta,
    ReasoningDetail,
    ToolCallDelta,
)
from vllora_llm.engine.lower_response import kinds_declared, object_keys
from vllora_llm.engine.paths import compile_getter
from vllora_llm.engine.response import FinishMap, UsageMap, build_usage
from vllora_llm.engine.silent import SilentRules
from vllora_llm.engine.stream_base import stream_error
from vllora_llm.engine.templates import _getter, _inline_getter, _lower, compile_template
from vllora_llm.engine.transforms import Context
from vllora_llm.engine.views import Views

SILENT_KIND = "\x00silent_kind"
"""The key of the marker piece a part kind's template leaves when it renders nothing (silent.py)."""


def reference_read_choice(spec: dict[str, Any]) -> Any:
    """`read_choice` written plainly: getters, the kind found as `kind_by` says, each kind's template."""
    index = compile_getter(spec["index"]) if "index" in spec else None
    parts = compile_getter(spec.get("parts", "content"))
    kinds = {str(k): compile_template(v) for k, v in (spec.get("kinds") or {}).items()}
    kind_by = spec.get("kind_by") or {"field": "type"}
    kind_field = compile_getter(kind_by["field"]) if "field" in kind_by else None
    finish = compile_getter((spec.get("finish_reason") or {}).get("from", "finish_reason"))
    objects = object_keys(spec)  # (a key read as an object: present when it holds one of the keys read in it)

    def kind_of(part: Any) -> str | None:
        if kind_field is not None:
            value = kind_field(part)
            return str(value) if value is not None else None
        if isinstance(part, dict):
            for key, kind in kind_by.get("present", ()):
                value = part.get(key)
                if key in objects and isinstance(value, dict):
                    value = any(value.get(name) is not None for name in objects[key])
                if value:
                    return str(kind)
        return None

    def read(raw: Any, ctx: Any) -> Any:
        from vllora_llm.engine.lower_response import parts_not_a_list

        pieces = []
        found = parts(raw)
        if found and type(found) is not list:
            parts_not_a_list(found)  # (a string is not read character by character)
        for part in found or ():
            kind = kind_of(part)
            render = kinds.get(kind) if kind is not None else None
            if render is not None:
                pieces.append(render(part, ctx) or {SILENT_KIND: kind})  # (a kind that rendered nothing)
        return (index(raw) if index is not None else None), pieces, finish(raw)

    return read


class ReferenceEvents:
    """An events-mode stream decoder written plainly: payloads decoded into dicts, the handlers evaluated by the
    template interpreter (`compile_events` below, parts as an object), the parts applied by the code below
    (what the engine did before its handlers were lowered into one generated function)."""

    def __init__(self, decoder: Any) -> None:
        from vllora_llm.engine.silent import SilentRules, event_rules
        from vllora_llm.engine.transforms import Context

        events = decoder.events
        self.read_event = compile_events(dict(events.handlers), events.name_path)
        self.handlers = frozenset(events.handlers)
        self.name_of = compile_getter(events.name_path) if events.name_path is not None else None
        self.switches = {
            name: (compile_getter(str(handler["switch"])), {str(case) for case in handler.get("cases") or {}})
            for name, handler in events.handlers.items() if isinstance(handler, dict) and "switch" in handler}
        self.answer_tools = events.answer_tools
        self.answer_blocks: set[Any] = set()
        self.silent = SilentRules(event_rules(events.handlers), "stream.events")
        self.provider = decoder.provider
        self.real = decoder  # (its `raise_for` and `finish`: frames that are no event are not what is compared)
        self.finish = decoder.finish
        self.terminal = decoder.terminal
        self.ctx = Context(self.provider)
        self.id: str | None = None
        self.model: str | None = None
        self.usage: dict[str, int] = {}
        self.tool_index: dict[Any, int] = {}
        self.last_tool = -1
        self.indexed_starts = False
        self.has_calls = False
        self.finished = False
        self.done = False

    def feed(self, frame: Any) -> list[Any]:
        """`_feed`, an event of the wrong shape raised as the decoders' `feed_all` raises it (stream_base.py)."""
        from vllora_llm.engine.stream_base import STRAY, malformed

        try:
            return self._feed(frame)
        except STRAY as exc:
            raise malformed(exc, frame, self.provider) from None

    def _feed(self, frame: Any) -> list[Any]:
        import msgspec

        from vllora_llm.engine.frames import DATA
        from vllora_llm.engine.gateway import ChatCompletionChunk, ChoiceDelta, ChunkChoice
        from vllora_llm.engine.stream_base import json_of

        out: list[Any] = []
        if frame.kind != DATA:
            self.real.raise_for(frame)
        data = frame.payload
        if data:
            try:
                payload = msgspec.json.decode(data)
            except msgspec.DecodeError:
                json_of(data, self.provider)
                raise
        else:
            payload = {}
        parts = self.read_event(payload, frame, self.ctx)
        if type(parts) is str:
            if parts:
                self.silent.spoken.add("text")
            out.append(ChatCompletionChunk(id=self.id, model=self.model,
                                           choices=[ChunkChoice(delta=ChoiceDelta(content=parts), index=0)]))
        elif parts:
            self._emit(parts, out)
        elif parts is not None and data:  # a handler gave nothing for a payload (silent.py)
            self._silent(payload, frame)
        return out

    @property
    def warnings(self) -> list[Any]:
        return self.silent.warnings("event") if self.silent.counts else []

    def _silent(self, payload: Any, frame: Any) -> None:
        """Which rule gave nothing for this event."""
        name = frame.name if self.name_of is None else self.name_of(payload)
        name = "" if name is None else str(name)
        handler = name if name in self.handlers else "*"
        rule = handler
        switch = self.switches.get(handler)
        if switch is not None:
            value = switch[0](payload)
            rule = f"{handler}.cases.{value}" if str(value) in switch[1] else f"{handler}.default"
        self.silent.record(rule, name)

    def _emit(self, parts: dict[str, Any], out: Any) -> None:
        from vllora_llm.engine.gateway import (
            ChatCompletionChunk,
            ChoiceDelta,
            ChunkChoice,
            FunctionCallDelta,
            ReasoningDetail,
            ToolCallDelta,
        )
        from vllora_llm.engine.response import build_usage
        from vllora_llm.engine.stream_base import stream_error

        """The chunks of one event's unified parts, appended to `out`."""
        if "error" in parts:
            raise stream_error(parts["error"], self.provider)
        self.silent.spoken.update(parts)
        meta = parts.get("meta")
        if meta:
            self.id = meta.get("id", self.id)
            self.model = meta.get("model", self.model)
            self.id = str(self.id) if self.id is not None and type(self.id) is not str else self.id
            self.model = str(self.model) if self.model is not None and type(self.model) is not str else self.model
        if "usage" in parts and isinstance(parts["usage"], dict):
            self.usage.update({k: int(v) for k, v in parts["usage"].items() if isinstance(v, (int, float))})
        delta = ChoiceDelta()
        touched = False
        if meta and type(meta.get("role")) is str and meta["role"]:  # (another type is no role)
            delta.role = meta["role"]
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
        # (an `extras` part: the provider fields this event carries, see extras.py; none kept: None)
        extras = {k: v for k, v in extras.items() if v is not None and v != [] and v != {}} or None if extras else None
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

    def close(self) -> list[Any]:
        from vllora_llm.engine.errors import StreamError

        if self.terminal == "eof" or (self.terminal == "finish_reason" and self.finished):
            self.done = True
        if not self.done:
            raise StreamError("the stream ended before its terminal event (truncated)", provider=self.provider)
        return []


class ReferenceWhole:
    """A whole-response stream decoder written plainly (no generated code, no views): what the engine did before
    its events were handled by one generated function."""

    def __init__(self, response: dict[str, Any], stream: dict[str, Any], provider: str) -> None:
        self.provider = provider
        self.read_choice = reference_read_choice(response)
        choices = compile_getter(response["choices"]) if "choices" in response else None
        self.choices = choices or (lambda body: [body])
        self.error = compile_getter(stream["error_when"]) if "error_when" in stream else (lambda body: None)
        when = (response.get("blocked") or {}).get("when")
        self.blocked = compile_getter(when) if when else (lambda body: None)
        self.ident = compile_getter(response.get("id", "id"))
        self.model_of = compile_getter(response.get("model", "model"))
        self.usage_map = UsageMap(response.get("usage"))
        self.finish = FinishMap(response.get("finish_reason"))
        self.ctx = Context(provider)
        self.calls: dict[int, int] = {}
        self.usage: dict[str, int] = {}
        self.done = False
        extras = stream.get("extras") or response.get("extras")
        self.extras = EventExtras(extras, ("stream", "extras"), provider) if extras else None
        self.silent = SilentRules(kinds_declared(response), "response.kinds")

    @property
    def warnings(self) -> list[Any]:
        return self.silent.warnings("part") if self.silent.counts else []

    def feed(self, frame: Any) -> list[Any]:
        """`_feed`, an event of the wrong shape raised as the decoders' `feed_all` raises it (stream_base.py)."""
        from vllora_llm.engine.stream_base import STRAY, malformed

        try:
            return self._feed(frame)
        except STRAY as exc:
            raise malformed(exc, frame, self.provider) from None

    def _feed(self, frame: Any) -> list[ChatCompletionChunk]:
        out: list[ChatCompletionChunk] = []
        data = frame.payload
        if not data or data.isspace():
            return out
        try:
            body = msgspec.json.decode(data)
        except msgspec.DecodeError:
            raise StreamError(f"a stream event is not valid JSON: {data[:200]!r}", provider=self.provider) from None
        if (error := self.error(body)) is not None:
            raise stream_error(error, self.provider)
        choices = self.choices(body)
        if not choices and (reason := self.blocked(body)) is not None:
            raise InvalidRequestError(f"the prompt was blocked ({reason})", provider=self.provider,
                                      error_type=str(reason), body=body)
        if choices and type(choices) is not list:
            raise StreamError(f"an event's choices are a {type(choices).__name__}, not a list: "
                              f"{str(choices)[:80]!r}", provider=self.provider)
        chosen = [self._choice(position, raw) for position, raw in enumerate(choices or ())]
        self.usage.update(self.usage_map.read(body, self.ctx))
        extras = self.extras.of(data) if self.extras is not None else None
        if chosen or extras:
            ident, model = self.ident(body), self.model_of(body)
            out.append(ChatCompletionChunk(id=str(ident) if ident is not None else None,
                                           model=str(model) if model is not None else None, choices=chosen,
                                           extras=extras))
        if self.done and self.usage:
            out.append(ChatCompletionChunk(choices=[], usage=build_usage(self.usage)))
            self.usage = {}
        return out

    def _choice(self, position: int, raw: Any) -> ChunkChoice:
        index, pieces, raw_reason = self.read_choice(raw, self.ctx)
        if type(index) is not int:
            index = position
        texts: list[str] = []
        calls: list[ToolCallDelta] = []
        details: list[ReasoningDetail] = []
        reasoning: str | None = None
        for piece in pieces:
            if SILENT_KIND in piece:  # a part kind's template rendered nothing (silent.py)
                self.silent.record(str(piece[SILENT_KIND]), str(piece[SILENT_KIND]))
                continue
            self.silent.spoke(piece)
            if isinstance(text := piece.get("text"), str):
                texts.append(text)
                if "reasoning" in piece:
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
        delta = ChoiceDelta(content="".join(texts) if texts else None, tool_calls=calls or None,
                            reasoning=reasoning, reasoning_details=details or None)
        reason = None if raw_reason is None else self.finish.translate(raw_reason, bool(self.calls.get(index)))
        if reason is not None:
            self.done = True
        return ChunkChoice(delta=delta, index=index, finish_reason=reason)

    def close(self) -> list[ChatCompletionChunk]:
        if not self.done:
            raise StreamError("the stream ended before its terminal event (truncated)", provider=self.provider)
        return []


# ---- the events interpreter the engine had before its handlers were lowered into one generated function ----


def compile_events(handlers: dict[str, Any], name_path: str | None,
                   where: tuple[str | int, ...] = (), views: Views | None = None) -> Callable[[Any, Any, Context], Any]:
    """(The engine's former interpreter of `events:`, kept as the reference for the generated decoder.)
    A stream's `events:` block lowered into one function `read_event(item, frame, ctx) -> parts`: the event's
    name (the frame's, or the value at `name_path` of the payload, its str) picks its handler, else the
    `*` handler; a handler is `ignore` (nothing), a parts template (`_lower_parts`) or a `switch` on a path of
    the payload whose cases and `default` are parts templates. Each branch reads what it needs once. `views`:
    the payload's view types (views.py), from `events_paths`."""
    code = FunctionBuilder(("item", "frame", "ctx"), "read_event", views)
    if name_path is None:
        code.line("name = frame.name")
    else:
        code.line(f"name = {_inline_getter(name_path, _getter('$' + name_path, (*where, 'event_type'))[1], code)}")
        code.line("if type(name) is not str: name = str(name or '')")
    read_before = dict(code.reads)
    for event, spec in handlers.items():
        if event == "*":
            continue
        code.line(f"if name == {code.bind(str(event))}:")
        code.indent = "    "
        code.reads = dict(read_before)  # a local read in another branch is not assigned in this one
        _emit_handler(spec, (*where, "events", str(event)), code)
        code.indent = ""
    code.reads = dict(read_before)
    if "*" in handlers:
        _emit_handler(handlers["*"], (*where, "events", "*"), code)
    function: Callable[[Any, Any, Context], Any] = code.build("None")
    return function


def _emit_handler(spec: Any, where: tuple[str | int, ...], code: FunctionBuilder) -> None:
    """Emit lines returning one event handler's parts, at the builder's current indent."""
    if spec == "ignore":
        code.line("return None")
        return
    if not (isinstance(spec, dict) and "switch" in spec):
        code.line(f"return {_lower_parts(spec, where, code)}")
        return
    path = str(spec["switch"])
    kind = code.temp()
    code.line(f"{kind} = {_inline_getter(path, _getter('$' + path, (*where, 'switch'))[1], code)}")
    code.line(f"if type({kind}) is not str: {kind} = str({kind})")
    read_before, indent = dict(code.reads), code.indent
    for case, template in (spec.get("cases") or {}).items():
        code.line(f"if {kind} == {code.bind(str(case))}:")
        code.indent = indent + "    "
        code.reads = dict(read_before)
        code.line(f"return {_lower_parts(template, (*where, 'cases', str(case)), code)}")
        code.indent = indent
    code.reads = read_before
    default = spec.get("default")
    code.line(f"return {'None' if default is None else _lower_parts(default, (*where, 'default'), code)}")


def _lower_parts(template: Any, where: tuple[str | int, ...], code: FunctionBuilder) -> str:
    """`_lower` for a stream parts template. An object template with a `text` field computes its fields into
    locals (in order, as `_lower` does) and gives the text itself when the event is a text delta and nothing
    else: `text` a str, every other field None, except `tool_call_args` when it holds no `arguments` (a block
    index alone is no tool-call piece). The stream decoder turns a str into a text chunk; any other value is
    the parts object `_lower` builds."""
    if not isinstance(template, dict) or "text" not in template or "$op" in template:
        return _lower(template, where, code)
    for key in template:
        if isinstance(key, str) and key.startswith("$"):
            return _lower(template, where, code)  # (`_lower` reports the directive)
    values: list[tuple[str, str]] = []
    tests: list[str] = []
    objects: dict[str, list[tuple[str, str]]] = {}  # `tool_call_args` objects: their fields, built after the test
    for k, v in template.items():
        key = str(k)
        if key == "tool_call_args" and isinstance(v, dict) and "$op" not in v and not any(
                isinstance(name, str) and name.startswith("$") for name in v):
            fields = objects[key] = []
            for name, field in v.items():
                local = code.temp()
                code.line(f"{local} = {_lower(field, (*where, key, str(name)), code)}")
                fields.append((str(name), local))
            arguments = dict(fields).get("arguments")
            if arguments is not None:
                tests.append(f"not {arguments}")  # (the object is never None: no `arguments`, no tool-call piece)
            values.append((key, ""))
            continue
        local = code.temp()
        code.line(f"{local} = {_lower(v, (*where, key), code)}")
        values.append((key, local))
        if key == "tool_call_args":
            tests.append(f"({local} is None or (type({local}) is dict and not {local}.get({code.bind('arguments')})))")
        elif key != "text":
            tests.append(f"{local} is None")
    text = dict(values)["text"]
    code.line(f"if type({text}) is str{''.join(' and ' + test for test in tests)}: return {text}")
    out = code.temp()
    code.line(f"{out} = {{}}")
    for key, local in values:
        if key in objects:
            built = code.temp()
            code.line(f"{built} = {{}}")
            for name, field in objects[key]:
                code.line(f"if {field} is not None: {built}[{code.bind(name)}] = {field}")
            code.line(f"{out}[{code.bind(key)}] = {built}")
        else:
            code.line(f"if {local} is not None: {out}[{code.bind(key)}] = {local}")
    return out
