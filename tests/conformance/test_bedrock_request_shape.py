"""Every rendered Bedrock request body is a valid Converse / ConverseStream input for botocore itself.

The bodies of requests/bedrock.yaml (every case that renders) are checked with botocore's `ParamValidator`
against the bedrock-runtime service model's input shapes, loaded by botocore (the model the official SDK
sends with): required members, types, lengths and ranges, unions with exactly one member. The wire body uses
the JSON field names botocore's rest-json serializer writes, so it validates as is, with two adjustments:
`modelId` (the URL path) is added, and blob members (image bytes, redacted reasoning) travel as base64 text,
so they are decoded to bytes first (which also proves they are base64). Enum values, which `ParamValidator`
leaves to the service, are checked here too.

The check is itself tested: the recorded request bodies (bedrock/*.request.json) pass it, and hand-made wrong
bodies fail it, so a permissive check cannot pass vacuously.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from vllora_llm.tools.protocol_tests import Case, render

from ._support import RECORDINGS, load_cases

botocore_session = pytest.importorskip("botocore.session")

from botocore.model import Shape  # noqa: E402  (botocore is an optional dependency: imported after the skip)
from botocore.validate import ParamValidator  # noqa: E402

SERVICE = botocore_session.get_session().get_service_model("bedrock-runtime")


def shape_problems(body: dict[str, Any], model_id: str, operation: str) -> list[str]:
    """Why `body` (as sent on the wire, to `operation`) is not a valid input; [] when it is."""
    shape = SERVICE.operation_model(operation).input_shape
    params = _as_params(copy.deepcopy(body), shape, "body", problems := [])
    params["modelId"] = model_id
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        problems.append(report.generate_report())
    return problems


def _as_params(value: Any, shape: Shape, where: str, problems: list[str]) -> Any:
    """Blobs: base64 text → bytes. Enums: checked. Everything else as it is, walked along the shape."""
    kind = shape.type_name
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            problems.append(f"{where}: a blob that is not base64: {value[:40]!r}")
            return value
    if kind == "string" and shape.enum and isinstance(value, str) and value not in shape.enum:
        problems.append(f"{where}: {value!r} is not one of {shape.enum}")
    if kind == "structure" and isinstance(value, dict) and not shape.is_document_type:
        members = shape.members
        return {k: _as_params(v, members[k], f"{where}.{k}", problems) if k in members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_as_params(v, shape.member, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    if kind == "map" and isinstance(value, dict):
        return {k: _as_params(v, shape.value, f"{where}.{k}", problems) for k, v in value.items()}
    return value


def rendered_cases() -> list[Any]:
    return [pytest.param(c, id=c.id) for c in load_cases("requests")
            if c.provider == "bedrock" and "error" not in c.expect]


@pytest.mark.parametrize("case", rendered_cases())
def test_rendered_body_is_valid_for_botocore(case: Case) -> None:
    wire, _ = render(case)
    operation = "ConverseStream" if wire.url.endswith("/converse-stream") else "Converse"
    model = (case.data.get("given") or {}).get("model") or case.data.get("model")
    problems = shape_problems(json.loads(wire.body), model, operation)
    assert not problems, f"{case.where} ({case.id}):\n" + "\n".join(problems)


# ---- the check itself -------------------------------------------------------------------------------------------

REQUEST_RECORDINGS = sorted((RECORDINGS / "bedrock").glob("*.request.json"))


@pytest.mark.parametrize("path", REQUEST_RECORDINGS, ids=[p.name for p in REQUEST_RECORDINGS])
def test_recorded_requests_pass(path: Any) -> None:
    operation = "ConverseStream" if path.name.startswith("converse_stream") else "Converse"
    assert shape_problems(json.loads(path.read_bytes()), "us.amazon.nova-micro-v1:0", operation) == []


def test_every_recorded_request_is_reproduced_by_a_case() -> None:
    used = {
        (c.expect.get("body_recorded") or {}).get("recording")
        for c in load_cases("requests") if c.provider == "bedrock"
    }
    missing = sorted(p.name for p in REQUEST_RECORDINGS if f"bedrock/{p.name}" not in used)
    assert not missing, f"recorded Bedrock requests no case reproduces: {missing}"


HELLO = {"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}
WRONG = {
    "no_choice_none": {**HELLO, "toolConfig": {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {}}}}],
                                               "toolChoice": {"none": {}}}},
    "tool_config_without_tools": {**HELLO, "toolConfig": {"toolChoice": {"auto": {}}}},
    "system_as_a_string": {**HELLO, "system": "Be brief."},
    "content_as_a_string": {"messages": [{"role": "user", "content": "Hi"}]},
    "image_by_url": {"messages": [{"role": "user", "content": [
        {"image": {"format": "png", "source": {"url": "https://example.com/cat.png"}}}]}]},
    "image_bytes_not_base64": {"messages": [{"role": "user", "content": [
        {"image": {"format": "png", "source": {"bytes": "not base64!"}}}]}]},
    "image_format_unknown": {"messages": [{"role": "user", "content": [
        {"image": {"format": "bmp", "source": {"bytes": "iVBO"}}}]}]},
    "two_members_in_a_block": {"messages": [{"role": "user", "content": [{"text": "Hi", "image": {}}]}]},
    "unknown_role": {"messages": [{"role": "tool", "content": [{"text": "Hi"}]}]},
    "tool_result_status": {"messages": [{"role": "user", "content": [
        {"toolResult": {"toolUseId": "t", "content": [{"text": "x"}], "status": "failed"}}]}]},
    "tool_use_without_input": {"messages": [{"role": "assistant", "content": [
        {"toolUse": {"toolUseId": "t", "name": "f"}}]}]},
    "max_tokens_zero": {**HELLO, "inferenceConfig": {"maxTokens": 0}},
    "temperature_as_text": {**HELLO, "inferenceConfig": {"temperature": "0.5"}},
    "cache_point_type": {"system": [{"text": "x"}, {"cachePoint": {"type": "ephemeral"}}], **HELLO},
    "unknown_top_level_field": {**HELLO, "max_tokens": 10},
}


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_bodies_fail(name: str) -> None:
    assert shape_problems(WRONG[name], "m", "Converse"), f"{name} passed the check"
