"""The `events:` block of a stream spec lowered into one generated function, `on_events(frames, st, out)`.

For each frame (a batch of them: the loop is generated too, so an event costs no Python call), its payload is
decoded into its view, the name read (the frame's, or the payload's field), the handler picked (`ignore`, a
parts template, or a `switch` whose cases are parts templates), each part of its template evaluated into a
local (a part written as an object: each of its fields, in order), and the chunk those parts make built and
appended to `out`; `st` is the decoder (stream_events.EventsDecoder), holding what lasts between events; a
frame that is no event (an exception or error message) is raised by `st.raise_for`. The parts are applied in
the order the interpreter before it applied them: `error` (raised), `meta` (id, model), `usage`, then the delta
(`meta.role`, `text`, `reasoning`, `reasoning_signature`, `reasoning_redacted`, `tool_call_start`,
`tool_call_args`), `finish`, and `end`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, MutableSequence
from typing import Any

import msgspec

from .codegen import FunctionBuilder
from .frames import DATA, MESSAGE, AnyFrame
from .gateway import ChatCompletionChunk, ChoiceDelta, ChunkChoice, FunctionCallDelta, ReasoningDetail, ToolCallDelta
from .response import call_text
from .silent import part_bit
from .stream_base import STRAY, json_of, malformed, stream_error
from .templates import lower_into
from .views import Views

OnEvents = Callable[[Iterable[AnyFrame], Any, MutableSequence[ChatCompletionChunk]], int]
"""`on_events(frames, decoder, out) -> spoke`: the bits (`silent.part_bit`) of the parts the frames gave."""

_USES_CTX = re.compile(r"(?<![\w.])ctx\b")

_PARTS = ("error", "meta", "usage", "text", "reasoning", "reasoning_signature", "reasoning_redacted",
          "tool_call_start", "tool_call_args", "finish", "extras", "end")


class _Value:
    """A part's value in the generated code: an object template's fields (locals; always an object), or one
    local holding whatever the template gave."""

    def __init__(self, local: str | None = None, fields: dict[str, str] | None = None) -> None:
        self.local = local
        self.fields = fields

    def field(self, key: str) -> str:
        """The expression of the value's field `key` (None when it is not an object or has no such field)."""
        if self.fields is not None:
            return self.fields.get(key, "None")
        return f"({self.local}.get({key!r}) if type({self.local}) is dict else None)"

    def present(self) -> str:
        """The test that the part was given (an object template always gives one)."""
        return "True" if self.fields is not None else f"{self.local} is not None"

    def is_object(self) -> str:
        return "True" if self.fields is not None else f"type({self.local}) is dict"

    def truthy(self) -> str:
        if self.fields is not None:
            return "(" + " or ".join(f"{local} is not None" for local in self.fields.values()) + ")" \
                if self.fields else "False"
        return str(self.local)


def lower_events(handlers: Mapping[str, Any], name_path: str | None, views: Views, decode: Callable[[Any], Any],
                 provider: str, answer_tools: frozenset[str] = frozenset(), text_frames: bool = True) -> OnEvents:
    """The `events:` block as `on_events(frames, st, out)` (see the module docstring). `views`: the payload's
    view types (views.py), from `templates.events_paths`; `decode`: a payload's JSON → its view. `answer_tools`:
    tools whose input is the answer (`response.answer_tools`): their blocks' argument pieces are text deltas,
    and open no tool call. `text_frames`: the framing may hand over a data event as its payload, a str
    (frames.py: SSE's); without it (AWS event-stream) every frame is a frame object, read without that test.

    A rule (a handler, a switch case or default) written as an object whose parts are all None for a non-empty
    payload gave nothing: it is recorded in `st.silent` (silent.py); `on_events` returns the bits of the parts
    the frames gave, for the warning's "while the rest of the answer came"."""
    code = FunctionBuilder(("frames", "st", "out"), "on_events", views, settle=True)
    code.line("spoke = 0")
    code.line("for frame in frames:")  # (the loop is generated too: no Python call per event)
    code.indent = "    "
    # (frames.py: a str is a data event named `message`, its payload; the frame's name is read with its payload)
    named = "; name = frame.name" if name_path is None else ""
    if text_frames:
        code.line(f"if type(frame) is str: data = frame{f'; name = {code.bind(MESSAGE)}' if named else ''}")
        code.line(f"elif frame.kind != {code.bind(DATA)}: st.raise_for(frame)")
    else:
        code.line(f"if frame.kind != {code.bind(DATA)}: st.raise_for(frame)")
    code.line(f"else: data = frame.payload{named}")
    code.line("if data:")
    code.line("    try:")
    code.line(f"        item = {code.bind(decode)}(data)")
    code.line(f"    except {code.bind(msgspec.DecodeError)}:")
    code.line(f"        {code.bind(json_of)}(data, {code.bind(provider)})  # raises the stream's error with a preview")
    code.line("        raise")
    code.line("else:")
    code.line("    item = {}")
    code.settle("item", ())  # (the payload's view, or an empty one: its fields are read without a type test)
    if name_path is not None:
        code.line(f"name = {lower_into('$' + name_path, ('stream', 'event_type'), code)}")
        code.line("if type(name) is not str: name = str(name or '')")
    read_before = dict(code.reads)
    for event, spec in handlers.items():
        if event == "*":
            continue
        code.line(f"if name == {code.bind(str(event))}:")
        code.indent = "        "
        code.reads = dict(read_before)  # a local read in another branch is not assigned in this one
        _handler(spec, ("stream", "events", str(event)), code, provider, answer_tools, str(event))
        if code.lines[-1] != code.indent + "continue":  # (a handler that gave its parts went on already)
            code.line("continue")
        code.indent = "    "
    code.reads = dict(read_before)
    if "*" in handlers:
        _handler(handlers["*"], ("stream", "events", "*"), code, provider, answer_tools, "*")
    code.indent = ""
    # one try around the whole loop (none per event or field): a payload whose fields have the wrong types is a
    # StreamError naming the event (stream_base.malformed), not the bare error reading it raised (chained to it, so
    # a bug of ours that raised one of these shows its own type and traceback)
    loop = code.lines.index("for frame in frames:")
    code.lines[loop:] = ["try:", *(f"    {line}" for line in code.lines[loop:]),
                         f"except {code.bind(STRAY)} as _e:",
                         f"    raise {code.bind(malformed)}(_e, frame, {code.bind(provider)}) from _e"]
    if any(_USES_CTX.search(line) for line in code.lines):  # (a transform's context, read once when used)
        code.lines.insert(0, "ctx = st.ctx")
    function: OnEvents = code.build("spoke")
    return function


