"""Any `CreateResponse` (input items of every kind, typed output items given back, settings with valid and invalid
values) through the public `client.responses().create()` on the offline instance: a `Response` that validates as
the official openai SDK's, whose warnings name every setting no chat request can carry, or a typed `LLMError`
naming the field; never a bare exception. Budgeted: few examples, each with a deadline."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openai.types.responses import Response as SdkResponse

from vllora_llm.client import DummyModelInstance, VlloraLLMClient
from vllora_llm.error import LLMError
from vllora_llm.types.responses import FunctionCallItem, OutputMessage, OutputText, ReasoningItem, SummaryText

TEXT = st.text(max_size=6)
PART = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["input_text", "output_text", "text"]), "text": TEXT}),
    st.fixed_dictionaries({"type": st.just("input_image"),
                           "image_url": st.sampled_from(["https://x.test/a.png", 7])}),
    st.fixed_dictionaries({"type": st.just("input_image"), "file_id": st.just("file_1")}),
    st.fixed_dictionaries({"type": st.just("input_file"), "file_id": st.just("file_1"), "filename": TEXT}),
    st.fixed_dictionaries({"type": st.just("refusal"), "refusal": TEXT}),
    st.fixed_dictionaries({"type": st.sampled_from(["input_audio", None])}),
    st.just("not a part"),
)
ITEM = st.one_of(
    st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "developer", "assistant", "tool"]),
                           "content": st.one_of(TEXT, st.lists(PART, max_size=3), st.none())},
                          optional={"type": st.just("message")}),
    st.fixed_dictionaries({"type": st.just("function_call"), "call_id": st.sampled_from(["call_a", "call_b", 3]),
                           "name": st.just("f"), "arguments": st.sampled_from(["{}", '{"a": 1}'])}),
    st.fixed_dictionaries({"type": st.just("function_call_output"), "call_id": st.sampled_from(["call_a", "call_b"]),
                           "output": st.one_of(TEXT, st.lists(PART, max_size=2))}),
    st.builds(lambda text, sig: ReasoningItem(id="rs_1", summary=[SummaryText(text=text)], encrypted_content=sig),
              TEXT, st.one_of(st.none(), TEXT)),
    st.builds(lambda text: OutputMessage(id="msg_1", content=[OutputText(text=text)]), TEXT),
    st.builds(lambda args: FunctionCallItem(id="fc_1", call_id="call_a", name="f", arguments=args),
              st.sampled_from(["{}", '{"x": 2}'])),
    st.fixed_dictionaries({"type": st.sampled_from(["item_reference", "web_search_call", "computer_call"]),
                           "id": st.just("x")}),
    st.integers(),
)
SETTINGS = st.fixed_dictionaries({}, optional={
    "truncation": st.sampled_from(["auto", "disabled", "sometimes"]),
    "reasoning": st.fixed_dictionaries({}, optional={"effort": st.sampled_from(["low", "high"]),
                                                     "summary": st.sampled_from(["auto", "concise", "detailed", "x"])}),
    "text": st.fixed_dictionaries({}, optional={"verbosity": st.sampled_from(["low", "loud"]),
                                                "format": st.sampled_from([{"type": "text"}, {"type": "json_object"},
                                                                           {"type": "xml"}])}),
    "include": st.lists(st.sampled_from(["reasoning.encrypted_content", "message.output_text.logprobs", "all"]),
                        max_size=2),
    "tools": st.lists(st.sampled_from([{"type": "function", "name": "f"}, {"type": "web_search"},
                                       {"type": "function"}]), max_size=2),
    "tool_choice": st.sampled_from(["auto", "none", "required", {"type": "function", "name": "f"},
                                    {"type": "file_search"}]),
    "max_output_tokens": st.sampled_from([1, 64, 0]),
    "temperature": st.sampled_from([0.0, 1.5, 9.0]),
    "store": st.booleans(),
    "metadata": st.sampled_from([{"k": "v"}, {"k": 1}]),
})


def unsent_of(request: dict[str, Any]) -> set[str]:
    names = set()
    if request.get("truncation") == "auto":
        names.add("truncation")
    if (request.get("reasoning") or {}).get("summary") in ("concise", "detailed"):
        names.add("reasoning.summary")
    if (request.get("text") or {}).get("verbosity") is not None:
        names.add("text.verbosity")
    return names


@settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(TEXT, st.lists(ITEM, max_size=6)), st.one_of(st.none(), TEXT), SETTINGS)
def test_any_request_is_a_valid_response_or_a_typed_error(items: Any, instructions: str | None,
                                                         extra: dict[str, Any]) -> None:
    request = {"model": "m", "input": items, "instructions": instructions, **extra}
    client = VlloraLLMClient.new_with_instance(DummyModelInstance("ok"))
    try:
        response = asyncio.run(client.responses().create(request))
    except LLMError as err:
        event(f"error {type(err).__name__}")
        assert getattr(err, "path", None) or "input" in str(err), err  # a typed error naming where
        return
    event("response")
    SdkResponse.model_validate(response.to_dict())
    assert response.output_text == "ok" and response.status == "completed"
    assert unsent_of(request) <= {warning.param for warning in response.warnings}
