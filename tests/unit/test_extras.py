"""Extras as the engine compiles them (engine/extras.py): how a stream's aggregate merges them, which events are
read again, and that a spec declaring none pays nothing (no reader is built, no event is looked at)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from vllora_llm.engine.aggregate import aggregate
from vllora_llm.engine.extras import EventExtras, lower_extras, merge_extras
from vllora_llm.engine.frames import Frame
from vllora_llm.engine.gateway import ChatCompletionChunk
from vllora_llm.engine.plan import Plan
from vllora_llm.engine.registry import load_plan
from vllora_llm.engine.transforms import Context


def test_merge_concatenates_lists_without_repeats_and_keeps_the_last_other_value() -> None:
    into: dict[str, Any] = {}
    merge_extras(into, {"citations": ["a", "b"], "usage": {"n": 1}, "raw": {"e": 1}})
    merge_extras(into, {"citations": ["a", "b", "c"], "usage": {"n": 2}, "raw": {"e": 2}})
    assert into == {"citations": ["a", "b", "c"], "usage": {"n": 2}, "raw": [{"e": 1}, {"e": 2}]}


def test_the_aggregate_merges_chunk_extras() -> None:
    chunks = [ChatCompletionChunk(extras={"citations": [{"u": 1}]}), ChatCompletionChunk(),
              ChatCompletionChunk(extras={"citations": [{"u": 1}, {"u": 2}], "meta": "x"})]
    assert aggregate(chunks).extras == {"citations": [{"u": 1}, {"u": 2}], "meta": "x"}
    assert aggregate([ChatCompletionChunk()]).extras is None


def test_null_and_empty_values_are_left_out() -> None:
    read = lower_extras({"a": "$a", "b": "$b", "c": "$c", "d": "$d"}, ("response", "extras"))
    assert read is not None
    assert read({"a": [], "b": {}, "c": None, "d": 0}, Context()) == {"d": 0}
    assert read({}, Context()) is None


@pytest.mark.parametrize(("event", "read"), [
    ('{"choices":[{"delta":{"content":"x"}}]}', False),                 # no declared key
    ('{"choices":[{"delta":{"annotations": [ ]}}]}', False),            # the key, empty
    ('{"choices":[{"delta":{"annotations":null}}]}', False),
    ('{"choices":[{"delta":{"annotations":[{"type":"url_citation"}]}}]}', True),
    ('{"choices":[{"delta":{"annotations" :\t{"a":1}}}]}', True),
    ('{"annotations":[],"choices":[{"delta":{"annotations":[{"type":"url_citation"}]}}]}', True),  # (2nd place)
])
def test_an_event_is_decoded_again_only_when_it_can_hold_an_extra(event: str, read: bool) -> None:
    extras = EventExtras({"annotations": "$choices[0].delta.annotations"}, ("stream", "extras"), "p")
    assert (extras.worth_reading is not None and extras.worth_reading.search(event) is not None) is read
    assert (extras.of(event) is not None) is read
    assert (extras.of(event.encode()) is not None) is read  # (bytes: a body, an event-stream payload)


def test_a_jmespath_extra_reads_every_event() -> None:
    extras = EventExtras({"hits": "$content[?type=='hit']"}, ("stream", "extras"), "p")
    assert extras.worth_reading is None
    assert extras.of('{"content":[{"type":"hit","n":1},{"type":"miss"}]}') == {"hits": [{"type": "hit", "n": 1}]}


def _without_extras(name: str) -> Plan:
    spec = copy.deepcopy(dict(load_plan(name).spec))
    spec["response"].pop("extras", None)
    spec["stream"].pop("extras", None)
    return Plan(spec)


def test_a_spec_without_extras_builds_no_reader() -> None:
    plan = _without_extras("openai")
    decoder: Any = plan.stream_decoder()
    assert decoder.extras is None
    body = b'{"choices":[{"index":0,"message":{"role":"assistant","content":"x","annotations":[{"a":1}]}}]}'
    assert plan.decode(200, {}, body).extras is None
    assert load_plan("openai").decode(200, {}, body).extras == {"annotations": [{"a": 1}]}
    chunks = decoder.feed(Frame("", '{"choices":[{"index":0,"delta":{"annotations":[{"a":1}]}}]}'))
    assert chunks[0].extras is None
    assert load_plan("openai").stream_decoder().feed(  # the shipped spec declares it
        Frame("", '{"choices":[{"index":0,"delta":{"annotations":[{"a":1}]}}]}'))[0].extras == {
        "annotations": [{"a": 1}]}


def test_a_template_response_without_extras_reads_none() -> None:
    plan = _without_extras("gemini")
    body = b'{"candidates":[{"content":{"parts":[{"text":"a"}]},"groundingMetadata":{"q":1}}]}'
    assert plan.decode(200, {}, body).extras is None
    assert load_plan("gemini").decode(200, {}, body).extras == {"grounding_metadata": {"q": 1}}