def _handler(spec: Any, where: tuple[str | int, ...], code: FunctionBuilder, provider: str,
             answer_tools: frozenset[str], rule: str) -> None:
    """The lines of one handler, at the builder's current indent (`rule`: its name in silent.py's warnings)."""
    if spec == "ignore":
        return
    if not (isinstance(spec, dict) and "switch" in spec):
        _parts(spec, where, code, provider, answer_tools, rule)
        return
    kind = code.temp()
    code.line(f"{kind} = {lower_into('$' + str(spec['switch']), (*where, 'switch'), code)}")
    code.line(f"if type({kind}) is not str: {kind} = str({kind})")
    read_before, indent = dict(code.reads), code.indent
    cases = list((spec.get("cases") or {}).items())
    for position, (case, template) in enumerate(cases):
        code.line(f"{'if' if position == 0 else 'elif'} {kind} == {code.bind(str(case))}:")
        code.indent = indent + "    "
        code.reads = dict(read_before)
        code.line("pass")
        _parts(template, (*where, "cases", str(case)), code, provider, answer_tools, f"{rule}.cases.{case}")
        code.indent = indent
    code.reads = read_before
    default = spec.get("default")
    if default is not None:
        if cases:
            code.line("else:")
            code.indent = indent + "    "
        code.line("pass")
        _parts(default, (*where, "default"), code, provider, answer_tools, f"{rule}.default")
        code.indent = indent
        code.reads = dict(read_before)


def _object_fields(template: Any) -> bool:
    return isinstance(template, dict) and not any(isinstance(key, str) and key.startswith("$") for key in template)


def _lower_value(template: Any, where: tuple[str | int, ...], code: FunctionBuilder) -> _Value:
    """A part's template: an object's fields each into a local, in order; anything else into one local."""
    if _object_fields(template):
        fields = {str(key): _local(lower_into(field, (*where, str(key)), code), code)
                  for key, field in template.items()}
        return _Value(fields=fields)
    return _Value(local=_local(lower_into(template, where, code), code))


def _local(value: str, code: FunctionBuilder) -> str:
    """A local holding `value` (an expression lowered by `templates.lower_into`; a local already is one)."""
    if value.isidentifier():
        return value
    local = code.temp()
    code.line(f"{local} = {value}")
    return local


