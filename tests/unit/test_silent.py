"""The run-time warning for a mapping that gives nothing (engine/silent.py), decoder by decoder: a rule that read
nothing from every payload it got is named, a rule that spoke at least once or declares nothing (`{}`) is not."""

from __future__ import annotations

import copy
import json
from typing import Any

from vllora_llm.engine.frames import Frame
from vllora_llm.engine.plan import Plan
from vllora_llm.engine.registry import load_plan


def _plan(name: str, change: Any) -> Plan:
    spec = copy.deepcopy(dict(load_plan(name).spec))
    change(spec)
    return Plan(spec)


def _feed(plan: Any, frames: list[Frame]) -> Any:
    decoder = plan.stream_decoder()
    for frame in frames:
        decoder.feed(frame)
    decoder.close()
    return decoder


def _sse(name: str, payload: dict[str, Any]) -> Frame:
    return Frame(name, json.dumps(payload))


ANTHROPIC = [
    _sse("message_start", {"type": "message_start", "message": {"id": "m", "model": "c", "role": "assistant"}}),
    _sse("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text",
                                                                                            "text": ""}}),
    _sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta",
                                                                                    "text": "Hi"}}),
    _sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta",
                                                                                    "text": " there"}}),
    _sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                           "usage": {"output_tokens": 2}}),
    _sse("message_stop", {"type": "message_stop"}),
]


def test_a_switch_case_that_read_nothing_is_named() -> None:
    def typo(spec: dict[str, Any]) -> None:
        spec["stream"]["events"]["content_block_delta"]["cases"]["text_delta"] = {"text": "$delta.txet"}

    decoder = _feed(_plan("anthropic", typo), ANTHROPIC)
    assert [(w.code, w.param) for w in decoder.warnings] == [
        ("mapping_yielded_nothing", "stream.events.content_block_delta.cases.text_delta")]
    assert "every event 'content_block_delta' (2 payloads)" in decoder.warnings[0].message
    assert _feed(load_plan("anthropic"), ANTHROPIC).warnings == []


def test_a_rule_that_spoke_once_is_not_named() -> None:
    frames = [*ANTHROPIC[:2], _sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                           "delta": {"type": "text_delta"}}), *ANTHROPIC[2:]]
    decoder = _feed(load_plan("anthropic"), frames)
    assert decoder.silent.counts  # (the payload without text was seen...)
    assert decoder.warnings == []  # (...but the rule gave text for the others)


def test_a_case_that_declares_nothing_is_never_named() -> None:
    frames = [
        Frame("messageStart", json.dumps({"role": "assistant"})),
        Frame("contentBlockStart", json.dumps({"contentBlockIndex": 0, "start": {"toolUse": {
            "type": "server_tool_use", "toolUseId": "t1", "name": "nova_grounding"}}})),
        Frame("messageStop", json.dumps({"stopReason": "end_turn"})),
        Frame("metadata", json.dumps({"usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}})),
    ]
    decoder = _feed(load_plan("bedrock"), frames)
    assert decoder.silent.counts == {} and decoder.warnings == []


def test_a_whole_response_stream_names_the_part_kind() -> None:
    def typo(spec: dict[str, Any]) -> None:
        spec["response"]["kinds"]["text"] = {"text": "$txt"}

    events = [{"candidates": [{"content": {"parts": [{"text": t}]}, "index": 0, **extra}]}
              for t, extra in (("Hel", {}), ("lo", {"finishReason": "STOP"}))]
    frames = [Frame("", json.dumps(event)) for event in events]
    decoder = _feed(_plan("gemini", typo), frames)
    assert [w.param for w in decoder.warnings] == ["response.kinds.text"]
    assert "every part 'text' (2 payloads)" in decoder.warnings[0].message
    assert _feed(load_plan("gemini"), frames).warnings == []
