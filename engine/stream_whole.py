"""`stream.mode: whole_response`: every event is a complete response, read with the response spec, as deltas.

The response spec (its choices, each choice's index, parts, kinds and finish reason, the id, the model, the
`blocked` check) and the stream's `error_when` are lowered into one generated function per spec,
`on_events(frames, st, out)` (`lower_whole_event`): for each frame (the loop is generated too, so an event
costs no Python call), its payload is decoded into its view Structs (views.py: only the fields the mappings
read, down to each content part), and its chunks are appended to `out`. Each kind's
template is evaluated inline on its part, and what it gives (`text`, `tool_call`, `reasoning`) is gathered into
the delta directly; `st` (the decoder) holds what lasts between events: the tool-call counts per choice, the
usage counts read so far (stream_usage.py), whether the finish reason came; the usage chunk is sent once the
finish reason came. The spec's extras (extras.py) are read from the event's views, or from its text when it may
hold one; a kind whose template renders nothing for a part is recorded for the "mapping yielded nothing"
warning (silent.py), and what the pieces gave is kept as bits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, MutableSequence
from itertools import count
from typing import Any

import msgspec

from .codegen import FunctionBuilder
from .errors import InvalidRequestError, StreamError
from .extras import EventExtras
from .frames import AnyFrame
from .gateway import (
    ChatCompletionChunk,
    ChoiceDelta,
    ChunkChoice,
    RequestWarning,
)
from .lower_response import (
    ExtraRead,
    kinds_declared,
    object_keys,
    parts_not_a_list,
    read_fields,
    read_path,
    step,
)
from .paths import plain_keys
from .response import build_usage
from .silent import SilentRules, part_names
from .stream_base import NOTHING, STRAY, StreamDecoder, json_of, malformed, stream_error
from .stream_usage import Fold, lower_usage_section
from .stream_whole_pieces import emit_piece
from .transforms import Context
from .views import EACH, Views, relative

OnEvents = Callable[[Iterable[AnyFrame], "WholeResponseDecoder", MutableSequence[ChatCompletionChunk]], None]


class WholeResponseDecoder(StreamDecoder):
    """Every event is a whole response, read by the spec's generated `on_events` (see the module docstring)."""

    def __init__(self, provider: str, decode: Callable[[str | bytes], Any], on_events: OnEvents, slots: int,
                 declared: Mapping[str, frozenset[str]] | None = None, fold: Fold | None = None) -> None:
        self.provider = provider
        self.decode = decode
        """An event's JSON → its view (views.py), or plain decoded data when the spec's paths allow no view."""
        self.on_events = on_events
        self.ctx = Context(provider)
        self.calls: defaultdict[int, count[int]] = defaultdict(count)
        """Per choice index with a tool call, the counter of its calls (`next` gives the next call's position
        within its choice: one C call, cheaper than reading and writing back an int in a dict)."""
        self.counts: dict[str, int] = {}
        """The usage counts folded so far (stream_usage.py; `usage` adds the block still pending)."""
        self.usage_read: Any = NOTHING  # the last usage block seen (the values at the usage map's root keys)
        self.fold = fold
        """The generated `fold_usage` when usage blocks are folded lazily (the last one pending), else None."""
        self.slots = slots
        self.usage_seen: list[Any] = [NOTHING] * slots
        """What each count computed by a transform read last (`lower_response.usage_lines`)."""
        self.spoke = 0
        """The part names the stream's pieces gave, as `silent.part_bit` bits (set by the generated code)."""
        self.silent = SilentRules(declared or {}, "response.kinds")
        """The part kinds whose template rendered nothing, and the pieces the stream gave (silent.py; the
        generated `on_events` records both)."""

    @property
    def usage(self) -> dict[str, int]:
        """The usage counts the stream gave so far (what its usage chunk will hold)."""
        if self.fold is None:
            return self.counts
        counts = dict(self.counts)
        self.fold(self.usage_read, self.ctx, counts, list(self.usage_seen))
        return counts

    @property
    def warnings(self) -> list[RequestWarning]:
        """A part kind whose template gave nothing for every part of that kind while the stream holds none of
        its pieces."""
        if not self.silent.counts:
            return []
        self.silent.spoken.update(part_names(self.spoke))
        return self.silent.warnings("part")

    def feed_all(self, frames: Iterable[AnyFrame], out: MutableSequence[ChatCompletionChunk]) -> None:
        self.on_events(frames, self, out)


