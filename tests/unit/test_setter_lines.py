"""`paths.setter_lines` (a one-key store written inline in generated code) stores what `compile_setter` stores."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from vllora_llm.engine.codegen import FunctionBuilder
from vllora_llm.engine.paths import compile_setter, setter_lines

_BODIES: list[dict[str, Any]] = [{}, {"k": {"a": 1, "b": {"c": 2}}}, {"k": [1]}, {"k": "x"}, {"other": 1}]
_VALUES: list[Any] = [[1, 2], [], {"b": {"d": 3}}, {}, "text", None, 0]


def _inline(path: str, a_list: bool) -> Any:
    code = FunctionBuilder(("body", "value"), "store")
    for text in setter_lines(path, "value", code.bind, a_list=a_list):
        code.line(text)
    return code.build("body")


@pytest.mark.parametrize("path", ["k", "k.inner", "other.k"])
@pytest.mark.parametrize("value", _VALUES)
def test_setter_lines_store_as_the_setter(path: str, value: Any) -> None:
    setter = compile_setter(path)
    for body in _BODIES:
        want = copy.deepcopy(body)
        setter(want, copy.deepcopy(value))
        got = _inline(path, False)(copy.deepcopy(body), copy.deepcopy(value))
        assert got == want
        if isinstance(value, list):
            assert _inline(path, True)(copy.deepcopy(body), copy.deepcopy(value)) == want


def test_one_key_is_stored_without_a_call() -> None:
    lines = setter_lines("messages", "sent", FunctionBuilder(("body",)).bind, a_list=True)
    assert lines == ["body[_b1] = sent"]
