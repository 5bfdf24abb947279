"""The schema normalisers, as a table: input JSON Schema → the schema the Gemini spec sends.

Each row goes through the shipped spec (specs/providers/gemini.yaml): `response_format: json_schema` is
rendered and the provider schema is read back from the body, so the table checks the declared pipelines
(`chain` of schema operators) and not a copy of them. `dialect` picks the model family: `json` (Gemini 2.5+,
`responseJsonSchema`) or `openapi` (Gemini 1.x / 2.0, `responseSchema`). `dropped` lists the keywords the
one `schema_keyword_dropped` warning must name (none: no warning). The same chains serve tool parameters.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from vllora_llm.engine.errors import MappingError
from vllora_llm.engine.gateway import ChatCompletionRequest
from vllora_llm.engine.registry import load_plan
from vllora_llm.engine.transforms import Context, bind

MODELS = {"json": "gemini-2.5-flash", "openapi": "gemini-2.0-flash"}
FIELD = {"json": "responseJsonSchema", "openapi": "responseSchema"}

OPTIONAL_STR = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "title": "Note"}

TABLE: list[tuple[str, str, dict[str, Any], dict[str, Any] | None, list[str]]] = [
    # (row id, dialect, input schema, expected provider schema (None: left out), dropped keywords)
    ("plain_object_json", "json",
     {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
     {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}, []),
    ("plain_object_openapi", "openapi",
     {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
     {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}, "required": ["a"]}, []),
    ("dollar_schema_dropped_quietly", "json",
     {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "string"}, {"type": "string"}, []),
    ("additional_properties_kept_json", "json",
     {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False},
     {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False}, []),
    ("additional_properties_removed_openapi", "openapi",
     {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False},
     {"type": "OBJECT", "properties": {"a": {"type": "INTEGER"}}}, ["additionalProperties"]),
    ("ref_and_defs_inlined", "json",
     {"type": "object", "properties": {"p": {"$ref": "#/$defs/Point"}},
      "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}}}},
     {"type": "object", "properties": {"p": {"type": "object", "properties": {"x": {"type": "number"}}}}}, []),
    ("ref_siblings_win", "openapi",
     {"type": "object", "properties": {"p": {"$ref": "#/definitions/P", "description": "here"}},
      "definitions": {"P": {"type": "string", "description": "there"}}},
     {"type": "OBJECT", "properties": {"p": {"type": "STRING", "description": "here"}}}, []),
    ("type_list_with_null_to_nullable", "openapi",
     {"type": "object", "properties": {"n": {"type": ["integer", "null"]}}},
     {"type": "OBJECT", "properties": {"n": {"type": "INTEGER", "nullable": True}}}, []),
    ("type_list_with_null_kept_json", "json",
     {"type": "object", "properties": {"n": {"type": ["integer", "null"]}}},
     {"type": "object", "properties": {"n": {"type": ["integer", "null"]}}}, []),
    ("pydantic_optional_to_nullable", "openapi",
     {"type": "object", "properties": {"note": OPTIONAL_STR}},
     {"type": "OBJECT", "properties": {"note": {"type": "STRING", "nullable": True, "default": None,
                                                "title": "Note"}}}, []),
    ("several_types_to_any_of", "openapi",
     {"type": ["string", "integer", "null"]},
     {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}], "nullable": True}, []),
    ("const_to_enum_json", "json", {"const": "fixed"}, {"enum": ["fixed"], "type": "string"}, []),
    ("const_to_enum_openapi", "openapi", {"type": "integer", "const": 7},
     {"type": "INTEGER", "enum": ["7"], "format": "enum"}, []),
    ("number_enum_as_strings_openapi", "openapi", {"type": "number", "enum": [1.5, 2]},
     {"type": "NUMBER", "enum": ["1.5", "2"], "format": "enum"}, []),
    ("enum_with_null_openapi", "openapi", {"type": "string", "enum": ["a", None]},
     {"type": "STRING", "enum": ["a"], "nullable": True}, []),
    ("one_of_to_any_of_openapi", "openapi", {"oneOf": [{"type": "string"}, {"type": "boolean"}]},
     {"anyOf": [{"type": "STRING"}, {"type": "BOOLEAN"}]}, []),
    ("one_of_kept_json", "json", {"oneOf": [{"type": "string"}, {"type": "boolean"}]},
     {"oneOf": [{"type": "string"}, {"type": "boolean"}]}, []),
    ("unsupported_keywords_dropped_json", "json",
     {"type": "string", "pattern": "^a", "minLength": 1, "examples": ["a"], "description": "d"},
     {"type": "string", "description": "d"}, ["examples", "minLength", "pattern"]),
    ("openapi_keeps_its_own_keywords", "openapi",
     {"type": "string", "pattern": "^a", "minLength": 1, "maxLength": 9, "format": "date-time", "example": "a"},
     {"type": "STRING", "pattern": "^a", "minLength": 1, "maxLength": 9, "format": "date-time", "example": "a"}, []),
    ("all_of_and_not_dropped_openapi", "openapi",
     {"type": "object", "properties": {"a": {"not": {"type": "null"}}}, "allOf": [{"required": ["a"]}]},
     {"type": "OBJECT", "properties": {"a": {}}}, ["allOf", "not"]),
    ("property_named_like_keywords", "openapi",
     {"type": "object", "properties": {"type": {"type": "string"}, "$ref": {"type": "integer"},
                                        "pattern": {"type": "boolean"}}},
     {"type": "OBJECT", "properties": {"type": {"type": "STRING"}, "$ref": {"type": "INTEGER"},
                                        "pattern": {"type": "BOOLEAN"}}}, []),
    ("nested_array_items", "openapi",
     {"type": "array", "items": {"type": "object", "properties": {"v": {"type": ["number", "null"]}},
                                 "additionalProperties": False}, "minItems": 1},
     {"type": "ARRAY", "items": {"type": "OBJECT", "properties": {"v": {"type": "NUMBER", "nullable": True}}},
      "minItems": 1}, ["additionalProperties"]),
    ("empty_root_object_left_out_openapi", "openapi",
     {"type": "object", "additionalProperties": {"type": "string"}}, None, ["additionalProperties"]),
    ("empty_root_object_kept_json", "json",
     {"type": "object", "properties": {}}, {"type": "object", "properties": {}}, []),
    ("recursive_ref_kept_json", "json",
     {"$ref": "#/$defs/N", "$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}}},
     {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}},
      "$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}}}, []),
]


def render_schema(dialect: str, schema: dict[str, Any]) -> tuple[Any, list[Any]]:
    request = ChatCompletionRequest.from_dict({
        "model": MODELS[dialect],
        "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}},
    })
    wire, warnings = load_plan("gemini").encode(request)
    config = json.loads(wire.body)["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    other = FIELD["openapi" if dialect == "json" else "json"]
    assert other not in config, f"{other} must not be sent with {FIELD[dialect]}"
    return config.get(FIELD[dialect]), warnings


@pytest.mark.parametrize(("dialect", "given", "expected", "dropped"), [row[1:] for row in TABLE],
                         ids=[row[0] for row in TABLE])
def test_normalisation_table(dialect: str, given: dict[str, Any], expected: Any, dropped: list[str]) -> None:
    before = json.dumps(given, sort_keys=True)
    actual, warnings = render_schema(dialect, given)
    assert actual == expected
    assert json.dumps(given, sort_keys=True) == before, "the caller's schema was mutated"
    if not dropped:
        assert warnings == []
        return
    assert [w.code for w in warnings] == ["schema_keyword_dropped"]
    assert warnings[0].param == "response_format"
    named = warnings[0].message.split("dropped: ", 1)[1]
    assert sorted(part.split(" ")[0] for part in named.split(", ")) == sorted(dropped)


def test_table_is_big_enough() -> None:
    assert len(TABLE) >= 12
    assert {row[1] for row in TABLE} == {"json", "openapi"}


def test_recursive_ref_is_an_error_in_the_openapi_dialect() -> None:
    with pytest.raises(MappingError, match="recursive reference"):
        render_schema("openapi", {"$ref": "#/$defs/N",
                                  "$defs": {"N": {"type": "object", "properties": {"n": {"$ref": "#/$defs/N"}}}}})


def test_unresolvable_ref_is_an_error() -> None:
    with pytest.raises(MappingError, match="does not resolve"):
        render_schema("json", {"type": "object", "properties": {"a": {"$ref": "https://example.com/s.json"}}})


def test_repeated_keyword_is_counted_in_one_warning() -> None:
    _, warnings = render_schema("json", {"type": "object", "properties": {
        "a": {"type": "string", "pattern": "x"}, "b": {"type": "string", "pattern": "y"}}})
    assert len(warnings) == 1
    assert "pattern (x2)" in warnings[0].message


def test_tool_parameters_use_the_same_pipeline() -> None:
    schema = {"type": "object", "properties": {"when": {"type": ["string", "null"], "format": "date"}},
              "additionalProperties": False}
    for dialect, key in (("json", "parametersJsonSchema"), ("openapi", "parameters")):
        request = ChatCompletionRequest.from_dict({
            "model": MODELS[dialect], "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": schema}}],
        })
        body = json.loads(load_plan("gemini").encode(request)[0].body)
        (declaration,) = body["tools"][0]["functionDeclarations"]
        expected, _ = render_schema(dialect, schema)
        assert declaration[key] == expected
        assert set(declaration) == {"name", key}


@pytest.mark.parametrize(("name", "args", "given", "expected"), [
    ("schema_type_case", {"case": "lower"}, {"type": ["STRING", "NULL"]}, {"type": ["string", "null"]}),
    ("schema_rename_keys", {"keys": {"oneOf": "anyOf"}}, {"oneOf": [{}], "anyOf": [{}]},
     {"oneOf": [{}], "anyOf": [{}]}),
    ("schema_nullable", {}, {"type": ["null"]}, {"type": "null", "nullable": True}),
    ("schema_inline_refs", {},
     {"$ref": "#/$defs/A/properties/b", "$defs": {"A": {"properties": {"b": {"type": "string"}}}}},
     {"type": "string"}),
    ("omit_empty_object_schema", {}, {"type": "object", "properties": {}, "minProperties": 1},
     {"type": "object", "properties": {}, "minProperties": 1}),
])
def test_operator_edges(name: str, args: dict[str, Any], given: Any, expected: Any) -> None:
    assert bind(name, args)(given, Context("t")) == expected
