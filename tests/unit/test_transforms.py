"""The transform registry: every example of every transform runs, and every entry is documented.

Examples are both the docs (`vllora-llm spec transforms` prints them) and this test's table: adding an
example to a transform adds a case here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from vllora_llm.engine.transforms import REGISTRY, Context, Transform, run_example

EXAMPLES = [(name, i) for name, transform in sorted(REGISTRY.items()) for i in range(len(transform.examples))]


@pytest.mark.parametrize(("name", "index"), EXAMPLES, ids=[f"{n}[{i}]" for n, i in EXAMPLES])
def test_example(name: str, index: int) -> None:
    transform = REGISTRY[name]
    example = transform.examples[index]
    assert run_example(transform, example) == example.output


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_transform_is_documented(name: str) -> None:
    transform: Transform = REGISTRY[name]
    assert transform.name == name
    assert transform.doc.strip(), f"{name} has no docstring"
    assert transform.examples, f"{name} has no example"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_args_schema_is_a_valid_json_schema(name: str) -> None:
    schema = REGISTRY[name].args_schema
    Draft202012Validator.check_schema(schema)
    assert schema.get("type") == "object"
    validator = Draft202012Validator(schema)
    for example in REGISTRY[name].examples:
        assert not list(validator.iter_errors(example.args)), f"{name}: an example's args break its own schema"


def test_registry_is_not_empty_and_examples_are_many() -> None:
    assert len(REGISTRY) >= 10
    assert len(EXAMPLES) >= len(REGISTRY)


# ---- json_dumps: the C encoder called directly gives what json.dumps gives ----------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(_JSON)
def test_json_dumps_is_what_json_dumps_gives(value: Any) -> None:
    dumps = REGISTRY["json_dumps"].factory({})
    expected = "{}" if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    assert dumps(value, Context("p")) == expected


def test_json_dumps_of_a_circular_or_unserialisable_value_fails_as_json_dumps_does() -> None:
    dumps = REGISTRY["json_dumps"].factory({})
    circular: list[Any] = []
    circular.append(circular)
    with pytest.raises(ValueError, match="Circular reference"):
        dumps(circular, Context("p"))
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"a": object()}, Context("p"))
    assert dumps({"a": [1, 2.5, "é\u2028"]}, Context("p")) == '{"a":[1,2.5,"é\u2028"]}'  # (after the failures)