def _parts(template: Any, where: tuple[str | int, ...], code: FunctionBuilder, provider: str,
           answer_tools: frozenset[str], rule: str) -> None:
    """The lines evaluating a parts template and turning its parts into chunks and state, as `st` reads them,
    then returning the bits of the parts it gave (or recording that the rule gave nothing)."""
    if template is None:
        return
    if _object_fields(template):
        parts: dict[str, _Value] = {}
        for key, value in template.items():  # every field, in order (an unknown part is evaluated, not used)
            parts[str(key)] = _lower_value(value, (*where, str(key)), code)
    else:  # a template giving the parts object (or a text delta as a str)
        whole = code.temp()
        code.line(f"{whole} = {lower_into(template, where, code)}")
        code.line(f"if type({whole}) is str: {whole} = {{'text': {whole}}}")
        code.line(f"elif type({whole}) is not dict: {whole} = {{}}")
        parts = {}
        for key in _PARTS:
            local = code.temp()
            code.line(f"{local} = {whole}.get({key!r})")
            parts[key] = _Value(local=local)
    _emit(parts, code, provider, answer_tools)
    if not _object_fields(template):  # (declares no parts: never recorded as silent)
        code.line(f"st.silent.spoken.update({whole})")
        code.line("continue")
        return
    fixed = sum(part_bit(key) for key, value in parts.items() if value.fields is not None)
    varying = [(part_bit(key), str(value.local)) for key, value in parts.items() if value.fields is None]
    if not varying:
        _gave(str(fixed), code)
        return
    if not fixed:  # (a part written as an object is always given: the rule never gives nothing)
        code.line(f"if {' and '.join(f'{local} is None' for _, local in varying)}:")  # the rule gave nothing
        code.line(f"    if frame.payload: st.silent.record({code.bind(rule)}, name)")
        code.line("    continue")
    text = part_bit("text")  # (an empty text delta is no text the stream gave)
    if len(varying) == 1 and varying[0][0] != text and not fixed:
        _gave(str(fixed | varying[0][0]), code)
    else:  # (a part's bit set by its own test: a part not given costs a test, not a conditional and an add)
        if fixed:
            code.line(f"spoke |= {fixed}")
        for bit, local in varying:
            code.line(f"if {local}: spoke |= {bit}" if bit == text else f"if {local} is not None: spoke |= {bit}")
        code.line("continue")


def _gave(bits: str, code: FunctionBuilder) -> None:
    """The event is done: the parts it gave (`bits`, an expression) join the frames'; on to the next frame."""
    if bits != "0":
        code.line(f"spoke |= {bits}")
    code.line("continue")


