"""The v2 schema is the v1 schema with v2's call syntax and override layers that take null: derived, not kept
by hand, so the two never drift. `python tests/unit/test_schema_v2.py` rewrites provider-spec.v2.json after a
change to the v1 schema; the test fails until it is run."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).resolve().parents[2] / "specs" / "schema"
NULL = {"type": "null", "description": "in an override layer: removes what the spec (or an earlier layer) sets here"}
NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$",
        "description": "a registered transform (`vllora-llm spec transforms`)"}
OP = {"oneOf": [NAME, {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/call"}}]}
LAYERED = ["endpoint_block", "policy", "params", "messages", "op_endpoint", "op_response", "error_class"]


def _takes_null(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    if node == {} or kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    return any(_takes_null(b) for b in [*node.get("anyOf", ()), *node.get("oneOf", ())] if isinstance(b, dict))


def _nullable(node: Any) -> Any:
    """A schema where every optional key also takes null (an override layer removing a value)."""
    if not isinstance(node, dict):
        return node
    node = copy.deepcopy(node)
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and ref.rsplit("/", 1)[-1] in LAYERED:
        return {**node, "$ref": ref + "_layer"}
    for key in ("oneOf", "anyOf"):
        if key in node:
            node[key] = [_nullable(branch) for branch in node[key]]
    required = set(node.get("required", ()))
    if "properties" in node:
        props = {}
        for name, prop in node["properties"].items():
            new = _nullable(prop)
            props[name] = new if name in required or _takes_null(new) else {"anyOf": [new, NULL]}
        node["properties"] = props
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and extra:
        node["additionalProperties"] = _nullable(extra)
    return node


def derive(v1: dict[str, Any]) -> dict[str, Any]:
    v2 = copy.deepcopy(v1)
    v2["$id"] = "https://vllora.dev/schemas/provider-spec.v2.json"
    v2["title"] = "vllora-llm provider spec, format vllora.dev/v2"
    v2["properties"]["apiVersion"] = {"const": "vllora.dev/v2"}
    defs = v2["$defs"]
    defs["call"] = {
        "description": "a transform call: NAME, {$op: NAME, ...args}, or a list of calls run in order (a pipeline)",
        "oneOf": [NAME,
                  {"type": "object", "required": ["$op"], "properties": {"$op": OP}, "additionalProperties": True},
                  {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/call"}}]}
    defs["params"]["additionalProperties"]["oneOf"][0]["properties"]["transform"] = {"$ref": "#/$defs/call"}
    v2["properties"]["errors"]["properties"]["retry_after"]["properties"]["transform"] = {"$ref": "#/$defs/call"}
    defs["adjust"] = {
        "type": "array",
        "description": ("transform calls run over the finished body (or the value at `at`), in order: "
                        "{at?, $op: NAME, ...args}"),
        "items": {"type": "object", "required": ["$op"], "properties": {"at": {"type": "string"}, "$op": OP},
                  "additionalProperties": True}}
    for name in LAYERED:
        defs[name + "_layer"] = _nullable(defs[name])
    defs["errors_layer"] = _nullable(v2["properties"]["errors"])
    description = ("a model-family layer: every layer whose globs match the model is merged over the spec, in order, "
                   "like extends (null removes)")
    layer = v2["properties"]["overrides"]["items"]
    for key, target in (("endpoint", "endpoint_block"), ("policy", "policy"), ("params", "params"),
                        ("messages", "messages")):
        layer["properties"][key] = {"anyOf": [{"$ref": f"#/$defs/{target}_layer"}, NULL]}
    layer["properties"]["headers"] = {"anyOf": [{"type": "object", "additionalProperties": {"anyOf": [
        {"type": "string"}, NULL]}}, NULL]}
    layer["properties"]["adjust"] = {"anyOf": [{"$ref": "#/$defs/adjust"}, NULL]}
    layer["description"] = description
    op_layer = defs["operation"]["properties"]["overrides"]["items"]
    for key, target in (("endpoint", "op_endpoint"), ("policy", "policy"), ("params", "params"),
                        ("response", "op_response"), ("errors", "errors")):
        op_layer["properties"][key] = {"anyOf": [{"$ref": f"#/$defs/{target}_layer"}, NULL]}
    op_layer["properties"]["fan_out"] = {"anyOf": [_nullable(defs["operation"]["properties"]["fan_out"]), NULL]}
    op_layer["description"] = description
    streamed_layer = defs["streamed_operation"]["properties"]["overrides"]["items"]   # (the Responses operation)
    for key, target in (("endpoint", "op_endpoint"), ("stream", "op_endpoint"), ("policy", "policy"),
                        ("params", "params"), ("errors", "errors")):
        streamed_layer["properties"][key] = {"anyOf": [{"$ref": f"#/$defs/{target}_layer"}, NULL]}
    streamed_layer["description"] = description
    return v2


def _text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def test_the_v2_schema_is_derived_from_the_v1_schema() -> None:
    v1 = json.loads((SCHEMAS / "provider-spec.v1.json").read_text(encoding="utf-8"))
    assert (SCHEMAS / "provider-spec.v2.json").read_text(encoding="utf-8") == _text(derive(v1)), (
        "run `python tests/unit/test_schema_v2.py` after changing provider-spec.v1.json")


def test_the_v2_schema_is_a_valid_schema() -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(json.loads((SCHEMAS / "provider-spec.v2.json").read_text(encoding="utf-8")))


if __name__ == "__main__":
    v1_schema = json.loads((SCHEMAS / "provider-spec.v1.json").read_text(encoding="utf-8"))
    (SCHEMAS / "provider-spec.v2.json").write_text(_text(derive(v1_schema)), encoding="utf-8")
