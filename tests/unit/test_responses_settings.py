"""Every `CreateResponse` field has a declared fate on a translated provider, and none is dropped silently: sent
as a chat parameter (which the spec then judges), honoured by the library, or judged by the spec's
unsupported-parameter policy (a warning value; a `MappingError` under `policy: {unsupported: error}`). A field
added to `CreateResponse` without a row here fails the first test. Bad values are typed errors naming the field;
`include: ["message.output_text.logprobs"]` asks the chat API for logprobs and returns them as OpenAI does."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.responses import Response as SdkResponse
from openai.types.responses import ResponseStreamEvent as SdkEvent
from pydantic import TypeAdapter

from vllora_llm.engine.params import Policy
from vllora_llm.engine.responses_map import input_items, judge_unsent, response_shell, to_chat_request, to_response
from vllora_llm.engine.responses_stream import ResponseEventBuilder
from vllora_llm.error import InvalidRequestError, MappingError
from vllora_llm.types.gateway import ChatCompletionChunk, ChatCompletionMessageWithFinishReason
from vllora_llm.types.responses import CreateResponse

EVENTS: TypeAdapter[Any] = TypeAdapter(SdkEvent)
TOOL = {"type": "function", "name": "f", "parameters": {"type": "object"}}

# field → (a request fragment setting it, its fate): "chat:<param>" sent as that chat parameter, "library" honoured
# by the library itself, "echo" only echoed on the Response (as OpenAI does), "policy" judged by the spec's policy.
FATES: dict[str, tuple[dict[str, Any], str]] = {
    "model": ({"model": "m"}, "chat:model"),
    "input": ({"input": "hi"}, "chat:messages"),
    "instructions": ({"instructions": "Be brief."}, "chat:messages"),
    "tools": ({"tools": [TOOL]}, "chat:tools"),
    "tool_choice": ({"tools": [TOOL], "tool_choice": "required"}, "chat:tool_choice"),
    "parallel_tool_calls": ({"parallel_tool_calls": False}, "chat:parallel_tool_calls"),
    "max_output_tokens": ({"max_output_tokens": 5}, "chat:max_tokens"),
    "temperature": ({"temperature": 0.5}, "chat:temperature"),
    "top_p": ({"top_p": 0.5}, "chat:top_p"),
    "text": ({"text": {"format": {"type": "json_object"}}}, "chat:response_format"),
    "reasoning": ({"reasoning": {"effort": "low"}}, "chat:reasoning_effort"),
    "user": ({"user": "u-1"}, "chat:user"),
    "provider_specific": ({"provider_specific": {"top_k": 3}}, "chat:provider_specific"),
    "include": ({"include": ["message.output_text.logprobs"]}, "chat:logprobs"),
    "previous_response_id": ({"previous_response_id": "resp_1"}, "library"),  # the response store
    "store": ({"store": False}, "library"),
    "stream": ({"stream": True}, "library"),  # `create` or `create_stream` decides, as for chat
    "metadata": ({"metadata": {"k": "v"}}, "echo"),  # OpenAI keeps it with the response; no model sees it
    "truncation": ({"truncation": "auto"}, "policy"),
    # fields only a natively served Responses endpoint takes (CreateResponse.NATIVE_ONLY)
    "background": ({"background": True}, "policy"),
    "conversation": ({"conversation": "conv_1"}, "policy"),
    "max_tool_calls": ({"max_tool_calls": 2}, "policy"),
    "prompt": ({"prompt": {"id": "pmpt_1"}}, "policy"),
    "prompt_cache_key": ({"prompt_cache_key": "k"}, "policy"),
    "prompt_cache_retention": ({"prompt_cache_retention": "24h"}, "policy"),
    "safety_identifier": ({"safety_identifier": "s"}, "policy"),
    "service_tier": ({"service_tier": "flex"}, "policy"),
    "stream_options": ({"stream_options": {"include_obfuscation": False}}, "policy"),
    "top_logprobs": ({"top_logprobs": 2}, "policy"),
    "extra_body": ({"extra_body": {"x": 1}}, "policy"),
}
UNSENT = [  # the settings judged by the policy, one request each
    ({"truncation": "auto"}, "truncation"),
    ({"reasoning": {"summary": "detailed"}}, "reasoning.summary"),
    ({"reasoning": {"effort": "low", "summary": "concise"}}, "reasoning.summary"),
    ({"text": {"verbosity": "low"}}, "text.verbosity"),
    *((fragment, field) for field, (fragment, fate) in FATES.items() if fate == "policy" and field != "truncation"),
]


def request_with(fragment: dict[str, Any]) -> CreateResponse:
    return CreateResponse.coerce({"model": "m", "input": "hi", **fragment})


def test_every_field_has_a_declared_fate() -> None:
    assert set(FATES) == set(CreateResponse.__struct_fields__)


@pytest.mark.parametrize("field", [f for f, (_, fate) in FATES.items() if fate.startswith("chat:")])
def test_sent_fields_reach_the_chat_request(field: str) -> None:
    fragment, fate = FATES[field]
    request = request_with(fragment)
    chat = to_chat_request(request, input_items(request)).to_dict()
    assert fate.removeprefix("chat:") in chat
    assert judge_unsent(request, Policy("p", "error")) == []  # nothing for the policy to judge


@pytest.mark.parametrize("field", ["metadata", "previous_response_id", "store", "stream"])
def test_library_fields_send_nothing_and_warn_nothing(field: str) -> None:
    request = request_with(FATES[field][0])
    assert to_chat_request(request, input_items(request)).to_dict() == {
        "model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert judge_unsent(request, Policy("p", "error")) == []


@pytest.mark.parametrize(("fragment", "field"), UNSENT, ids=[f"{field}-{i}" for i, (_, field) in enumerate(UNSENT)])
def test_unsent_settings_follow_the_policy(fragment: dict[str, Any], field: str) -> None:
    request = request_with(fragment)
    for action in ("warn", "drop"):
        warnings = judge_unsent(request, Policy("acme", action))
        assert [(w.code, w.param) for w in warnings] == [("unsupported_parameter", field)]
        assert "not expressible in a chat request" in warnings[0].message and "not sent" in warnings[0].message
    with pytest.raises(MappingError, match=field) as raised:
        judge_unsent(request, Policy("acme", "error"))
    assert raised.value.path == field


def test_honoured_values_are_not_judged() -> None:
    request = request_with({"truncation": "disabled", "reasoning": {"summary": "auto"},
                            "include": ["reasoning.encrypted_content", "web_search_call.results"]})
    assert judge_unsent(request, Policy("acme", "error")) == []
    assert "logprobs" not in to_chat_request(request, input_items(request)).to_dict()
    assert response_shell(request_with({"truncation": "auto"}), "resp_1", 1.0).truncation == "disabled"


@pytest.mark.parametrize(("fragment", "path"), [
    ({"truncation": "sometimes"}, "truncation"),
    ({"reasoning": {"summary": "long"}}, "reasoning.summary"),
    ({"text": {"verbosity": "loud"}}, "text.verbosity"),
    ({"include": ["reasoning.encrypted_content", "everything"]}, "include[1]"),
])
def test_bad_values_name_the_field(fragment: dict[str, Any], path: str) -> None:
    request = request_with(fragment)
    with pytest.raises(InvalidRequestError, match=path.replace("[", r"\[")) as raised:
        judge_unsent(request, Policy("p", "warn"))
    assert raised.value.path == path


CHAT_LOGPROBS = {"content": [
    {"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": [{"token": "Hi", "logprob": -0.1}]},
    {"token": "!", "logprob": -0.5, "top_logprobs": []}]}


def test_logprobs_come_back_on_output_text() -> None:
    request = request_with({"include": ["message.output_text.logprobs"]})
    result = ChatCompletionMessageWithFinishReason.from_dict({"id": "c", "model": "m", "choices": [
        {"index": 0, "finish_reason": "stop", "logprobs": CHAT_LOGPROBS,
         "message": {"role": "assistant", "content": "Hi!"}}]})
    response = to_response(request, result, "resp_1", 1.0)
    SdkResponse.model_validate(response.to_dict())
    logprobs = response.output[0].content[0].logprobs  # type: ignore[union-attr]
    assert [(e["token"], e["bytes"], e["logprob"]) for e in logprobs] == [("Hi", [72, 105], -0.1), ("!", [33], -0.5)]
    assert logprobs[0]["top_logprobs"] == [{"token": "Hi", "bytes": [72, 105], "logprob": -0.1}]


def test_streamed_logprobs_on_deltas_and_the_done_part() -> None:
    builder = ResponseEventBuilder(response_shell(request_with({}), "resp_1", 1.0))
    builder.start()
    for text, entry in (("Hi", CHAT_LOGPROBS["content"][0]), ("!", CHAT_LOGPROBS["content"][1])):
        builder.feed(ChatCompletionChunk.from_dict({
            "id": "c", "created": 1, "model": "m", "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": text}, "logprobs": {"content": [entry]}}]}))
    builder.finish()
    events = list(builder.out)
    for event in events:
        EVENTS.validate_python(event.to_dict())
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert [[lp["token"] for lp in e.logprobs] for e in deltas] == [["Hi"], ["!"]]
    done = next(e for e in events if e.type == "response.output_text.done")
    assert [lp["token"] for lp in done.logprobs] == ["Hi", "!"]
    assert [lp["token"] for lp in builder.response.output[0].content[0].logprobs] == ["Hi", "!"]  # type: ignore[union-attr]
