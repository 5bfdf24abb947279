"""`is_plain_request`: a simple request is checked without the typed copy, and only what the copy accepts is.

The check replaces msgspec's conversion for simple requests, so it is sound only if everything it accepts
converts (and converts to the same data). Random data checks that; the examples pin what takes each route.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllora_llm.engine.errors import InvalidRequestError
from vllora_llm.engine.plain_check import is_plain_request
from vllora_llm.types.gateway import ChatCompletionMessage, ChatCompletionRequest, FunctionDefinition, Tool

FIELDS = ["model", "messages", "max_tokens", "max_completion_tokens", "n", "temperature", "top_p", "presence_penalty",
          "frequency_penalty", "stop", "logprobs", "top_logprobs", "seed", "user", "prompt_cache_key",
          "reasoning_effort", "stream", "parallel_tool_calls", "tools", "logit_bias", "stream_options", "unknown"]
ROLES = ["system", "developer", "user", "assistant", "tool", "function", "robot", ""]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**65), max_value=2**65),
    st.integers(min_value=-3, max_value=300),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(min_value=-3, max_value=3), st.text(max_size=5),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=3), scalars, max_size=2))
near = st.one_of(st.integers(min_value=-3, max_value=300), st.floats(min_value=-2.5, max_value=2.5), st.booleans(),
                 st.sampled_from([math.nan, math.inf, 2**63 - 1, 2**63, -(2**63), 1.0, 0, 2]), st.text(max_size=3),
                 st.lists(st.one_of(st.text(max_size=2), st.integers()), max_size=2))
"""Values near the edges of what each field accepts (the interesting cases for the check)."""
text_message = st.fixed_dictionaries({"role": st.sampled_from(ROLES[:6]), "content": st.text(max_size=4)},
                                     optional={"name": st.text(max_size=3)})
message = st.one_of(
    text_message, text_message, text_message,
    st.fixed_dictionaries({"role": st.sampled_from(ROLES), "content": st.one_of(st.text(max_size=4), values)},
                          optional={"name": st.one_of(st.text(max_size=3), values)}),
    st.dictionaries(st.sampled_from(["role", "content", "name", "tool_calls", "refusal"]),
                    st.one_of(st.sampled_from(ROLES), values), max_size=4),
)
random_requests = st.dictionaries(st.sampled_from(FIELDS), st.one_of(near, values), max_size=4).flatmap(
    lambda rest: st.fixed_dictionaries({"model": st.one_of(st.text(max_size=4), values),
                                        "messages": st.lists(message, max_size=3)})
    .map(lambda head: {**rest, **head}))
counts = st.one_of(st.integers(min_value=-2, max_value=10), st.sampled_from([2**63 - 1, 2**63, True, 1.0]))
numbers = st.one_of(st.floats(min_value=-2.5, max_value=2.5), st.integers(min_value=-3, max_value=3),
                    st.sampled_from([math.nan, math.inf, -math.inf, 2**63, False, 2.0, 2.1, 1.0, 1.1, -2.0, -2.1,
                                     -0.1]))
texts = st.one_of(st.text(max_size=3), st.sampled_from([None, 1, b"x"]))
flags = st.one_of(st.booleans(), st.sampled_from([0, 1, None]))
integers = st.one_of(st.integers(min_value=-(2**64), max_value=2**64), st.sampled_from([2**63 - 1, -(2**63), 2**63]))
stops = st.one_of(st.text(max_size=2), st.lists(st.one_of(st.text(max_size=2), st.integers()), max_size=3))
by_field = {"max_tokens": counts, "max_completion_tokens": counts, "n": counts, "temperature": numbers,
            "top_p": numbers, "presence_penalty": numbers, "frequency_penalty": numbers, "stop": stops,
            "logprobs": flags, "top_logprobs": integers, "seed": integers, "user": texts, "prompt_cache_key": texts,
            "reasoning_effort": texts, "stream": flags, "parallel_tool_calls": flags}
shaped_requests = st.fixed_dictionaries(
    {"model": st.text(max_size=4), "messages": st.lists(message, max_size=3)},
    optional={name: strategy for name, strategy in by_field.items()})
"""Requests with the simple fields, each value near the edges of what the field accepts."""
requests = st.one_of(shaped_requests, random_requests)


@settings(max_examples=200, deadline=None)
@given(requests)
def test_what_the_check_accepts_the_conversion_accepts_unchanged(data: dict[str, Any]) -> None:
    if not is_plain_request(data):
        return
    typed = msgspec.convert(data, ChatCompletionRequest)  # raises if the check let through something invalid
    assert msgspec.to_builtins(typed, enc_hook=str) == data


EDGES = [None, True, False, 0, 1, 2, -1, -2, 3, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 0.0, 0.5, 1.0, 1.0000001, 2.0,
         2.0000001, -2.0, -2.0000001, -0.0000001, math.nan, math.inf, -math.inf, "", "x", b"x", ["a"], ["a", 1], [], {}]


@pytest.mark.parametrize("field", sorted(by_field))
def test_each_simple_field_at_its_edges(field: str) -> None:
    accepted = 0
    for value in EDGES:
        data = {"model": "m", "messages": [{"role": "user", "content": "hi"}], field: value}
        try:
            converts = msgspec.to_builtins(msgspec.convert(data, ChatCompletionRequest), enc_hook=str) == data
        except msgspec.ValidationError:
            converts = False
        if is_plain_request(data):
            assert converts, (field, value)
            accepted += 1
    assert accepted


PLAIN = ChatCompletionRequest(
    model="m", messages=[ChatCompletionMessage.new_text("system", "s"), ChatCompletionMessage(role="user", content="hi",
                                                                                               name="ann")],
    max_tokens=5, temperature=0, top_p=1.0, stop=["x"], seed=-1, stream=False, user="u",
)


def _conversions(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    seen: list[object] = []
    real = ChatCompletionRequest.from_dict.__func__  # type: ignore[attr-defined]

    def counting(cls: type[ChatCompletionRequest], data: Any) -> ChatCompletionRequest:
        seen.append(data)
        return real(cls, data)  # type: ignore[no-any-return]

    monkeypatch.setattr(ChatCompletionRequest, "from_dict", classmethod(counting))
    return seen


def test_a_simple_request_is_validated_without_the_typed_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _conversions(monkeypatch)
    assert PLAIN.validated_builtins() == PLAIN.to_dict()
    assert seen == []


@pytest.mark.parametrize(("change", "expected_path"), [
    ({"tools": [Tool(function=FunctionDefinition(name="f"))]}, None),  # valid, not simple: converted, no error
    ({"temperature": 2.5}, "temperature"),
    ({"temperature": math.nan}, "temperature"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": True}, "max_tokens"),
    ({"stop": ["a", 1]}, "stop[1]"),
])
def test_anything_else_takes_the_conversion(monkeypatch: pytest.MonkeyPatch, change: dict[str, Any],
                                            expected_path: str | None) -> None:
    seen = _conversions(monkeypatch)
    request = msgspec.structs.replace(PLAIN, **change)
    if expected_path is None:
        request.validated_builtins()
    else:
        with pytest.raises(InvalidRequestError) as info:
            request.validated_builtins()
        assert info.value.path == expected_path
    assert len(seen) == 1


def test_a_message_with_more_than_text_takes_the_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _conversions(monkeypatch)
    request = msgspec.structs.replace(PLAIN, messages=[ChatCompletionMessage(role="user", content=None)])
    request.validated_builtins()
    bad_role = msgspec.structs.replace(PLAIN, messages=[ChatCompletionMessage(role="robot", content="x")])  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="messages"):
        bad_role.validated_builtins()
    assert len(seen) == 2


def test_the_roles_checked_are_the_request_roles() -> None:
    from typing import get_args

    from vllora_llm.engine.gateway import Role
    from vllora_llm.engine.plain_check import _ROLES

    assert set(get_args(Role)) == _ROLES  # the check keeps its own copy (gateway imports it)
