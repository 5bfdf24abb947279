"""A typed request is validated by converting its plain data into the type's validator copy
(engine/validators.py): it must accept and reject exactly what converting into the type itself does, with the
same messages, on every request the conformance cases give and on random corruptions of them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from vllora_llm.engine.errors import InvalidRequestError
from vllora_llm.engine.gateway import ChatCompletionMessage, ChatCompletionRequest, TextPart
from vllora_llm.engine.mcp_types import McpToolFilter
from vllora_llm.engine.validators import validator_type

CASES = Path(__file__).resolve().parents[1] / "conformance" / "requests"


def _outcome(data: Any, target: type) -> tuple[str, str]:
    try:
        msgspec.convert(data, target)
    except msgspec.ValidationError as exc:
        return "rejected", str(exc)
    return "accepted", ""


def _requests() -> list[dict[str, Any]]:
    out = []
    for path in sorted(CASES.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            if isinstance(case, dict) and isinstance(case.get("given"), dict):
                out.append(case["given"])
    return out


REQUESTS = _requests()


def test_there_are_requests_to_compare() -> None:
    assert len(REQUESTS) > 100
    assert any(_outcome(r, ChatCompletionRequest)[0] == "rejected" for r in REQUESTS)  # bad ones too


@pytest.mark.parametrize("index", range(len(REQUESTS)))
def test_every_conformance_request_gets_the_same_answer(index: int) -> None:
    data = REQUESTS[index]
    assert _outcome(data, validator_type(ChatCompletionRequest)) == _outcome(data, ChatCompletionRequest)


JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 300) | st.floats(-3, 3) | st.sampled_from(
    ["", "x", "user", "text", "image_url", "function", "https://a.b/c.png", "auto", "enabled"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["type", "text", "role", "content", "url", "name", "function", "x"]), inner, max_size=3), max_leaves=8)


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _places(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _places(item, (*path, i))
    return out


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, 10_000), place=st.integers(0, 10_000), value=JSON, add=st.booleans())
def test_corrupted_requests_get_the_same_answer(index: int, place: int, value: Any, add: bool) -> None:
    data = copy.deepcopy(REQUESTS[index % len(REQUESTS)])
    path = (places := _places(data))[place % len(places)]
    if not path:
        return
    holder = data
    for step in path[:-1]:
        holder = holder[step]
    if add and isinstance(holder, dict):
        holder["x_" + str(path[-1])] = value  # an unknown field beside a known one
    else:
        holder[path[-1]] = value
    assert _outcome(data, validator_type(ChatCompletionRequest)) == _outcome(data, ChatCompletionRequest)


def test_a_hook_that_checks_is_kept_and_one_that_reshapes_is_not() -> None:
    assert "__post_init__" not in vars(validator_type(ChatCompletionMessage))
    assert "__post_init__" in vars(validator_type(McpToolFilter))
    bad = {"model": "m", "messages": [{"role": "user", "content": "x"}],
           "mcp_servers": [{"type": "http", "server_url": "http://127.0.0.1:1/mcp", "filter": [{"name": "("}]}]}
    assert _outcome(bad, validator_type(ChatCompletionRequest))[0] == "rejected"
    assert _outcome(bad, validator_type(ChatCompletionRequest)) == _outcome(bad, ChatCompletionRequest)


def test_a_typed_request_is_validated_with_the_field_path() -> None:
    request = ChatCompletionRequest(model="m", messages=[ChatCompletionMessage(role="user", content=[
        TextPart(text=3)])])  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match=r"messages\[0\]\.content\[0\]\.text: expected 'str', got 'int'"):
        request.validate()
    good = ChatCompletionRequest(model="m", messages=[ChatCompletionMessage.new_text("user", "hi")], max_tokens=5)
    assert good.validated_builtins() == {"model": "m", "messages": [{"role": "user", "content": "hi"}],
                                         "max_tokens": 5}


def test_a_typed_request_that_cannot_become_plain_data_is_a_typed_error() -> None:
    """Free-form JSON nested past the interpreter's limit, or a value with no plain form: validating converts the
    request to plain data first, and neither may end in a bare RecursionError or NotImplementedError."""
    deep: Any = 1
    for _ in range(5000):
        deep = {"a": deep}
    user = [ChatCompletionMessage.new_text("user", "hi")]
    with pytest.raises(InvalidRequestError, match=r"^extra_body: nested deeper than 100 levels"):
        ChatCompletionRequest(model="m", messages=user, extra_body=deep).validate()
    with pytest.raises(InvalidRequestError, match=r"^extra_body\.x: a value of type 'object' has no JSON form"):
        ChatCompletionRequest(model="m", messages=user, extra_body={"x": object()}).validate()


class Node(msgspec.Struct, kw_only=True):
    """A type that refers to itself, with a checking hook that calls a method of its class."""

    name: str
    children: list[Node] = []

    def _check(self) -> None:
        if not self.name:
            raise ValueError("a node needs a name")

    def __post_init__(self) -> None:
        self._check()


def test_a_kept_hook_may_call_the_class_s_methods_and_a_type_may_refer_to_itself() -> None:
    copy_ = validator_type(Node)
    assert msgspec.convert({"name": "a", "children": [{"name": "b"}]}, copy_).name == "a"
    for bad in ({"name": ""}, {"name": "a", "children": [{"name": ""}]}):
        assert _outcome(bad, copy_)[0] == "rejected"
        assert _outcome(bad, copy_) == _outcome(bad, Node)
