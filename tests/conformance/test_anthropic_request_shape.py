"""Every rendered Anthropic request body has the shape the official SDK's request types allow.

`MESSAGE_CREATE_PARAMS` below is a JSON Schema written from anthropic-sdk-python's TypedDicts
(`types/message_create_params.py` and the block / tool / tool_choice / thinking / cache_control param types it
uses): required keys are the TypedDicts' `Required[...]`, literals are `const`/`enum`, and every object is closed
(the API answers an unknown field with "Extra inputs are not permitted"). The check renders each non-error case
of requests/anthropic.yaml and validates the body, plus the rules the SDK states in docstrings that a schema
cannot (thinking budget ≥ 1024 and below max_tokens). The schema is itself tested: it accepts the real request
bodies recorded from the API and rejects hand-made wrong ones, so a permissive schema cannot pass vacuously.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from vllora_llm.tools.protocol_tests import Case, render

from ._support import RECORDINGS, load_cases

# ---- the SDK's request types as a JSON Schema -------------------------------------------------------------------


def _obj(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": required, "properties": properties}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


CACHE_CONTROL = _nullable(_obj(["type"], {"type": {"const": "ephemeral"}, "ttl": {"enum": ["5m", "1h"]}}))
TEXT_BLOCK = _obj(["text", "type"], {
    "type": {"const": "text"}, "text": {"type": "string"}, "cache_control": CACHE_CONTROL,
    "citations": _nullable({"type": "array"}),
})
IMAGE_BLOCK = _obj(["source", "type"], {
    "type": {"const": "image"},
    "source": {"oneOf": [
        _obj(["data", "media_type", "type"], {
            "type": {"const": "base64"}, "data": {"type": "string"},
            "media_type": {"enum": ["image/jpeg", "image/png", "image/gif", "image/webp"]}}),
        _obj(["type", "url"], {"type": {"const": "url"}, "url": {"type": "string"}}),
    ]},
    "cache_control": CACHE_CONTROL,
})
DOCUMENT_BLOCK = _obj(["source", "type"], {
    "type": {"const": "document"},
    "source": {"oneOf": [
        _obj(["data", "media_type", "type"], {
            "type": {"const": "base64"}, "data": {"type": "string"}, "media_type": {"const": "application/pdf"}}),
        _obj(["data", "media_type", "type"], {
            "type": {"const": "text"}, "data": {"type": "string"}, "media_type": {"const": "text/plain"}}),
        _obj(["type", "url"], {"type": {"const": "url"}, "url": {"type": "string"}}),
    ]},
    "cache_control": CACHE_CONTROL,
    "citations": {"type": "object"},
    "context": _nullable({"type": "string"}),
    "title": _nullable({"type": "string"}),
})
THINKING_BLOCK = _obj(["signature", "thinking", "type"], {
    "type": {"const": "thinking"}, "thinking": {"type": "string"}, "signature": {"type": "string"}})
REDACTED_THINKING_BLOCK = _obj(["data", "type"], {"type": {"const": "redacted_thinking"}, "data": {"type": "string"}})
TOOL_USE_BLOCK = _obj(["id", "input", "name", "type"], {
    "type": {"const": "tool_use"}, "id": {"type": "string"}, "name": {"type": "string"},
    "input": {"type": "object"}, "cache_control": CACHE_CONTROL,
})
TOOL_RESULT_BLOCK = _obj(["tool_use_id", "type"], {
    "type": {"const": "tool_result"}, "tool_use_id": {"type": "string"},
    "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"oneOf": [TEXT_BLOCK, IMAGE_BLOCK]}}]},
    "is_error": {"type": "boolean"}, "cache_control": CACHE_CONTROL,
})
CONTENT_BLOCK = {"oneOf": [TEXT_BLOCK, IMAGE_BLOCK, DOCUMENT_BLOCK, THINKING_BLOCK, REDACTED_THINKING_BLOCK,
                           TOOL_USE_BLOCK, TOOL_RESULT_BLOCK]}
MESSAGE = {"oneOf": [
    _obj(["content", "role"], {
        "role": {"enum": ["user", "assistant"]},
        "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": CONTENT_BLOCK}]},
    }),
    # SDK 2.x `SystemMessageParam`: text only; taken by the models that accept a system turn mid-conversation
    # (see problems()).
    _obj(["content", "role"], {
        "role": {"const": "system"},
        "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": TEXT_BLOCK}]},
    }),
]}
INLINE_SYSTEM_MODELS = ("claude-opus-4-8", "claude-opus-5", "claude-sonnet-5", "claude-haiku-5", "claude-fable-5",
                        "claude-mythos-5")
"""Model-name prefixes of the models that take `role: system` inside `messages` (FEATURE_FACTS, 2026 models)."""
TOOL = _obj(["input_schema", "name"], {
    "name": {"type": "string"},
    "description": {"type": "string"},
    "input_schema": {"type": "object", "required": ["type"], "properties": {
        "type": {"const": "object"}, "properties": _nullable({"type": "object"}),
        "required": _nullable({"type": "array", "items": {"type": "string"}})}},
    "cache_control": CACHE_CONTROL,
    "type": _nullable({"const": "custom"}),
})
_PARALLEL = {"disable_parallel_tool_use": {"type": "boolean"}}
TOOL_CHOICE = {"oneOf": [
    _obj(["type"], {"type": {"const": "auto"}, **_PARALLEL}),
    _obj(["type"], {"type": {"const": "any"}, **_PARALLEL}),
    _obj(["name", "type"], {"type": {"const": "tool"}, "name": {"type": "string"}, **_PARALLEL}),
    _obj(["type"], {"type": {"const": "none"}}),
]}
_DISPLAY = _nullable({"enum": ["summarized", "omitted"]})
THINKING = {"oneOf": [
    _obj(["budget_tokens", "type"], {"type": {"const": "enabled"}, "budget_tokens": {"type": "integer"},
                                     "display": _DISPLAY}),
    _obj(["type"], {"type": {"const": "disabled"}}),
    _obj(["type"], {"type": {"const": "adaptive"}, "display": _DISPLAY}),
]}
MESSAGE_CREATE_PARAMS: dict[str, Any] = _obj(["max_tokens", "messages", "model"], {
    "max_tokens": {"type": "integer", "minimum": 0},
    "messages": {"type": "array", "items": MESSAGE},
    "model": {"type": "string"},
    "cache_control": CACHE_CONTROL,
    "container": {},
    "inference_geo": _nullable({"type": "string"}),
    "metadata": _obj([], {"user_id": _nullable({"type": "string"})}),
    "output_config": {"type": "object"},
    "service_tier": {"enum": ["auto", "standard_only"]},
    "stop_sequences": {"type": "array", "items": {"type": "string"}},
    "stream": {"type": "boolean"},
    "system": {"anyOf": [{"type": "string"}, {"type": "array", "items": TEXT_BLOCK}]},
    "temperature": {"type": "number", "minimum": 0, "maximum": 1},
    "thinking": THINKING,
    "tool_choice": TOOL_CHOICE,
    "tools": {"type": "array", "items": TOOL},
    "top_k": {"type": "integer", "minimum": 0},
    "top_p": {"type": "number", "minimum": 0, "maximum": 1},
})

VALIDATOR = Draft202012Validator(MESSAGE_CREATE_PARAMS)


def problems(body: Any) -> list[str]:
    """Schema violations, then the docstring rules: thinking budget ≥ 1024 and < max_tokens; messages start
    (after merging) with alternating roles is not required (the API merges consecutive turns)."""
    found = [f"{'/'.join(str(p) for p in e.absolute_path) or '<body>'}: {e.message}"
             for e in sorted(VALIDATOR.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))]
    if isinstance(body, dict) and not str(body.get("model", "")).startswith(INLINE_SYSTEM_MODELS):
        turns = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        found += [f"messages/{i}/role: a system turn inside messages is not taken by {body.get('model')!r}"
                  for i, m in enumerate(turns) if m.get("role") == "system"]
    thinking = body.get("thinking") if isinstance(body, dict) else None
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            found.append(f"thinking.budget_tokens: {budget!r} is below 1024")
        elif budget >= body.get("max_tokens", 0):
            found.append(f"thinking.budget_tokens: {budget} is not less than max_tokens {body.get('max_tokens')}")
    return found


# ---- the rendered bodies -------------------------------------------------------------------------------------------

RENDERED = [pytest.param(c, id=c.id) for c in load_cases("requests")
            if c.provider == "anthropic" and "error" not in c.expect]


def test_there_are_cases_to_check() -> None:
    assert len(RENDERED) >= 50


@pytest.mark.parametrize("case", RENDERED)
def test_rendered_body_is_a_message_create_params(case: Case) -> None:
    wire, _ = render(case)
    body = json.loads(wire.body)
    found = problems(body)
    assert not found, f"{case.where} ({case.id}):\n  " + "\n  ".join(found) + "\n" + json.dumps(body, indent=1)[:3000]


# ---- the schema accepts real requests and rejects wrong ones -------------------------------------------------------

# Recorded request bodies sent to the stable (non-beta) endpoint; beta-only fields (e.g. a mid-conversation
# `system` role, context management) are outside the SDK's stable types, so those recordings are not listed.
RECORDED = [
    "stream_text.request.json",
    "stream_stop_sequence.request.json",
    "stream_thinking_signature.request.json",
    "stream_thinking_then_tool_use.request.json",
    "stream_after_tool_result_with_thinking_history.request.json",
    "stream_text_after_parallel_tool_results.request.json",
    "stream_tool_use_parallel_noargs.request.json",
    "stream_adaptive_thinking.request.json",
    "stream_structured_output_json_schema.request.json",
    "response_thinking_then_tool_use.request.json",
    "response_tool_use_parallel.request.json",
    "response_toplevel_cache_control_cache_read.request.json",
]


@pytest.mark.parametrize("name", RECORDED)
def test_schema_accepts_a_recorded_request(name: str) -> None:
    body = json.loads((RECORDINGS / "anthropic" / name).read_bytes())
    assert not problems(body), problems(body)


_OK: dict[str, Any] = {"model": "claude-x", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
WRONG = [
    ("no_max_tokens", {k: v for k, v in _OK.items() if k != "max_tokens"}),
    ("system_role_in_messages", {**_OK, "messages": [{"role": "system", "content": "x"}]}),   # on claude-x
    ("system_turn_with_an_image", {**_OK, "model": "claude-opus-4-8", "messages": [{"role": "system", "content": [
        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]}]}),
    ("openai_tool_shape", {**_OK, "tools": [{"type": "function", "function": {"name": "f"}}]}),
    ("tool_choice_required", {**_OK, "tool_choice": {"type": "required"}}),
    ("tool_choice_none_with_parallel", {**_OK, "tool_choice": {"type": "none", "disable_parallel_tool_use": True}}),
    ("string_tool_input", {**_OK, "messages": [{"role": "assistant", "content": [
        {"type": "tool_use", "id": "t", "name": "f", "input": '{"a": 1}'}]}]}),
    ("image_url_block", {**_OK, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]}),
    ("cache_control_persistent", {**_OK, "system": [{"type": "text", "text": "s", "cache_control": {"type": "x"}}]}),
    ("thinking_without_signature", {**_OK, "messages": [{"role": "assistant", "content": [
        {"type": "thinking", "thinking": "t"}]}]}),
    ("thinking_budget_too_small", {**_OK, "max_tokens": 4096, "thinking": {"type": "enabled", "budget_tokens": 100}}),
    ("thinking_budget_not_below_max", {**_OK, "thinking": {"type": "enabled", "budget_tokens": 2048}}),
    ("adaptive_with_budget", {**_OK, "thinking": {"type": "adaptive", "budget_tokens": 2048}}),
    ("temperature_above_one", {**_OK, "temperature": 1.5}),
    ("stop_as_string", {**_OK, "stop_sequences": "END"}),
    ("openai_field", {**_OK, "presence_penalty": 0.5}),
    ("user_at_top_level", {**_OK, "user": "u-1"}),
]


@pytest.mark.parametrize(("label", "body"), WRONG, ids=[w[0] for w in WRONG])
def test_schema_rejects_a_wrong_body(label: str, body: dict[str, Any]) -> None:
    assert problems(body), f"{label}: accepted"


# ---- the CLI renders the same bodies --------------------------------------------------------------------------------

EVERY_BULLET = {
    "model": "claude-sonnet-4-5",
    "messages": [
        {"role": "system", "content": [{"type": "text", "text": "Rules.", "cache_control": {"type": "ephemeral"}}]},
        {"role": "user", "content": [
            {"type": "text", "text": "Look:"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}},
        ]},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "a"}'}}],
         "reasoning_details": [{"type": "thinking", "text": "hmm", "signature": "c2ln"},
                               {"type": "redacted_thinking", "data": "ZGF0YQ=="}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "found"},
        {"role": "system", "content": "Be brief now."},
    ],
    "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}},
              {"type": "function", "function": {"name": "now"}}],
    "tool_choice": {"type": "function", "function": {"name": "lookup"}},
    "parallel_tool_calls": False,
    "stop": "END",
    "user": "user-1",
    "temperature": 1.4,
    "top_p": 0.5,
    "presence_penalty": 1,
    "seed": 1,
    "provider_specific": {"top_k": 3, "thinking": {"budget_tokens": 8000}},
}


@pytest.mark.parametrize("stream", [False, True])
def test_cli_render(tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                    stream: bool) -> None:
    from vllora_llm.engine.registry import clear_cache
    from vllora_llm.tools.cli import main

    monkeypatch.delenv("VLLORA_SPEC_PATH", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-never-printed")
    clear_cache()
    request = tmp_path / "req.json"
    request.write_text(json.dumps(EVERY_BULLET))
    code = main(["spec", "render", "anthropic", str(request), *(["--stream"] if stream else [])])
    out, err = capsys.readouterr()
    assert code == 0, err
    wire = json.loads(out)
    assert wire["url"] == "https://api.anthropic.com/v1/messages"
    assert wire["headers"]["anthropic-version"] == "2023-06-01"
    assert wire["headers"]["x-api-key"] == "<redacted>" and "never-printed" not in out + err
    body = wire["body"]
    assert not problems(body), problems(body)
    assert body["max_tokens"] > body["thinking"]["budget_tokens"]
    assert [b["type"] for b in body["messages"][1]["content"]] == ["thinking", "redacted_thinking", "text", "tool_use"]
    assert body.get("stream") is (True if stream else None)
    for name in ("temperature", "top_p", "provider_specific.top_k", "presence_penalty", "seed", "max_tokens"):
        assert name in err, f"no warning for {name}"
