"""Provider extras: provider-specific response fields a spec maps into `extras` (a dict) on the unified result.

Why: citations, search results, grounding metadata, billed units... have no place in the unified types, and a
caller who needs them should not have to re-parse the body. A spec declares them as `extras: {name: template}`
(`response.extras` over a response body, and over each event of a `whole_response` stream; `stream.extras` over
each event of a `passthrough` stream; an `extras` part in a handler of an `events` stream). Each mapping is
lowered once into one generated function (`read_extras`); a value that is None or empty is left out, and a
spec that declares none pays nothing (no function, no check per event beyond one `is None`).

A stream decoder runs its `read_extras` only on events that can hold one of the declared fields: the last key
of a declared path must occur in the event's JSON (`needles`, looked for with `in`) with a value that is not
empty (a regex, then the second decode); an extra whose path is JMESPath has no needle, and every event is read.
The aggregate of a stream merges the chunks' extras (`merge_extras`):
lists are concatenated, leaving out items already there (providers repeat the whole list on every event),
other values are replaced by the later one.

`extras="raw"` (a client option) keeps the whole provider body under `extras["raw"]` for debugging: the decoded
body of a response, each event's decoded payload on the chunk decoded from it (`RawExtrasDecoder`; an event that
gives no chunk comes on a chunk of its own with no choices), the list of them on a stream's aggregate.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, MutableSequence
from typing import Any

import msgspec

from .codegen import FunctionBuilder
from .frames import AnyFrame, name_of, payload_of
from .gateway import ChatCompletionChunk
from .paths import is_simple, split_path
from .stream_base import StreamDecoder
from .templates import lower_into
from .transforms import Context

RAW = "raw"
"""The extras key of the raw provider body (`extras="raw"`)."""

ReadExtras = Callable[[Any, Context], dict[str, Any] | None]


def lower_extras(fields: Mapping[str, Any], where: tuple[str | int, ...]) -> ReadExtras | None:
    """`extras: {name: template}` as one generated function `read_extras(item, ctx) -> dict | None`: each
    template evaluated in order, a value kept unless it is None or an empty list / object; None when nothing
    is kept. None (no function) when the spec declares no extras."""
    if not fields:
        return None
    code = FunctionBuilder(("item", "ctx"), "read_extras")
    function: ReadExtras = code.build(emit_extras(fields, where, code))
    return function


def emit_extras(fields: Mapping[str, Any], where: tuple[str | int, ...], code: FunctionBuilder) -> str:
    """Emit `lower_extras`'s lines into the generated function `code` (its item is `item`, its context `ctx`);
    return the expression of the extras (a dict, or None)."""
    out = code.temp()
    code.line(f"{out} = None")  # (a dict once a value is kept: most bodies hold none)
    for name, template in fields.items():
        emit_keep(code, out, str(name), lower_into(template, (*where, str(name)), code))
    return out


def emit_keep(code: FunctionBuilder, out: str, name: str, value: str) -> None:
    """The lines keeping the expression `value` as the extra `name` in the local `out` (a dict made by the first
    one kept) unless it is None, [] or {}: how every extras mapping keeps a value."""
    key = code.bind(name)
    code.line(f"_v = {value}")
    code.line("if _v is not None and (_v or not isinstance(_v, (list, dict))):")
    code.line(f"    if {out} is None: {out} = {{{key}: _v}}")
    code.line(f"    else: {out}[{key}] = _v")


def needles(fields: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The JSON text an event must contain for `read_extras` to find anything: the last key of each declared
    path, quoted as JSON writes it; None when a template reads something with no such key (JMESPath, `$`,
    a literal), so every event is read."""
    found: list[str] = []
    for template in fields.values():
        keys = _last_keys(template)
        if keys is None:
            return None
        found.extend(keys)
    return tuple(sorted(set(found)))


def _last_keys(template: Any) -> list[str] | None:
    if isinstance(template, str):
        if not template.startswith("$") or template.startswith("$$"):
            return []  # a literal: nothing to look for, nothing to find
        path = template[1:].lstrip(".")
        if not path or not is_simple(path):
            return None
        keys = [step for step in split_path(path) if isinstance(step, str)]
        return [msgspec.json.encode(keys[-1]).decode()] if keys else None
    if isinstance(template, dict):
        if "$op" in template:
            return _last_keys(template["in"]) if "in" in template else None
        if "$each" in template:
            return None
        values: Iterable[Any] = template.values()
    elif isinstance(template, list):
        values = template
    else:
        return []
    out: list[str] = []
    for value in values:
        found = _last_keys(value)
        if found is None:
            return None
        out.extend(found)
    return out


class _DroppingContext(Context):
    """The context of the extras templates, shared by every call: a warning there is not returned anywhere, so
    it is dropped (a list kept across calls would only grow)."""

    def warn(self, code: str, message: str, param: str | None = None) -> None:
        return None