def _emit(parts: dict[str, _Value], code: FunctionBuilder, provider: str, answer_tools: frozenset[str]) -> None:
    """The chunk of one event's parts (locals), in the order the parts are applied."""
    if "error" in parts:
        error = parts["error"]
        raise_it = f"raise {code.bind(stream_error)}({_whole(error, code)}, {code.bind(provider)})"
        code.line(f"if {error.present()}: {raise_it}")
    meta = parts.get("meta")
    kept = [(key, meta.field(key)) for key in ("id", "model")] if meta is not None else []
    if meta is not None and any(value != "None" for _, value in kept):
        code.line(f"if {meta.truthy()} and {meta.is_object()}:")
        for key, value in kept:
            if value != "None":  # (a field the part does not have)
                code.line(f"    if {value} is not None: st.{key} = {value} if type({value}) is str else str({value})")
    usage = parts.get("usage")
    if usage is not None:
        if usage.fields is not None:
            for key, local in usage.fields.items():
                name = code.bind(key)
                code.line(f"if type({local}) is int: st.usage[{name}] = {local}")
                code.line(f"elif {local} is not None and isinstance({local}, (int, float)): "
                          f"st.usage[{name}] = int({local})")
        else:
            code.line(f"if type({usage.local}) is dict: st.usage.update({{k: int(v) for k, v in "
                      f"{usage.local}.items() if isinstance(v, (int, float))}})")
    delta: dict[str, str] = {}
    given: list[str] = []  # the tests that a part gave something to the chunk
    if meta is not None:
        role = meta.field("role")
        code.line(f"_role = {role} if {meta.truthy()} and {meta.is_object()} and type({role}) is str and {role} "
                  "else None")  # (another type is no role: the message's role stays the assistant's)
        delta["role"] = "_role"
        given.append("_role is not None")
    if "text" in parts:
        text = parts["text"].local or "None"  # (an object is no str)
        code.line(f"_content = {text} if type({text}) is str else None")
        delta["content"] = "_content"
        given.append("_content is not None")
    details = False
    for key, build in (("reasoning", "text={v}"), ("reasoning_signature", "signature={v}"),
                       ("reasoning_redacted", "type='redacted_thinking', data={v}")):
        if key not in parts:
            continue
        value = parts[key].local or "None"  # (an object is no str)
        if not details:
            code.line("_details = None")
            delta["reasoning_details"] = "_details"
            given.append("_details is not None")
            details = True
        if key == "reasoning":
            code.line(f"_reasoning = {value} if type({value}) is str else None")
            delta["reasoning"] = "_reasoning"
            code.line(f"if _reasoning is not None: _details = [{code.bind(ReasoningDetail)}(text=_reasoning)]")
        else:
            code.line(f"if type({value}) is str: _details = [{code.bind(ReasoningDetail)}({build.format(v=value)})]")
    calls = False
    start = parts.get("tool_call_start")
    answers = code.bind(answer_tools) if answer_tools else None
    if start is not None:
        code.line("_calls = None")
        calls = True
        code.line(f"if {_and(start.is_object(), start.field('name'))}:")
        opening = (f"_calls = [st.start_call({start.field('index')}, {start.field('id')}, {start.field('name')}, "
                   f"{start.field('arguments')})]")
        if answers is not None:  # (an answer tool's block opens no call: its arguments are the text)
            code.line(f"    if type({start.field('name')}) is str and {start.field('name')} in {answers}: "
                      f"st.answer_blocks.add({start.field('index')})")
            code.line(f"    else: {opening}")
        else:
            code.line(f"    {opening}")
    args = parts.get("tool_call_args")
    if args is not None and answers is not None and "content" not in delta:
        code.line("_content = None")
        delta["content"] = "_content"
        given.append("_content is not None")
    if args is not None:
        if not calls:
            code.line("_calls = None")
            calls = True
        arguments, index = args.field("arguments"), args.field("index")
        code.line(f"if {_and(args.is_object(), arguments)}:")
        code.line(f"    _i = {index}")
        # a piece continues the call its block opened; one without a block index, or after calls opened
        # without indexes, the last call opened (the first: 0); any other opens nothing
        code.line("    _n = st.tool_index.get(_i)")
        if answers is not None:
            code.line(f"    if st.answer_blocks and _i in st.answer_blocks: _content = {code.bind(str)}({arguments})")
        code.line(f"    {'elif' if answers is not None else 'if'} _n is not None or _i is None or "
                  "(st.tool_index and not st.indexed_starts):")
        code.line("        if _n is None: _n = st.last_tool if st.last_tool > 0 else 0")
        code.line(f"        _d = {code.bind(ToolCallDelta)}(index=_n, function={code.bind(FunctionCallDelta)}"
                  f"(arguments={arguments} if type({arguments}) is str else {code.bind(call_text)}({arguments}, "
                  "'arguments')))")
        code.line(f"        _calls = {'[_d] if _calls is None else [*_calls, _d]' if start is not None else '[_d]'}")
    if calls:
        delta["tool_calls"] = "_calls"
        given.append("_calls is not None")
    reason = "None"
    if "finish" in parts:
        finish = _whole(parts["finish"], code)
        reason = "_finish"
        code.line("_finish = None")
        code.line(f"if {finish} is not None:")
        code.line(f"    _finish = st.finish.translate({finish}, st.has_calls)")
        code.line("    st.finished = True")
        given.append(f"{finish} is not None")
    extras = parts.get("extras")
    extras_field = ""
    if extras is not None:  # the provider fields this event carries (extras.py), empty values left out
        extras_field = ", extras=_x"
        if extras.fields is not None:
            code.line("_x = {}")
            for key, local in extras.fields.items():
                code.line(f"if {local} is not None and {local} != [] and {local} != {{}}: "
                          f"_x[{code.bind(key)}] = {local}")
            code.line("if not _x: _x = None")
        else:
            code.line(f"_x = {extras.local}")
            code.line("if _x: _x = {k: v for k, v in _x.items() if v is not None and v != [] and v != {}} or None "
                      "if type(_x) is dict else None")
            code.line("else: _x = None")
    if given:
        fields = ", ".join(f"{key}={local}" for key, local in delta.items())
        finish_field = f", finish_reason={reason}" if reason != "None" else ""
        code.line(f"if {' or '.join(given)}: out.append({code.bind(ChatCompletionChunk)}(id=st.id, model=st.model, "
                  f"choices=[{code.bind(ChunkChoice)}(delta={code.bind(ChoiceDelta)}({fields}){finish_field})]"
                  f"{extras_field}))")
    if extras is not None:
        code.line(f"{'elif' if given else 'if'} _x: out.append({code.bind(ChatCompletionChunk)}(id=st.id, "
                  "model=st.model, choices=[], extras=_x))")
    if "end" in parts:
        code.line(f"if {_whole(parts['end'], code)}: st.end(out)")


def _and(test: str, value: str) -> str:
    """`test and value`, without a test that is always true."""
    return value if test == "True" else f"{test} and {value}"


def _whole(value: _Value, code: FunctionBuilder) -> str:
    """A part's value as its template gives it: an object part's fields built into the object (fields that are
    None left out)."""
    if value.local is not None:
        return value.local
    local = code.temp()
    code.line(f"{local} = {{}}")
    for key, field in (value.fields or {}).items():
        code.line(f"if {field} is not None: {local}[{code.bind(key)}] = {field}")
    return local