def _blocked(reason: Any, raw: str | bytes, provider: str) -> InvalidRequestError:
    return InvalidRequestError(f"the prompt was blocked ({reason})", provider=provider, error_type=str(reason),
                               body=msgspec.json.decode(raw))


def _not_a_list(choices: Any, provider: str) -> StreamError:
    return StreamError(f"an event's choices are a {type(choices).__name__}, not a list: {str(choices)[:80]!r}",
                       provider=provider)


def _usage_chunk(st: WholeResponseDecoder) -> ChatCompletionChunk:
    """The usage chunk sent after the finish reason; the counts start again."""
    chunk = ChatCompletionChunk(choices=[], usage=build_usage(st.counts))
    st.counts = {}
    st.usage_read = NOTHING
    st.usage_seen = [NOTHING] * st.slots
    return chunk


def lower_whole_event(response_spec: Mapping[str, Any], stream_spec: Mapping[str, Any], provider: str,
                      usage_roots: tuple[str, ...] | None, usage: Mapping[str, Any],
                      translate: Callable[[Any, bool], str | None], views: Views,
                      extras: EventExtras | list[ExtraRead] | None = None,
                      decode: Callable[[str | bytes], Any] = msgspec.json.decode,
                      ) -> tuple[OnEvents, int, Fold | None]:
    """The generated `on_events(frames, st, out)` of a whole-response stream (see the module docstring): each
    frame's payload is decoded by `decode` (its JSON → its view) into `data`, its text kept in `raw`, and read by
    the event's lines; a blank payload (never JSON: told where its decoding failed) is skipped.
    `views`: the event's view types, keyed by key path from the event (empty: events are plain dicts).
    `extras`: the spec's extras (extras.py): read from the event's views when each is one path
    (`lower_response.extras_reads`), else from the event's text (`raw`) when it may hold one; an event with
    extras and no choices comes as a chunk with no choices. A kind whose template renders nothing for a
    part is recorded in `st.silent`, what the pieces gave in `st.spoke` (silent.py: gathered in a local).
    `usage`: the usage map, read into `st.counts` when the values at its root keys (`usage_roots`) changed
    (stream_usage.py). Also returns the size of `st.usage_seen` and the `fold_usage` of a lazily folded usage map."""
    choices_keys = plain_keys(str(response_spec["choices"])) if "choices" in response_spec else None
    each = (*(choices_keys or ()), EACH)
    parts_path = str(response_spec.get("parts", "content"))
    choice_views = relative(views, each) if choices_keys is not None else {}
    part_views = relative(views, (*each, *(plain_keys(parts_path) or ("?",)), EACH))
    code = FunctionBuilder(("frames", "st", "out"), "on_events", part_views)
    name = code.bind(provider)
    when = (response_spec.get("blocked") or {}).get("when")
    tops = [str(path) for path in (stream_spec.get("error_when"), response_spec.get("choices"), when,
                                   response_spec.get("id", "id"), response_spec.get("model", "model")) if path]
    first = read_fields(code, "data", views, [*tops, *(usage_roots or ())])
    error = read_path(code, "data", str(stream_spec["error_when"]), views, first) if "error_when" in stream_spec \
        else None
    if error is not None:
        code.line(f"if {error} is not None: raise {code.bind(stream_error)}({error}, {name})")
    if "choices" in response_spec:
        choices = read_path(code, "data", str(response_spec["choices"]), views, first)
    else:
        choices = code.temp()
        code.line(f"{choices} = [data]")
    if when:
        code.line(f"if not {choices}:")
        code.indent = "    "
        reason = read_path(code, "data", str(when), views, first)
        code.line(f"if {reason} is not None: raise {code.bind(_blocked)}({reason}, raw, {name})")
        code.indent = ""
        code.line(f"elif type({choices}) is not list: raise {code.bind(_not_a_list)}({choices}, {name})")
    else:
        code.line(f"if {choices} and type({choices}) is not list: raise {code.bind(_not_a_list)}({choices}, {name})")
    in_choice: list[ExtraRead] = []  # extras all read from one choice: read in the loop, with its fields
    if isinstance(extras, list) and len({index for _, _, index, _ in extras}) == 1 and extras[0][2] is not None:
        code.line("_x = None")
        in_choice = extras
    elif isinstance(extras, list):
        _read_extras(code, extras, choices, views, choice_views, first)
    elif extras is not None:
        code.line(f"_x = {code.bind(extras)}.of(raw)")
    reads_before = dict(code.reads)
    code.line(f"if {choices}:")
    code.indent = "    "
    _emit_choices(code, response_spec, choices, choice_views, part_views, translate, in_choice)
    ident = read_path(code, "data", str(response_spec.get("id", "id")), views, first)
    model = read_path(code, "data", str(response_spec.get("model", "model")), views, first)
    text = code.bind(str)
    # (`str` gives a str as it is: one call, cheaper than testing its type first)
    code.line(f"out.append({code.bind(ChatCompletionChunk)}("
              f"id=None if {ident} is None else {text}({ident}), "
              f"model=None if {model} is None else {text}({model}), choices=chosen"
              f"{', extras=_x' if extras is not None else ''}))")
    code.indent = ""
    if extras is not None:
        code.reads = dict(reads_before)  # (a local read in the branch above is not assigned in this one)
        code.line("elif _x:")
        code.indent = "    "
        ident = read_path(code, "data", str(response_spec.get("id", "id")), views, first)
        model = read_path(code, "data", str(response_spec.get("model", "model")), views, first)
        code.line(f"out.append({code.bind(ChatCompletionChunk)}("
                  f"id=None if {ident} is None else {text}({ident}), "
                  f"model=None if {model} is None else {text}({model}), choices=[], extras=_x))")
        code.indent = ""
        code.reads = dict(reads_before)
    slots, fold = lower_usage_section(code, usage, usage_roots, views, first, code.bind(_usage_chunk))
    # the event's lines (written for one event) go inside the frame loop; the parts the pieces gave are
    # gathered in a local, added to the decoder's once the frames are done (or one raised)
    code.lines = ["ctx = st.ctx",
                  "counted = st.calls",  # (the tool calls per choice index: the dict, never replaced)
                  "spoke = 0",
                  "frame = None",
                  "try:",
                  "    for frame in frames:",
                  "        raw = frame if type(frame) is str else frame.payload  # (frames.py: a str is its payload)",
                  "        try:",
                  f"            data = {code.bind(decode)}(raw)",
                  f"        except {code.bind(msgspec.DecodeError)}:",
                  # (a blank payload is no JSON: told here, where nothing decoded, instead of before every event)
                  "            if not raw or raw.isspace(): continue  # (what `raw.strip()` tells, without a copy)",
                  f"            {code.bind(json_of)}(raw, {name})  # raises the stream's error with a preview",
                  "            raise",
                  *(f"        {line}" for line in code.lines),
                  # (one except around the loop, none per event or field: an event whose fields have the wrong
                  # types is a StreamError naming it, stream_base.malformed, chained to the error reading it raised)
                  f"except {code.bind(STRAY)} as _e:",
                  f"    raise {code.bind(malformed)}(_e, frame, {name}) from _e",
                  "finally:",
                  "    st.spoke |= spoke"]
    function: OnEvents = code.build("None")
    return function, slots, fold


