"""Any sequence of Responses input items translates to a valid chat request or a typed error, and no call or
call result is lost: every `function_call` is a tool call with its `call_id`, every output a tool message."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from vllora_llm.engine.responses_map import input_items, to_chat_request
from vllora_llm.error import LLMError
from vllora_llm.types.responses import CreateResponse

TEXT = st.text(max_size=8)
IDS = st.sampled_from(["call_a", "call_b", "call_c"])
ITEM = st.one_of(
    st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "developer", "assistant", "robot"]),
                           "content": st.one_of(TEXT, st.lists(st.fixed_dictionaries(
                               {"type": st.sampled_from(["input_text", "output_text", "input_audio"]),
                                "text": TEXT}), max_size=2))}),
    st.fixed_dictionaries({"type": st.just("function_call"), "call_id": IDS, "name": st.just("f"),
                           "arguments": st.just("{}")}),
    st.fixed_dictionaries({"type": st.just("function_call_output"), "call_id": IDS, "output": TEXT}),
    st.fixed_dictionaries({"type": st.just("reasoning"), "id": st.just("rs_1"),
                           "summary": st.lists(st.fixed_dictionaries({"type": st.just("summary_text"),
                                                                      "text": TEXT}), max_size=2),
                           "encrypted_content": st.one_of(st.none(), TEXT)}),
    st.fixed_dictionaries({"type": st.sampled_from(["item_reference", "web_search_call"]), "id": st.just("x")}),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(ITEM, max_size=8), st.one_of(st.none(), TEXT))
def test_items_translate_or_fail_typed(items: list[dict[str, Any]], instructions: str | None) -> None:
    try:
        request = CreateResponse.coerce({"model": "m", "input": items, "instructions": instructions})
        chat = to_chat_request(request, input_items(request))
    except LLMError as err:
        assert getattr(err, "path", None), err  # a typed error naming where
        return
    calls = [call.id for m in chat.messages for call in m.tool_calls or ()]
    assert calls == [item["call_id"] for item in items if item.get("type") == "function_call"]
    results = [m.tool_call_id for m in chat.messages if m.role == "tool"]
    assert results == [item["call_id"] for item in items if item.get("type") == "function_call_output"]
    assert all(m.role != "assistant" or m.content is not None or m.tool_calls for m in chat.messages)
