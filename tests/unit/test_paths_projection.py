"""Flatten projections over plain keys (`messages[].content[].toolUse.name`) are evaluated without the
jmespath library, and must give exactly what jmespath gives, on any JSON-shaped data: by the getter, and by the
lines a template inlines for them (`templates._inline_projection`)."""

from __future__ import annotations

from typing import Any

import jmespath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllora_llm.engine.paths import compile_getter
from vllora_llm.engine.templates import compile_template
from vllora_llm.engine.transforms import Context

EXPRESSIONS = ["a[]", "a[].b", "a.b[].c", "a[].b[].c", "a[].b.c[].a", "a[][]", "a[].a[]", "b[].a.b"]

KEYS = st.sampled_from(["a", "b", "c"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["x", ""]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=25,
)


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_lowered_without_the_library(expression: str) -> None:
    assert "_projection_getter" in compile_getter(expression).__qualname__


@settings(max_examples=150, deadline=None)
@given(data=JSON, expression=st.sampled_from(EXPRESSIONS))
def test_same_result_as_jmespath(data: Any, expression: str) -> None:
    assert compile_getter(expression)(data) == jmespath.search(expression, data)


@settings(max_examples=150, deadline=None)
@given(data=JSON, expression=st.sampled_from(EXPRESSIONS))
def test_inlined_in_a_template_same_result_as_jmespath(data: Any, expression: str) -> None:
    template = compile_template({"x": f"${expression}", "n": 1})  # (generated: the projection's lines inline)
    expected = jmespath.search(expression, data)
    assert template(data, Context("test")) == ({"x": expected, "n": 1} if expected is not None else {"n": 1})


INDEXED = ["a[0]", "a[-1]", "a[1].b", "a.b[0].c", "a[0][1]", "b[-2].a"]


@settings(max_examples=150, deadline=None)
@given(data=JSON, path=st.sampled_from(INDEXED))
def test_an_indexed_path_inlined_in_a_template_reads_what_the_getter_reads(data: Any, path: str) -> None:
    template = compile_template({"x": f"${path}", "n": 1})  # (generated: the steps inline)
    expected = compile_getter(path)(data)
    assert template(data, Context("test")) == ({"x": expected, "n": 1} if expected is not None else {"n": 1})


def test_a_template_inlines_the_projection() -> None:
    from vllora_llm.engine import codegen

    with codegen.collect() as built:
        compile_template({"x": "$a[].b[].c"})
    _, source, namespace = built[0]
    assert "for " in source and not any("_projection_getter" in getattr(v, "__qualname__", "")
                                        for v in namespace.values())


def test_a_real_history() -> None:
    body = {"messages": [{"content": [{"toolUse": {"name": "f"}}, {"text": "x"}, [{"toolUse": {"name": "g"}}]]},
                         {"content": None}, "text", [{"content": [{"toolUse": {"name": "h"}}]}]]}
    path = "messages[].content[].toolUse.name"
    assert compile_getter(path)(body) == jmespath.search(path, body) == ["f", "h"]