def _read_extras(code: FunctionBuilder, reads: list[ExtraRead], choices: str, views: Views, choice_views: Views,
                 first: Mapping[str, str]) -> None:
    """The lines setting `_x` to the event's extras read from its views (None, [] and {} left out; None when
    none is kept), as `extras.lower_extras` reads them from the event decoded again."""
    code.line("_x = None")
    picked: dict[int, tuple[str, dict[str, str]]] = {}
    for name, keys, index, rest in reads:
        if index is None:
            value = read_path(code, "data", ".".join(keys), views, first)
        else:
            if index not in picked:  # (the choice, and the first key of each extra read from it, once)
                holder = code.temp()
                code.line(f"{holder} = {choices}[{index}] if type({choices}) is list and len({choices}) > {index} "
                          "else None")
                picked[index] = holder, read_fields(code, holder, choice_views, [
                    ".".join(more) for _, _, at, more in reads if at == index])
            holder, fields = picked[index]
            value = read_path(code, holder, ".".join(rest), choice_views, fields)
        _keep_extra(code, name, value)


def _keep_extra(code: FunctionBuilder, name: str, value: str) -> None:
    code.line(f"if {value} is not None and {value} != [] and {value} != {{}}:")
    code.line("    if _x is None: _x = {}")
    code.line(f"    _x[{code.bind(name)}] = {value}")


