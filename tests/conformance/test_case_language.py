"""The case language checks what it claims: a wrong expectation fails, a typo in a case file is an error.

Without these, a comparison helper that compared nothing would let every conformance case pass.
"""

from __future__ import annotations

from typing import Any

import pytest

from vllora_llm.engine.errors import InvalidRequestError, MappingError
from vllora_llm.engine.gateway import ChatCompletionMessageWithFinishReason, RequestWarning
from vllora_llm.engine.wire import WireRequest
from vllora_llm.tools.protocol_tests import (
    Case,
    check_error,
    check_keys,
    check_result,
    check_warnings,
    check_wire,
    stream_frames,
)


def case(kind: str = "responses", provider: str = "openai", **data: Any) -> Case:
    return Case(f"{provider}:x", provider, kind, f"{kind}/test.yaml:1", {"id": "x", **data})


RESULT = ChatCompletionMessageWithFinishReason.from_dict({
    "id": "r1",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "Hello",
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}],
    }}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7,
              "prompt_tokens_details": {"cached_tokens": 2}},
})


def test_matching_expectations_pass() -> None:
    check_result(RESULT, {
        "id": "r1", "choices": 1, "finish_reason": "tool_calls", "text": "Hello",
        "tool_calls": [{"id": "c1", "name": "f", "arguments": {"a": 1}}],
        "usage": {"prompt_tokens": 3, "cached_tokens": 2, "reasoning_tokens": None},
    }, case())


@pytest.mark.parametrize("expect", [
    pytest.param({"text": "Hello!"}, id="text"),
    pytest.param({"message": {"content": None}}, id="content_null"),
    pytest.param({"text": {"length": 5, "sha256": "0" * 64}}, id="text_sha256"),
    pytest.param({"finish_reason": "stop"}, id="finish_reason"),
    pytest.param({"choices": 2}, id="choice_count"),
    pytest.param({"tool_calls": [{"name": "f", "arguments": {"a": 2}}]}, id="arguments_json"),
    pytest.param({"tool_calls": [{"name": "f", "arguments": '{"a":1}'}]}, id="arguments_exact_string"),
    pytest.param({"tool_calls": []}, id="no_tool_calls"),
    pytest.param({"usage": {"total_tokens": 8}}, id="usage"),
    pytest.param({"usage": None}, id="usage_null"),
    pytest.param({"refusal": "no"}, id="refusal"),
])
def test_a_wrong_expectation_fails(expect: dict[str, Any]) -> None:
    with pytest.raises(AssertionError):
        check_result(RESULT, expect, case())


WIRE = WireRequest("POST", "https://x/v1/chat/completions", {"Content-Type": "application/json"}, b'{"a": 1, "b": [1]}')


def test_wire_checks() -> None:
    check_wire(WIRE, {"method": "POST", "url_endswith": "/chat/completions", "headers": {"content-type":
               "application/json"}, "body": {"a": 1, "b": [1]}, "body_subset": {"b": [1]}}, case("requests"))
    for wrong in ({"body": {"a": 1}}, {"body_subset": {"c": 1}}, {"url": "https://x"}, {"headers": {"x": "y"}}):
        with pytest.raises(AssertionError):
            check_wire(WIRE, wrong, case("requests"))


def test_warnings_are_an_exact_list() -> None:
    warnings = [RequestWarning(code="unsupported_parameter", message="n is not supported", param="n")]
    check_warnings(warnings, [{"param": "n", "code": "unsupported_parameter", "message_contains": "n is"}], case())
    for wrong in ([], ["n", "seed"], ["seed"], [{"param": "n", "code": "clamped_parameter"}]):
        with pytest.raises(AssertionError):
            check_warnings(warnings, wrong, case())


def test_error_class_is_exact() -> None:
    error = MappingError("n: not supported", path="n")
    check_error(error, {"class": "MappingError", "path": "n", "message_contains": "not supported"}, case())
    with pytest.raises(AssertionError):
        check_error(error, {"class": "InvalidRequestError"}, case())
    with pytest.raises(AssertionError):
        check_error(InvalidRequestError("x", status=400), {"class": "InvalidRequestError", "status": 404}, case())


@pytest.mark.parametrize("data", [
    pytest.param({"recording": "a.json", "expect": {}, "expectt": {}}, id="unknown_case_key"),
    pytest.param({"recording": "a.json", "expect": {"txt": "x"}}, id="unknown_expect_key"),
    pytest.param({"recording": "a.json"}, id="neither_expect_nor_expect_error"),
    pytest.param({"recording": "a.json", "body": "{}", "expect": {}}, id="recording_and_body"),
])
def test_a_malformed_case_is_rejected(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"responses/test\.yaml:1"):
        check_keys(case(**data))


def test_chunks_jsonl_gets_done_only_when_asked() -> None:
    body = '{"choices":[]}\n{"choices":[]}\n'
    plain = stream_frames(case("streams", body=body, framing="chunks_jsonl"))
    done = stream_frames(case("streams", body=body, framing="chunks_jsonl", append_done=True))
    assert [f.data for f in plain] == ['{"choices":[]}', '{"choices":[]}']
    assert [f.data for f in done] == ['{"choices":[]}', '{"choices":[]}', "[DONE]"]
    assert all(f.event == "message" for f in done)
    cut = stream_frames(case("streams", body=body, framing="chunks_jsonl", append_done=True, truncate_last_events=1))
    assert [f.data for f in cut] == ['{"choices":[]}', '{"choices":[]}']
