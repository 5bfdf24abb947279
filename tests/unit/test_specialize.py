"""`specialize`: an object template over a known item shape, lowered into a function of the item's values.

The plain-conversation path builds each text part, each turn and the lifted system value with it, so a
specialized function must give exactly what the general template gives, and anything whose value could depend
on the params in another way must not be specialized.
"""

from __future__ import annotations

from typing import Any

import pytest

from vllora_llm.engine.registry import load_plan
from vllora_llm.engine.templates import compile_template, specialize
from vllora_llm.engine.transforms import Context

TEXTS = ["hi", "", "ünï", "x" * 40, "$text"]

QUALIFYING = [
    {"type": "text", "text": "$text"},
    {"text": "$text"},
    {"type": "text", "text": "$.text", "cache_control": {"$op": "fill_defaults", "in": "$cache_control",
                                                          "defaults": {"type": "ephemeral"}}},
    {"kind": "$type", "body": "$text", "n": 3, "flag": True, "absent": "$nothing"},
]


@pytest.mark.parametrize("template", QUALIFYING)
def test_a_specialized_template_builds_what_the_template_builds(template: dict[str, Any]) -> None:
    built = specialize(template, {"type": "text"}, ("text",))
    assert built is not None
    general = compile_template(template)
    for text in TEXTS:
        expected = general({"type": "text", "text": text}, Context())
        assert built(text) == expected
        assert list(built(text)) == list(expected)  # the same key order


def test_a_turn_and_a_system_value() -> None:
    turn = specialize({"role": "$role", "content": "$parts"}, {}, ("role", "parts"))
    assert turn is not None and turn("user", [{"text": "a"}]) == {"role": "user", "content": [{"text": "a"}]}
    system = specialize({"parts": "$parts"}, {}, ("parts", "text"))
    assert system is not None and system([{"text": "a"}], "a") == {"parts": [{"text": "a"}]}


@pytest.mark.parametrize("template", [
    "$text",  # not an object
    {"$op": "wrap", "key": "k", "in": "$text"},  # a call at the top
    {"text": {"$op": "wrap", "key": "k", "in": "$text"}},  # a param read through a transform
    {"text": "$text.inner"},  # a path into a param
    {"all": "$"},  # the whole item
    {"text": "$text", "list": [1, 2]},  # a constant that is not a scalar (it would be shared between calls)
    {"text": "$text", "obj": {"a": 1}},
    {"text": "$text", "bad": {"$op": "require", "message": "needed", "in": "$nothing"}},  # fails on every call
])
def test_anything_else_is_not_specialized(template: Any) -> None:
    assert specialize(template, {"type": "text"}, ("text",)) is None


@pytest.mark.parametrize("provider", ["anthropic", "gemini", "bedrock"])
def test_the_shipped_template_specs_take_the_direct_builders(provider: str) -> None:
    mapper = load_plan(provider).encoder_for("some-model").messages.__self__  # type: ignore[attr-defined]
    assert mapper.text_of is not None and mapper.turn_of is not None
    assert (mapper.system_of is not None) == (mapper.system_template is not None)


@pytest.mark.parametrize("provider", ["anthropic", "gemini", "bedrock"])
def test_the_shipped_builders_match_their_templates(provider: str) -> None:
    mapper = load_plan(provider).encoder_for("some-model").messages.__self__  # type: ignore[attr-defined]
    for text in TEXTS:
        expected = mapper.text_part({"type": "text", "text": text}, Context(provider))
        assert mapper.text_of(text) == expected and list(mapper.text_of(text)) == list(expected)
        parts = [mapper.text_of(text)]
        for role in ("user", "assistant", "model"):
            assert mapper.turn_of(role, parts) == mapper.turn({"role": role, "parts": parts}, Context(provider))
        if mapper.system_of is not None:
            for value in (text, parts):
                assert mapper.system_of(value, text) == mapper.system_template({"parts": value, "text": text},
                                                                                Context(provider))