def _emit_choices(code: FunctionBuilder, spec: Mapping[str, Any], choices: str, choice_views: Views,
                  part_views: Views, translate: Callable[[Any, bool], str | None], extras: list[ExtraRead]) -> None:
    """The lines turning the list `choices` into the list `chosen` of `ChunkChoice`s (at the current indent);
    `extras` (all read from the choice at one position) are kept into `_x` from the choice at that position."""
    outer = code.indent
    code.line("chosen = []")
    code.line("position = -1")  # (a counter: `enumerate` costs an object and a tuple per event, ~0.7k instructions)
    code.line(f"for choice in {choices}:")
    code.indent = outer + "    "
    code.line("position += 1")
    finish = dict(spec.get("finish_reason") or {"from": "finish_reason"})
    first = read_fields(code, "choice", choice_views, [str(path) for path in (
        spec.get("index"), spec.get("parts", "content"), finish["from"]) if path is not None]
        + [".".join(rest) for _, _, _, rest in extras])
    if extras:
        code.line(f"if position == {int(extras[0][2] or 0)}:")
        code.indent = outer + "        "
        for name, _, _, rest in extras:
            _keep_extra(code, name, _read_below(code, ".".join(rest), choice_views, first, absent=True))
        code.indent = outer + "    "
    index = read_path(code, "choice", str(spec["index"]), choice_views, first) if "index" in spec else None
    if index is None:
        index = "position"
    else:
        code.line(f"if type({index}) is not int: {index} = position")
    parts = _read_below(code, str(spec.get("parts", "content")), choice_views, first)
    code.line("content = reasoning = calls = details = None")
    code.line(f"if type({parts}) is not list and {parts}: {code.bind(parts_not_a_list)}({parts})")
    part_view = part_views.get(())
    part_type = code.bind(part_view[0]) if part_view is not None else "dict"
    code.line(f"for item in {parts} or ():")
    code.indent = outer + "        "
    kinds = {str(kind): template for kind, template in (spec.get("kinds") or {}).items()}
    declared = kinds_declared(spec)
    kind_by = dict(spec.get("kind_by") or {"field": "type"})
    if "field" in kind_by:
        kind = read_path(code, "item", str(kind_by["field"]), part_views)
        code.line(f"if {kind} is None: continue")
        code.line(f"if type({kind}) is not str: {kind} = str({kind})")
        tests: list[tuple[str, str, str | None, str | None]] = [
            (f"{kind} == {code.bind(name)}", name, None, None) for name in kinds]
    else:  # the first `present` key whose value is truthy names the kind
        code.line(f"if type(item) is not {part_type}: continue")
        if part_view is not None:
            code.known.add("item")
        objects = object_keys(spec)
        tests = [(present_test(code, str(key), objects.get(str(key)), part_views), str(kind),
                  None if str(key) in objects else str(key), str(key) if str(key) in objects else None)
                 for key, kind in kind_by.get("present", ())]
    for position, (test, kind_name, truthy, held) in enumerate(tests):
        code.line(f"{'if' if position == 0 else 'elif'} {test}:")
        code.indent = outer + "            "
        code.reads = {}  # (a local read in another branch is not assigned in this one)
        if held is not None and "_o := " in test:
            code.reads[(held,)] = "_o"  # (the object's test read it)
        if kind_name in kinds:
            emit_piece(code, kind_name, kinds[kind_name], index, bool(declared.get(kind_name)), truthy)
        else:
            code.line("pass")
        code.indent = outer + "        "
    code.reads = {}
    code.known.discard("item")
    code.indent = outer + "    "
    reason = read_path(code, "choice", str(finish["from"]), choice_views, first)
    code.line(f"if {reason} is not None:")
    code.line(f"    {reason} = {code.bind(translate)}({reason}, {index} in counted)")
    code.line(f"    if {reason} is not None: st.done = True")
    code.line(f"chosen.append({code.bind(ChunkChoice)}(delta={code.bind(ChoiceDelta)}(content=content, "
              f"tool_calls=calls, reasoning=reasoning, reasoning_details=details), index={index}, "
              f"finish_reason={reason}))")
    code.indent = outer


