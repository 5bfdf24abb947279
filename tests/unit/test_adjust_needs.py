"""`adjust` rules are skipped when the body's JSON lacks what they need: that must never change a request.

Two checks. Each transform that declares `needs`, on random bodies and on its own examples: when a needed
group does not occur in the input's JSON, the transform returns the input unchanged, with no warning and no
error (the declaration is sound). And every shipped spec with `adjust` rules renders the same wire request
(body bytes and warnings) with skipping on and off, over the conformance request cases and hand-made
requests that make each rule act.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vllora_llm.engine.errors import LLMError
from vllora_llm.engine.gateway import ChatCompletionRequest
from vllora_llm.engine.registry import discover, load_plan, load_spec
from vllora_llm.engine.transforms import REGISTRY, Context, needs_of

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance" / "requests"
WITH_NEEDS = sorted(name for name, t in REGISTRY.items() if t.needs is not None)

KEYS = st.sampled_from(["messages", "content", "role", "type", "text", "tools", "tool_use", "tool_result",
                        "cache_control", "max_tokens", "thinking", "budget_tokens", "assistant", "toolConfig",
                        "toolUse", "name", "mark", "call", "tool_choice"])
SCALARS = st.none() | st.booleans() | st.integers(-3, 5000) | KEYS | st.text(max_size=4)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
                      max_leaves=14)
BODIES = st.dictionaries(KEYS, VALUES, max_size=5)


def args_for(name: str) -> list[dict[str, Any]]:
    """The args each transform is used with: its examples' and the shipped specs' `adjust` entries."""
    found = [dict(example.args) for example in REGISTRY[name].examples]
    for spec in specs_with_adjust():
        for entry in spec["adjust"]:
            ref = entry["transform"]
            if isinstance(ref, dict) and ref["name"] == name:
                found.append(dict(ref.get("args") or {}))
    return found


@functools.cache  # read once: every example asks (reading the YAML each time made this test take minutes)
def specs_with_adjust() -> list[dict[str, Any]]:
    """The shipped specs with `adjust` entries, in the compiler's form (`{at, transform: {name, args}}`)."""
    return [spec for name in sorted(discover()) if (spec := load_spec(name)).get("adjust")]


def lacks(needs: tuple[tuple[str, ...], ...], value: Any) -> bool:
    probe = msgspec.json.encode(value)
    return any(not any(msgspec.json.encode(text) in probe for text in group) for group in needs)


def test_the_body_transforms_declare_what_they_need() -> None:
    assert {"raise_above", "limit_marks", "trim_final_text", "require_for_blocks", "declare_used_tools"} <= set(
        WITH_NEEDS)


@pytest.mark.parametrize("name", WITH_NEEDS)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODIES | st.lists(BODIES, max_size=3))
def test_a_transform_without_what_it_needs_changes_nothing(name: str, body: Any) -> None:
    for args in args_for(name):
        needs = needs_of(name, args)
        if needs is None or not lacks(needs, body):
            continue
        before = copy.deepcopy(body)
        ctx = Context("test")
        result = REGISTRY[name].factory(args)(body, ctx)
        assert result == before and body == before, (name, args)
        assert ctx.warnings == []


@pytest.mark.parametrize("name", WITH_NEEDS)
def test_the_examples_that_act_have_what_they_need(name: str) -> None:
    """An example whose output differs from its input acted: its input must not be one the plan skips."""
    for example in REGISTRY[name].examples:
        needs = needs_of(name, example.args)
        if needs is not None and example.output != example.input:
            assert not lacks(needs, example.input), (name, example)


def acting_requests() -> list[dict[str, Any]]:
    """Requests that make anthropic's and bedrock's rules act (and a plain one)."""
    tool = {"type": "function", "function": {"name": "get", "parameters": {"type": "object"}}}
    call = {"id": "c1", "type": "function", "function": {"name": "get", "arguments": "{}"}}
    marked = [{"type": "text", "text": f"t{i}", "cache_control": {"type": "ephemeral"}} for i in range(6)]
    return [
        {"messages": [{"role": "user", "content": "hi"}]},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Sure: "}]},
        {"messages": [{"role": "user", "content": marked}], "max_tokens": 100},
        {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100,
         "provider_specific": {"thinking": {"type": "enabled", "budget_tokens": 2048}}},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None, "tool_calls": [call]},
                      {"role": "tool", "tool_call_id": "c1", "content": "42"}]},
        {"messages": [{"role": "user", "content": "hi"}], "tools": [tool], "parallel_tool_calls": False},
    ]


def conformance_requests() -> list[dict[str, Any]]:
    out = []
    for path in sorted(CONFORMANCE.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text()) or ():
            if isinstance(case, dict) and isinstance(case.get("given"), dict):
                out.append(case["given"])
    return out


def render(plan: Any, request: ChatCompletionRequest, skip: bool) -> tuple[bytes, list[str]] | str:
    encoder = plan.encoder_for(request.model)
    encoder.skip_unneeded_adjust = skip
    try:
        wire, warnings = plan.encode(request, base_url="http://127.0.0.1:1")
    except LLMError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        encoder.skip_unneeded_adjust = True
    return wire.body, [w.message for w in warnings]


@pytest.mark.parametrize("provider", sorted(p for p in discover() if load_plan(p).encoder_for("m").adjust))
def test_skipping_rules_renders_the_same_requests(provider: str) -> None:
    plan = load_plan(provider)
    requests = [*conformance_requests(), *acting_requests()]
    acted = 0
    for data in requests:
        data = {"model": data.get("model", "some-model"), **data}
        try:
            request = ChatCompletionRequest.coerce(copy.deepcopy(data))
        except LLMError:
            continue
        skipped, full = render(plan, request, True), render(plan, request, False)
        assert skipped == full, json.dumps(data)[:300]
        acted += isinstance(full, tuple) and bool(full[1])
    assert acted >= 2, "the hand-made requests should make some rules act (warnings)"
