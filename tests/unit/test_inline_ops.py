"""Inline forms (engine/inline.py): a transform lowered into the template's lines gives what its call gives.

Each case evaluates a template calling the transform through the generated function (inline form) and calls
the transform's own closure on the value the template's `in` builds; results and errors must match."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllora_llm.engine.codegen import collect
from vllora_llm.engine.errors import LLMError
from vllora_llm.engine.inline import INLINE
from vllora_llm.engine.templates import compile_template
from vllora_llm.engine.transforms import Context, bind

_COUNTS = st.one_of(st.none(), st.integers(-10**20, 10**20), st.floats(allow_nan=False), st.booleans(),
                    st.text(max_size=3), st.lists(st.integers(), max_size=2))


def _source(template: Any) -> str:
    with collect() as built:
        compile_template(template)({}, Context("test"))
    return "".join(source.split("\n", 1)[1] for _, source, _ in built)  # (the bodies)


def test_the_inline_forms_are_what_the_generated_code_runs() -> None:
    assert {"sum", "omit_empty", "require", "fill_defaults"} <= set(INLINE)
    assert ", ctx)" not in _source({"$op": "sum", "in": ["$a", "$b"]})  # no call of the transform: its lines
    assert ", ctx)" not in _source({"$op": "omit_empty", "in": {"x": "$a"}})
    assert ", ctx)" in _source({"$op": "omit_empty", "in": "$a"})  # (a shape without an inline form: the call)
    assert "is None else" in _source({"$op": "fill_defaults", "in": "$a", "defaults": {"type": "x"}})


@settings(max_examples=300, deadline=None)
@given(a=_COUNTS, b=_COUNTS, c=_COUNTS, empty=st.sampled_from([0, None, -1]))
def test_sum_inline_adds_as_the_transform(a: Any, b: Any, c: Any, empty: Any) -> None:
    template = compile_template({"$op": "sum", "empty": empty, "in": ["$a", "$b", "$c"]})
    got = template({"a": a, "b": b, "c": c}, Context("test"))
    want = bind("sum", {"empty": empty})([a, b, c], Context("test"))
    assert got == want and type(got) is type(want)


@settings(max_examples=200, deadline=None)
@given(a=st.one_of(st.none(), st.text(max_size=3), st.just([]), st.just({})), b=st.one_of(st.none(), st.integers()))
def test_omit_empty_inline_keeps_what_the_transform_keeps(a: Any, b: Any) -> None:
    for shape in ({"x": "$a", "y": "$b"}, {"x": "$a"}, {"kind": "fixed", "x": "$a"}, ["$a"], []):
        got = compile_template({"$op": "omit_empty", "in": shape})({"a": a, "b": b}, Context("test"))
        built = compile_template(shape)({"a": a, "b": b}, Context("test"))
        assert got == bind("omit_empty", {})(built, Context("test"))


@pytest.mark.parametrize("absent", [False, True])
@pytest.mark.parametrize("value", [None, "x", 0, ""])
def test_require_inline_passes_and_fails_as_the_transform(absent: bool, value: Any) -> None:
    args = {"message": "needed here", "absent": absent, "error": "provider"}
    template = compile_template({"$op": "require", "in": "$a", **args})
    apply = bind("require", args)
    try:
        want: Any = apply(value, Context("test"))
    except LLMError as exc:
        with pytest.raises(type(exc), match="needed here"):
            template({"a": value}, Context("test"))
    else:
        assert template({"a": value}, Context("test")) == want


@pytest.mark.parametrize("value", [None, {}, {"ttl": "1h"}, {"type": "mine"}, "ephemeral", 0, [], False])
def test_fill_defaults_inline_gives_what_the_transform_gives(value: Any) -> None:
    args = {"defaults": {"type": "ephemeral"}}
    for template in ({"$op": "fill_defaults", "in": "$a", **args}, {"x": {"$op": "fill_defaults", "in": "$a", **args}}):
        got = compile_template(template)({"a": value}, Context("test"))
        want = bind("fill_defaults", args)(value, Context("test"))
        assert (got if "$op" in template else got.get("x")) == want
