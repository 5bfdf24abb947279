"""A natively served Responses stream never fails in an untyped way: arbitrary event JSON (the recorded events with
values swapped or keys dropped, known and unknown `type`s, junk) decodes into a typed event, an `OtherStreamEvent`,
or raises `StreamError`; never a KeyError, TypeError or a validation error of msgspec's own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vllora_llm.engine.errors import StreamError
from vllora_llm.engine.frames import Frame
from vllora_llm.engine.responses_native import KNOWN_TYPES, ResponsesEventDecoder
from vllora_llm.engine.responses_types import OtherStreamEvent

RECORDED = [json.loads(line[len("data: "):]) for line in (Path(__file__).resolve().parents[1] / "recordings" / "openai"
            / "responses_stream_function_call.sse").read_text().splitlines() if line.startswith("data: ")]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def events(draw: st.DrawFn) -> Any:
    base = dict(draw(st.sampled_from(RECORDED)))
    for key in draw(st.lists(st.sampled_from(sorted(base)), max_size=3)):
        if draw(st.booleans()):
            base.pop(key, None)
        else:
            base[key] = draw(values)
    if draw(st.booleans()):
        base["type"] = draw(st.sampled_from(sorted(KNOWN_TYPES)) | st.text(max_size=12))
    return draw(st.sampled_from([base, draw(values)]))


@SETTINGS
@given(payloads=st.lists(events(), min_size=1, max_size=6), raw=st.binary(max_size=30))
def test_every_event_is_typed_kept_or_a_stream_error(payloads: list[Any], raw: bytes) -> None:
    for payload in [*[json.dumps(p) for p in payloads], raw.decode("utf-8", "replace")]:
        decoder = ResponsesEventDecoder("openai")
        try:
            [event] = decoder.feed(Frame("message", payload)) or [None]
        except StreamError:
            continue
        if event is None:
            continue
        assert type(event).__name__ != "dict"
        if isinstance(event, OtherStreamEvent):
            assert event.type not in KNOWN_TYPES and event.to_dict() == json.loads(payload)
        else:
            assert event.type in KNOWN_TYPES and isinstance(event.sequence_number, int)


def test_a_stream_that_ends_before_its_terminal_event_is_truncated() -> None:
    decoder = ResponsesEventDecoder("openai")
    out: list[Any] = []
    decoder.feed_all([Frame("message", json.dumps(data)) for data in RECORDED[:-1]], out)
    assert len(out) == len(RECORDED) - 1
    try:
        decoder.close()
    except StreamError as err:
        assert "truncated" in str(err)
    else:
        raise AssertionError("a stream without response.completed must not end quietly")
    decoder.feed(Frame("message", json.dumps(RECORDED[-1])))
    assert decoder.close() == []
