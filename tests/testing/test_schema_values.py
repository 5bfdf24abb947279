"""The values the local provider server generates from a JSON Schema (tool arguments, JSON answers) validate
against that schema: a table of the keywords apps use, and hypothesis over generated schemas."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllora_llm.tools.testing.schema_values import example_arguments, example_value

FORMATS = jsonschema.FormatChecker()

TABLE: list[tuple[str, Any, Any]] = [
    ("scalars", {"type": "object", "properties": {
        "s": {"type": "string"}, "i": {"type": "integer"}, "n": {"type": "number"}, "b": {"type": "boolean"},
        "z": {"type": "null"}}, "required": ["s", "i", "n", "b", "z"]},
     {"s": "example", "i": 1, "n": 1, "b": True, "z": None}),
    ("enum, const, default", {"type": "object", "properties": {
        "e": {"enum": ["x", "y"]}, "c": {"const": {"k": [1]}}, "d": {"type": "integer", "default": 7}}},
     {"e": "x", "c": {"k": [1]}, "d": 7}),
    ("nested $ref / $defs, definitions", {"type": "object", "properties": {
        "a": {"$ref": "#/$defs/point"}, "b": {"$ref": "#/definitions/name"}}, "required": ["a", "b"],
        "$defs": {"point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"],
                            "additionalProperties": False}},
        "definitions": {"name": {"type": "string", "minLength": 10}}},
     {"a": {"x": 1}, "b": "examplexxx"}),
    ("a $ref with siblings", {"$defs": {"base": {"type": "object", "properties": {"a": {"type": "string"}},
                                                 "required": ["a"]}},
                              "$ref": "#/$defs/base", "properties": {"b": {"type": "integer"}}, "required": ["b"]},
     {"a": "example", "b": 1}),
    ("allOf merges", {"allOf": [{"type": "object", "properties": {"a": {"type": "integer", "minimum": 3}},
                                 "required": ["a"]},
                                {"properties": {"b": {"type": "boolean"}}, "required": ["b"]}]},
     {"a": 3, "b": True}),
    ("anyOf / oneOf / nullable types", {"type": "object", "properties": {
        "a": {"anyOf": [{"type": "null"}, {"type": "integer", "maximum": 0}]},
        "o": {"oneOf": [{"type": "string", "maxLength": 3}, {"type": "integer"}]},
        "t": {"type": ["null", "boolean"]}}, "required": ["a", "o", "t"]},
     {"a": 0, "o": "exa", "t": True}),
    ("numeric bounds", {"type": "object", "properties": {
        "a": {"type": "integer", "exclusiveMinimum": 1}, "b": {"type": "number", "minimum": 2.5},
        "c": {"type": "integer", "maximum": -3}, "d": {"type": "integer", "multipleOf": 5, "maximum": 12},
        "e": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "f": {"type": "integer", "minimum": 7, "multipleOf": 3}}},
     {"a": 2, "b": 2.5, "c": -3, "d": 5, "e": 0.5, "f": 9}),
    ("formats", {"type": "array", "prefixItems": [{"type": "string", "format": f} for f in (
        "date", "date-time", "email", "uri", "uuid", "ipv4")], "items": False},
     ["2026-01-01", "2026-01-01T00:00:00Z", "user@example.com", "https://example.com/",
      "00000000-0000-4000-8000-000000000000", "192.0.2.1"]),
    ("array sizes and uniqueness", {"type": "object", "properties": {
        "a": {"type": "array", "items": {"type": "integer"}, "minItems": 3, "uniqueItems": True},
        "b": {"type": "array", "items": {"type": "string"}, "minItems": 2, "uniqueItems": True},
        "c": {"type": "array", "maxItems": 0}}},
     {"a": [1, 2, 3], "b": ["example", "example 2"], "c": []}),
    ("required names without properties", {"type": "object", "required": ["x"], "minProperties": 2,
                                           "additionalProperties": {"type": "integer"}},
     {"x": 1, "key2": 1}),
    ("a recursive tree ends", {"$defs": {"node": {"type": "object", "properties": {
        "name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
        "required": ["name", "children"]}}, "$ref": "#/$defs/node"}, None),
    ("the root refers to itself", {"type": "object", "properties": {"next": {"$ref": "#"}}}, None),
]


@pytest.mark.parametrize(("schema", "expected"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_values_validate_against_their_schema(schema: Any, expected: Any) -> None:
    value = example_value(schema)
    jsonschema.Draft202012Validator(schema, format_checker=FORMATS).validate(value)
    if expected is not None:
        assert value == expected
    assert example_value(schema) == value  # deterministic


def test_draft4_exclusive_bounds_and_tuple_items() -> None:
    schema = {"type": "object", "properties": {
        "a": {"type": "integer", "minimum": 1, "exclusiveMinimum": True},
        "t": {"type": "array", "items": [{"type": "string"}, {"type": "boolean"}], "additionalItems": False}}}
    value = example_value(schema)
    jsonschema.Draft4Validator(schema).validate(value)
    assert value == {"a": 2, "t": ["example", True]}


def test_strings_come_from_the_given_phrases_in_document_order() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "n": {"type": "integer"},
                                               "b": {"type": "array", "items": {"type": "string"}},
                                               "c": {"type": "string", "enum": ["fixed"]}, "d": {"type": "string"}}}
    assert example_value(schema, ["one", "two"]) == {"a": "one", "n": 1, "b": ["two"], "c": "fixed", "d": "example"}


def test_tool_arguments_are_always_an_object() -> None:
    assert example_arguments(None) == {}
    assert example_arguments({}) == {}
    assert example_arguments({"type": "string"}) == {}
    assert example_arguments({"properties": {"q": {"type": "string"}}}, ["cats"]) == {"q": "cats"}


def test_deep_or_odd_schemas_never_raise() -> None:
    deep: Any = {"type": "string"}
    for _ in range(2000):
        deep = {"type": "array", "items": deep, "minItems": 1}
    assert example_value(deep) is not None
    loop = {"allOf": [{"$ref": "#/$defs/a"}, {"$ref": "#/$defs/a"}],
            "$defs": {"a": {"properties": {"p": {"$ref": "#/$defs/a"}}, "required": ["p"]}}}
    assert isinstance(example_value(loop), dict)
    assert example_value({"$ref": "https://example.com/remote.json"}) == "example"
    endless = {"type": "object", "properties": {n: {"$ref": "#"} for n in "abcdef"}, "required": list("abcdef")}
    assert isinstance(example_value(endless), dict)  # 6**24 required nodes: cut at MAX_NODES, quickly
    huge = {"type": "array", "minItems": 10**12, "items": {"type": "string", "minLength": 10**12}}
    assert len(example_value(huge)) == 1000 and len(example_value(huge)[0]) == 1000
    assert example_value(False) is None


# ---- hypothesis: generated schemas ------------------------------------------------------------------------

_NAMES = st.text("abcdefgh_", min_size=1, max_size=6)
_SCALAR = st.one_of(
    st.builds(lambda lo, span, excl: {"type": "integer", "minimum": lo, "maximum": lo + span,
                                      **({"exclusiveMinimum": lo - 1} if excl else {})},
              st.integers(-50, 50), st.integers(0, 20), st.booleans()),
    st.builds(lambda lo, span: {"type": "number", "exclusiveMinimum": lo, "exclusiveMaximum": lo + span},
              st.floats(-100, 100, allow_nan=False), st.floats(0.5, 10)),
    st.builds(lambda step, hi: {"type": "integer", "multipleOf": step, "maximum": hi},
              st.integers(1, 9), st.integers(10, 100)),
    st.builds(lambda lo, extra: {"type": "string", "minLength": lo, "maxLength": lo + extra},
              st.integers(0, 12), st.integers(0, 5)),
    st.sampled_from([{"type": "boolean"}, {"type": "null"}, {"type": "string", "format": "date-time"},
                     {"enum": ["a", 1, None]}, {"const": [1, 2]}, {"type": ["null", "string"]}, {}]),
)


def _compound(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda props, extra_closed: {
            "type": "object", "properties": dict(props), "required": [name for name, _ in props][::2],
            **({"additionalProperties": False} if extra_closed else {})},
            st.lists(st.tuples(_NAMES, children), max_size=4, unique_by=lambda p: p[0]), st.booleans()),
        st.builds(lambda items, lo, extra: {"type": "array", "items": items, "minItems": lo, "maxItems": lo + extra},
                  children, st.integers(0, 3), st.integers(0, 2)),
        st.builds(lambda branches: {"anyOf": branches}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda a, b: {"allOf": [a, b]},
                  st.builds(lambda p: {"type": "object", "properties": {"x": p}, "required": ["x"]}, children),
                  st.builds(lambda p: {"type": "object", "properties": {"y": p}, "required": ["y"]}, children)),
    )


SCHEMAS = st.recursive(_SCALAR, _compound, max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(schema=SCHEMAS, phrases=st.lists(st.text(max_size=8), max_size=3))
def test_generated_schemas_get_valid_values(schema: Any, phrases: list[str]) -> None:
    wrapped = {"$defs": {"it": schema}, "type": "object", "properties": {"v": {"$ref": "#/$defs/it"}},
               "required": ["v"]}
    value = example_value(wrapped, phrases)
    jsonschema.Draft202012Validator(wrapped, format_checker=FORMATS).validate(value)