class EventExtras:
    """A stream's extras mapping over each event's JSON (passthrough and whole-response streams)."""

    __slots__ = ("ctx", "first", "keys", "read", "worth_reading", "worth_reading_bytes")

    def __init__(self, fields: Mapping[str, Any], where: tuple[str | int, ...], provider: str) -> None:
        read = lower_extras(fields, where)
        assert read is not None  # (built only for a spec that declares extras)
        self.read = read
        keys = needles(fields)
        self.keys: tuple[str, ...] = ("",) if keys is None else keys
        """The quoted keys an event's text must hold for `of` to find anything (`("",)`: every event is read),
        looked for with `in` (a few tens of ns, where a regex search costs a few hundred): a decoder may test
        them itself before calling `of`; most events hold none of them."""
        self.first: str | None = self.keys[0] if len(self.keys) == 1 and self.keys[0] else None
        """The one key an SSE event's text must hold (a decoder tests `first in data` inline; None: call `of`)."""
        self.worth_reading = None if keys is None else re.compile(
            f"(?:{'|'.join(re.escape(key) for key in keys)})" + r"\s*:(?!\s*(?:\[\s*\]|\{\s*\}|null\b))")
        """Finds one of the declared keys holding a value that is not empty (an empty one is left out anyway):
        an event without such a key is not decoded again. None: every event is read."""
        self.worth_reading_bytes = None if self.worth_reading is None else re.compile(
            self.worth_reading.pattern.encode())
        """The same search over bytes (a response body, an event-stream payload): one pass of the regex's
        literal-prefix scan, without decoding the text first or looking for the keys with `in` (either costs
        about as much as the search itself)."""
        self.ctx = _DroppingContext(provider)

    def of(self, data: str | bytes) -> dict[str, Any] | None:
        """The extras of one event's JSON text, or None; the event is decoded again only when it may hold one."""
        worth_reading = self.worth_reading
        if worth_reading is not None:
            if not isinstance(data, str):
                if self.worth_reading_bytes is not None and self.worth_reading_bytes.search(data) is None:
                    return None
            else:  # (a stream's text: most events hold none of the keys, and `in` tells that fastest)
                for key in self.keys:
                    if key in data:
                        break
                else:
                    return None
                if worth_reading.search(data) is None:
                    return None
        try:
            payload = msgspec.json.decode(data)
        except msgspec.DecodeError:
            return None  # (the decoder reports a bad event; an extra never fails a stream)
        return self.read(payload, self.ctx)


def compile_event_extras(fields: Mapping[str, Any] | None, where: tuple[str | int, ...],
                         provider: str) -> EventExtras | None:
    return EventExtras(fields, where, provider) if fields else None


def attach(chunk: ChatCompletionChunk, extras: dict[str, Any]) -> None:
    chunk.extras = extras if chunk.extras is None else {**chunk.extras, **extras}


def merge_extras(into: dict[str, Any], extras: Mapping[str, Any]) -> None:
    """Fold one chunk's extras into an aggregate's: lists concatenated without repeating an item already there,
    the raw events gathered into a list, any other value replaced by the later one."""
    for key, value in extras.items():
        have = into.get(key)
        if key == RAW:
            into[key] = [*have, value] if isinstance(have, list) else [value]
        elif isinstance(value, list) and isinstance(have, list):
            into[key] = have + [item for item in value if item not in have]
        else:
            into[key] = list(value) if isinstance(value, list) else value


def _payload(frame: AnyFrame) -> Any:
    data = payload_of(frame)
    if not data:
        name = name_of(frame)
        return {"event": name} if name else None
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError:
        return data if isinstance(data, str) else data.decode("utf-8", "replace")


class RawExtrasDecoder(StreamDecoder):
    """A stream decoder that also puts each event's decoded payload on the chunk decoded from it, under
    `extras["raw"]` (`extras="raw"`, for debugging): frames are fed one at a time, and an event that gives no
    chunk comes on a chunk of its own with no choices."""

    def __init__(self, inner: StreamDecoder) -> None:
        self.inner = inner
        self.provider = inner.provider

    @property
    def warnings(self) -> list[Any]:
        return list(getattr(self.inner, "warnings", ()))

    def feed_all(self, frames: Iterable[AnyFrame], out: MutableSequence[ChatCompletionChunk]) -> None:
        for frame in frames:
            start = len(out)
            self.inner.feed_all((frame,), out)
            self.done = self.inner.done
            raw = _payload(frame)
            if raw is None:
                continue
            if len(out) > start:
                attach(out[start], {RAW: raw})
            else:
                out.append(ChatCompletionChunk(choices=[], extras={RAW: raw}))

    def close(self) -> list[ChatCompletionChunk]:
        closed = self.inner.close()
        self.done = self.inner.done
        return closed
