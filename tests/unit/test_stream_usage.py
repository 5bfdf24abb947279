"""A whole-response stream's usage (engine/stream_usage.py): each count is its value in the last block where it
was a number, whether the blocks are folded lazily (a usage map of references and sums) or on every block."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vllora_llm.engine.registry import load_plan
from vllora_llm.engine.stream import compile_stream
from vllora_llm.runtime.sse import SSEEvent

from ._reference import ReferenceWhole


def _event(usage: dict[str, Any] | None, finish: str | None = None) -> SSEEvent:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": "x"}]}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return SSEEvent("message", json.dumps({"candidates": [candidate], "usageMetadata": usage}))


STREAM = [
    _event({"promptTokenCount": 3, "thoughtsTokenCount": 5, "cachedContentTokenCount": 1}),
    _event({"promptTokenCount": 3, "thoughtsTokenCount": 6, "cachedContentTokenCount": 1}),  # replaces the first
    _event({"promptTokenCount": 3, "candidatesTokenCount": 2}),  # no thoughts, no cache: those stay
    _event(None),
    _event({"promptTokenCount": 3.0, "candidatesTokenCount": True, "totalTokenCount": "9"}),  # not ints
    _event({"promptTokenCount": 4, "candidatesTokenCount": 7, "totalTokenCount": 20}, finish="STOP"),
]


def _usage_chunk(decoder: Any) -> dict[str, Any]:
    chunks = [chunk for event in STREAM for chunk in decoder.feed(event)]
    assert chunks[-1].usage is not None and not chunks[-1].choices
    return chunks[-1].usage.to_dict()


def test_a_count_keeps_its_last_number_across_blocks_that_leave_it_out() -> None:
    decoder: Any = load_plan("gemini").stream_decoder()
    assert decoder.fold is not None  # (the shipped usage map is references and sums: folded lazily)
    usage = _usage_chunk(decoder)
    assert usage["prompt_tokens"] == 4 and usage["completion_tokens"] == 7 and usage["total_tokens"] == 20
    assert usage["prompt_tokens_details"]["cached_tokens"] == 1  # from the first blocks only
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 6  # the second block's, not the first's


NESTED = [  # (usage read from two roots, one of them two keys deep)
    SSEEvent("message", json.dumps({"candidates": [], "meter": {"in": {"n": 2}}, "usageMetadata": {"x": 1}})),
    SSEEvent("message", json.dumps({"candidates": [], "meter": {"in": {"n": 3.5}}})),
    SSEEvent("message", json.dumps({"candidates": [], "meter": {"in": None}, "usageMetadata": {"x": 4}})),
    SSEEvent("message", json.dumps({"candidates": [], "meter": [], "usageMetadata": {"x": "5"}})),
    _event({"promptTokenCount": 1}, finish="STOP"),
]


@pytest.mark.parametrize(("lazy", "nested"), [(True, False), (False, False), (True, True)])
def test_lazy_and_eager_folding_give_the_reference_counts_after_every_event(lazy: bool, nested: bool) -> None:
    plan = load_plan("gemini")
    response = dict(plan.spec["response"])
    if not lazy:  # a count computed by another transform: every block folded
        response["usage"] = {**response["usage"], "cached_tokens": {"$op": "coalesce", "in": [
            "$usageMetadata.cachedContentTokenCount", "$usageMetadata.promptTokenCount"]}}
    if nested:
        response["usage"] = {**response["usage"], "cached_tokens": "$meter.in.n",
                             "reasoning_tokens": {"$op": "sum", "in": ["$meter.in.n", "$usageMetadata.x"]}}
    decoder: Any = compile_stream(plan.spec["stream"], response, "gemini")()
    reference = ReferenceWhole(response, plan.spec["stream"], "gemini")
    assert (decoder.fold is not None) is lazy
    for event in [*STREAM, *NESTED] if nested else STREAM:
        assert decoder.feed(event) == reference.feed(event)
        assert decoder.usage == reference.usage