def _read_below(code: FunctionBuilder, path: str, views: Views, first: Mapping[str, str], absent: bool = False) -> str:
    """`read_path` of `path` from the choice, whose first keys are read into locals (`first`): the steps below
    such a local read from it directly (no copy into a new local first). `absent`: the value is usually
    absent (an extra), so each holder is tested for None before its type (one `is` test instead of a call)."""
    keys = plain_keys(path)
    if keys is None or len(keys) < 2 or keys[0] not in first:
        return read_path(code, "choice", path, views, first)
    holder, below, out = first[keys[0]], relative(views, (keys[0],)), code.temp()
    for depth, key in enumerate(keys[1:]):
        expression = step(code, holder, below, keys[1:1 + depth], key)
        code.line(f"{out} = None if {holder} is None else {expression}" if absent else f"{out} = {expression}")
        holder = out
    return out


def present_test(code: FunctionBuilder, key: str, held: tuple[str, ...] | None, part_views: Views) -> str:
    """The test that the part `item` (its view's type tested) holds the `present` key `key`: its value truthy,
    or, for a key read as an object (`held`: the keys read in it, `lower_response.object_keys`), an object
    holding one of them."""
    part = part_views.get(())
    value = f"item.{part[1][key]}" if part is not None else code.step("item", (), key)
    view = part_views.get((key,))
    if held is None or view is None:
        return value
    types = {field.name: field.type for field in msgspec.structs.fields(view[0])}
    raw = {name for name in held if types[view[1][name]] is msgspec.Raw}
    null = code.bind(msgspec.Raw(b"null")) if raw else ""
    tests = " or ".join([*(f"_o.{view[1][name]} is not None" for name in held if name not in raw),  # (cheaper first)
                         *(f"(_o.{view[1][name]} is not None and _o.{view[1][name]} != {null})"
                           for name in held if name in raw)])  # (JSON text kept undecoded: null is a Raw)
    # (an absent key, the usual case for every kind but one, is told by one `is` test before the type test)
    return f"((_o := {value}) is not None and (({tests}) if type(_o) is {code.bind(view[0])} else _o))"
