"""Inline forms (engine/inline.py): a transform lowered into the template's lines gives what its call gives.

Each case evaluates a template calling the transform through the generated function (inline form) and calls
the transform's own closure on the value the template's `in` builds; results and errors must match."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllora_llm.engine.codegen import FunctionBuilder, collect
from vllora_llm.engine.errors import LLMError
from vllora_llm.engine.inline import INLINE
from vllora_llm.engine.templates import compile_template, lower_into
from vllora_llm.engine.transforms import Context, bind

_COUNTS = st.one_of(st.none(), st.integers(-10**20, 10**20), st.floats(allow_nan=False), st.booleans(),
                    st.text(max_size=3), st.lists(st.integers(), max_size=2))


def _source(template: Any) -> str:
    with collect() as built:
        compile_template(template)({}, Context("test"))
    return "".join(source.split("\n", 1)[1] for _, source, _ in built)  # (the bodies)


def test_the_inline_forms_are_what_the_generated_code_runs() -> None:
    assert {"sum", "omit_empty", "require", "json_dumps", "fill_defaults"} <= set(INLINE)
    assert "indent=-1" not in _source({"$op": "json_dumps", "in": "$a"})  # (plain data: never JSON text)
    with collect() as built:
        _viewed_json_dumps()
    assert "indent=-1" in built[0][1]  # (read from a view: JSON text compacted by the lines)
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


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=4))
_JSON = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)), max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(value=_JSON, spaced=st.booleans())
def test_json_dumps_inline_writes_what_the_transform_writes(value: Any, spaced: bool) -> None:
    """On a value kept as its JSON text (msgspec.Raw, laid out with spaces or not; `null` included) and on the
    value itself (a dict, a str, None, ...)."""
    text = msgspec.json.encode(value)
    if spaced:
        text = msgspec.json.format(text, indent=2)
    viewed, template = _viewed_json_dumps(), compile_template({"$op": "json_dumps", "in": "$a"})
    apply = bind("json_dumps", {})
    for given_value in (msgspec.Raw(text), value):
        want = apply(given_value, Context("test"))
        assert type(want) is str
        assert viewed(_View(given_value), Context("test")) == want
        assert template({"a": given_value}, Context("test")) == want


class _View(msgspec.Struct):
    f0: Any = None


def _viewed_json_dumps() -> Any:
    """`{$op: json_dumps, in: $a}` lowered against an item decoded into a view Struct (views.py), where `a` may
    be kept as its JSON text."""
    code = FunctionBuilder(("item", "ctx"), "template", {(): (_View, {"a": "f0"})})
    return code.build(lower_into({"$op": "json_dumps", "in": "$a"}, (), code))


@pytest.mark.parametrize("value", [None, {}, {"ttl": "1h"}, {"type": "mine"}, "ephemeral", 0, [], False])
def test_fill_defaults_inline_gives_what_the_transform_gives(value: Any) -> None:
    args = {"defaults": {"type": "ephemeral"}}
    for template in ({"$op": "fill_defaults", "in": "$a", **args}, {"x": {"$op": "fill_defaults", "in": "$a", **args}}):
        got = compile_template(template)({"a": value}, Context("test"))
        want = bind("fill_defaults", args)(value, Context("test"))
        assert (got if "$op" in template else got.get("x")) == want


_ITEMS = st.one_of(st.none(), st.integers(), st.text(max_size=3),
                   st.dictionaries(st.sampled_from(["type", "kind"]),
                                   st.one_of(st.none(), st.integers(), st.sampled_from(["a_x", "b", "x", "_x", ""]),
                                             st.lists(st.integers(), max_size=1)), max_size=2))


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(st.none(), st.text(max_size=2), st.dictionaries(st.just("type"), st.just("a_x")),
                       st.lists(_ITEMS, max_size=4)))
def test_select_inline_keeps_what_the_transform_keeps(value: Any) -> None:
    for args in ({"field": "type", "suffix": "_x"}, {"field": "type", "values": ["b", 1]},
                 {"field": "type", "suffix": "x", "values": ["b"]}, {"field": "kind", "suffix": ""}):
        assert ", ctx)" not in _source({"$op": "select", "in": "$v", **args})  # (its lines, no call)
        got = compile_template({"$op": "select", "in": "$v", **args})({"v": value}, Context("test"))
        assert got == bind("select", args)(value, Context("test"))
