"""The Responses ↔ chat translation without I/O: input items to chat messages, bad items as typed errors naming
the item, the response store's bounds (count, bytes, age)."""

from __future__ import annotations

import pytest

from vllora_llm.client import InMemoryResponseStore
from vllora_llm.engine.responses_map import input_items, to_chat_request
from vllora_llm.error import InvalidRequestError, MappingError
from vllora_llm.types.responses import (
    CreateResponse,
    FunctionCallItem,
    OutputMessage,
    OutputText,
    ReasoningItem,
    SummaryText,
)


def chat(request: dict[str, object]) -> list[dict[str, object]]:
    coerced = CreateResponse.coerce(request)
    return [m.to_dict() for m in to_chat_request(coerced, input_items(coerced)).messages]


def test_items_become_one_assistant_turn_and_tool_results() -> None:
    earlier = [ReasoningItem(id="rs_1", summary=[SummaryText(text="think")], encrypted_content="sig"),
               OutputMessage(id="msg_1", content=[OutputText(text="Let me check.")]),
               FunctionCallItem(id="fc_1", call_id="call_1", name="f", arguments='{"a":1}'),
               FunctionCallItem(id="fc_2", call_id="call_2", name="g", arguments="{}")]
    messages = chat(CreateResponse(model="m", instructions="Be brief.", input=[
        {"role": "user", "content": [{"type": "input_text", "text": "hi"},
                                     {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "low"}]},
        *earlier,  # typed output items of an earlier Response, accepted as input items
        {"type": "function_call_output", "call_id": "call_1", "output": "one"},
        {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "two"}]},
    ]).to_dict())
    assert messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "hi"},
                                     {"type": "image_url", "image_url": {"url": "https://x.test/a.png",
                                                                         "detail": "low"}}]},
        {"role": "assistant", "content": "Let me check.", "reasoning": "think", "reasoning_details": [
            {"text": "think", "signature": "sig"}],  # type "thinking" is the default, omitted
         "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}},
                        {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "one"},
        {"role": "tool", "tool_call_id": "call_2", "content": "two"},
    ]


def test_request_fields_reach_the_chat_request() -> None:
    coerced = CreateResponse.coerce({
        "model": "m", "input": "hi", "max_output_tokens": 50, "temperature": 0.2, "top_p": 0.9,
        "tool_choice": {"type": "function", "name": "f"}, "parallel_tool_calls": False, "reasoning": {"effort": "low"},
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}],
        "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True}}})
    request = to_chat_request(coerced, input_items(coerced)).to_dict()
    assert request == {
        "model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 50, "temperature": 0.2,
        "top_p": 0.9, "response_format": {"type": "json_schema", "json_schema": {
            "name": "out", "schema": {"type": "object"}, "strict": True}},
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}, "strict": True}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}}, "parallel_tool_calls": False,
        "reasoning_effort": "low"}


@pytest.mark.parametrize(("request_", "error", "path"), [
    ({"model": "m", "input": [{"role": "robot", "content": "x"}]}, InvalidRequestError, "input[0].role"),
    ({"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, InvalidRequestError,
     "input[0].call_id"),
    ({"model": "m", "input": [{"type": "item_reference", "id": "x"}]}, MappingError, "input[0].type"),
    ({"model": "m", "input": [{"role": "user", "content": [{"type": "input_audio"}]}]}, MappingError,
     "input[0].content[0].type"),
    ({"model": "m", "input": "x", "tools": [{"type": "web_search"}]}, MappingError, "tools[0].type"),
    ({"model": "m", "input": "x", "text": {"format": {"type": "yaml"}}}, InvalidRequestError, "text.format.type"),
    ({"model": "m", "input": []}, InvalidRequestError, "input"),
    ({"model": "m", "input": "x", "temperature": 3}, InvalidRequestError, "temperature"),
    ({"model": "m", "input": "x", "colour": "red"}, InvalidRequestError, "colour"),
])
def test_bad_input_names_the_field(request_: dict[str, object], error: type[Exception], path: str) -> None:
    with pytest.raises(error) as info:
        chat(request_)
    assert type(info.value) is error and getattr(info.value, "path", None) == path


async def test_store_is_bounded_by_count_bytes_and_age() -> None:
    now = [0.0]
    store = InMemoryResponseStore(max_entries=2, max_bytes=200, ttl=10, clock=lambda: now[0])
    await store.put("a", [{"x": 1}])
    await store.put("b", [{"x": 2}])
    assert await store.get("a") == [{"x": 1}]  # now "b" is the least recently used
    await store.put("c", [{"x": 3}])
    assert (await store.get("b"), len(store)) == (None, 2)
    await store.put("big", [{"x": "y" * 300}])  # larger than the whole store: not kept
    assert await store.get("big") is None and await store.get("c") == [{"x": 3}]
    await store.put("d", [{"x": "y" * 150}])  # evicts by bytes
    assert store.size_bytes <= 200 and await store.get("a") is None
    now[0] = 11
    assert await store.get("d") is None and len(store) == 1
