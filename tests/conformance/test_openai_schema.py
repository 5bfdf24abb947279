"""Every body rendered by requests/openai.yaml is accepted by OpenAI's published chat-completions schema.

The schema is `CreateChatCompletionRequest` in OpenAI's OpenAPI document (openai/openai-openapi, kept in
`tests/recordings/schemas/openai/openapi.yaml`). The document is OpenAPI 3.1 (JSON Schema 2020-12) but
still writes `nullable: true` in places; that is rewritten as `anyOf: [<schema>, {type: "null"}]` before
validating. `$ref`s (`#/components/schemas/...`) resolve inside the document through a `referencing` registry.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from vllora_llm.tools.protocol_tests import Case, render

from ._support import RECORDINGS, params

DOCUMENT_URI = "https://api.openai.com/openapi.yaml"
REQUEST_SCHEMA = {"$ref": f"{DOCUMENT_URI}#/components/schemas/CreateChatCompletionRequest"}


def without_nullable(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` as JSON Schema: the schema, or null."""
    if isinstance(node, list):
        return [without_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: without_nullable(value) for key, value in node.items()
           if not (key == "nullable" and isinstance(value, bool))}
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    path = RECORDINGS / "schemas" / "openai" / "openapi.yaml"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    full = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    # the request schema only refers to #/components/schemas/...; the paths and examples are left out
    document = without_nullable({"components": {"schemas": full["components"]["schemas"]}})
    registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(document))
    return Draft202012Validator(REQUEST_SCHEMA, registry=registry)


def _problems(validator: Draft202012Validator, body: Any) -> list[str]:
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<body>'}: {e.message[:300]}" for e in errors]


RENDERED = [p for p in params("requests", provider="openai") if "error" not in p.values[0].expect]


@pytest.mark.parametrize("case", RENDERED)
def test_rendered_body_matches_openai_schema(case: Case, validator: Draft202012Validator) -> None:
    wire, _ = render(case)
    problems = _problems(validator, json.loads(wire.body))
    assert not problems, f"{case.where} ({case.id}): rejected by CreateChatCompletionRequest:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"model": "gpt-4o", "messages": []}, id="no_messages"),
        pytest.param({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"},
                     id="temperature_not_a_number"),
        pytest.param({"model": "gpt-4o", "messages": [{"role": "robot", "content": "x"}]}, id="unknown_role"),
        pytest.param({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}],
                      "tools": [{"function": {"name": "f"}}]}, id="tool_without_type"),
        pytest.param({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}],
                      "response_format": {"type": "json_schema"}}, id="json_schema_format_without_schema"),
    ],
)
def test_schema_rejects_what_openai_rejects(body: dict[str, Any], validator: Draft202012Validator) -> None:
    """The validator is not vacuous: bodies OpenAI would refuse fail it."""
    assert _problems(validator, body)


def test_schema_accepts_null_for_nullable_fields(validator: Draft202012Validator) -> None:
    """`nullable: true` is honoured (OpenAI accepts an explicit null for e.g. temperature and max_tokens)."""
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "max_tokens": None, "n": None}
    assert _problems(validator, body) == []
