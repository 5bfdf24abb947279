"""Stream decoding never fails in an untyped way and never hangs: for every shipped spec, its framer and its
stream decoder fed arbitrary bytes, cut anywhere, either yield chunks or raise a `ProviderError` (a
`StreamError`, or the typed error a provider's in-stream error event maps to) - never a KeyError, a
TypeError or anything else. The framers alone are fuzzed in tests/runtime/test_sse.py and
test_eventstream.py; this adds each plan's decoder on top, with events shaped like the spec expects
(names and keys taken from the spec itself) and with real recordings, damaged."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vllora_llm.engine.errors import ProviderError
from vllora_llm.engine.plan import Plan
from vllora_llm.engine.registry import discover, load_plan
from vllora_llm.runtime.eventstream import encode_message
from vllora_llm.runtime.instance import FRAMERS
from vllora_llm.runtime.limits import Limits

CONFORMANCE = Path(__file__).resolve().parents[1] / "recordings"
NAMES = sorted(discover())


@functools.cache
def plan(name: str) -> Plan:
    return load_plan(name)


@functools.cache
def recordings(name: str) -> tuple[bytes, ...]:
    """Real streams of the plan's wire format (OpenAI-compatible specs share OpenAI's)."""
    suffix = ".eventstream" if plan(name).framing == "aws_event_stream" else ".sse"
    folder = CONFORMANCE / name
    if not any(folder.glob(f"*{suffix}")):
        folder = CONFORMANCE / "openai"
    return tuple(p.read_bytes() for p in sorted(folder.glob(f"*{suffix}"))[:12])


def vocabulary(spec: Any) -> list[str]:
    """Every key and string in the spec's `stream` and `response` sections, split at path separators."""
    words: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                words.update(w for w in re.split(r"[.\[\]$:{} ]+", str(key)) if w)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            words.update(w for w in re.split(r"[.\[\]$:{} ]+", value) if w)

    walk({"stream": spec.get("stream"), "response": spec.get("response")})
    return sorted(words | {"type", "error", "message", "delta", "index", "text", "choices", "content"})


def shaped_json(words: list[str]) -> st.SearchStrategy[Any]:
    word = st.sampled_from(words)
    scalar = st.none() | st.booleans() | st.integers(-3, 3) | word | st.text(max_size=5)
    return st.recursive(scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(word, inner, max_size=4),
                        max_leaves=12)


def split(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(raw) + 1) for c in cuts})
    return [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]


@st.composite
def wire_bytes(draw: st.DrawFn, name: str) -> bytes:
    """A stream for plan `name`: generated events shaped by its spec, or a recording; maybe damaged."""
    p = plan(name)
    words = vocabulary(p.spec)
    kinds = ["events"] + (["recording"] if recordings(name) else [])
    if draw(st.sampled_from(kinds)) == "recording":
        raw = bytearray(draw(st.sampled_from(recordings(name))))
    else:
        events = draw(st.lists(st.tuples(st.sampled_from(["", "message", "error", *words]),
                                         shaped_json(words) | st.sampled_from(["[DONE]", "{", "", "null"])),
                               min_size=1, max_size=8))
        raw = bytearray()
        for event, data in events:
            payload = data if isinstance(data, str) else json.dumps(data)
            if p.framing == "aws_event_stream":
                kind = draw(st.sampled_from(["event", "event", "exception", "error"]))
                headers = {":message-type": kind, ":content-type": "application/json",
                           (":event-type" if kind == "event" else ":exception-type"): event}
                raw += encode_message(headers, payload.encode())
            else:
                raw += (f"event: {event}\n" if event else "").encode() + b"data: " + payload.encode() + b"\n\n"
    damage = draw(st.sampled_from(["none", "none", "truncate", "flip", "garbage"]))
    if raw and damage == "truncate":
        del raw[draw(st.integers(0, len(raw) - 1)):]
    elif raw and damage == "flip":
        at = draw(st.integers(0, len(raw) - 1))
        raw[at] ^= 1 << draw(st.integers(0, 7))
    elif damage == "garbage":
        raw[draw(st.integers(0, len(raw))):0] = draw(st.binary(max_size=30))
    return bytes(raw)


def decode(p: Plan, pieces: list[bytes]) -> int:
    """Frame and decode `pieces` the way the runtime does; the number of chunks produced."""
    framer = FRAMERS[p.framing](p, Limits())  # the runtime's framer: frames normalised as the engine reads them
    decoder = p.stream_decoder()
    produced = 0
    for piece in pieces:
        for frame in framer.feed(piece):
            produced += len(decoder.feed(frame))
    for frame in framer.close():
        produced += len(decoder.feed(frame))
    produced += len(decoder.close())
    return produced


@pytest.mark.parametrize("name", NAMES)
def test_any_bytes_decode_or_raise_a_typed_error(name: str) -> None:
    @settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(raw=wire_bytes(name), cuts=st.lists(st.integers(min_value=0), max_size=12))
    def check(raw: bytes, cuts: list[int]) -> None:
        try:
            decode(plan(name), split(raw, cuts))
        except ProviderError:
            pass  # StreamError, or the typed error an in-stream error event maps to
        except Exception as exc:
            raise AssertionError(f"{name}: {exc!r} decoding {raw[:300]!r}") from exc

    check()


@pytest.mark.parametrize("name", NAMES)
def test_every_recording_decodes_the_same_at_any_split(name: str) -> None:
    p = plan(name)
    for raw in recordings(name):
        try:
            whole = decode(p, [raw])
        except ProviderError:
            continue  # a recording of an error stream
        assert decode(p, split(raw, list(range(0, len(raw), 7)))) == whole
