"""The rule keywords: a registry covering the schema, and one "when not to send" rule for all six keys.

Every "when not to send" key (`allow`, `unsupported`, `conflicts_with`, `unless`, `omit_when`, `requires`) is a
row: a rule, the request's other parameters, and what happens to a value the caller set (a warning code, or
silence when not sending it is how the provider says the value). The same condition holding for the rule's
`default` (a value the caller did not set) is always silent.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from vllora_llm.engine.errors import MappingError
from vllora_llm.engine.params import KEYWORDS, Policy, compile_rule
from vllora_llm.engine.transforms import Context

POLICY = Policy("acme", "warn")

ROWS: list[tuple[str, dict[str, Any], Any, dict[str, Any], str | None]] = [
    # (id, rule, the caller's value, the other parameters, the warning code or None for silence)
    ("allow", {"unsupported": True, "allow": [1]}, 1, {}, None),
    ("unsupported", {"unsupported": True, "note": "not for acme"}, 2, {}, "unsupported_parameter"),
    ("conflicts_with", {"conflicts_with": ["b"]}, 0.5, {"b": 1}, "unsupported_parameter"),
    ("conflicts_with values", {"conflicts_with": [{"param": "b", "values": ["x"]}]}, 0.5, {"b": "x"},
     "unsupported_parameter"),
    ("conflicts_with except", {"conflicts_with": [{"param": "b", "except": ["off"]}]}, 0.5, {"b": "on"},
     "unsupported_parameter"),
    ("unless", {"unless": "b"}, 10, {"b": 20}, "ignored_parameter"),
    ("omit_when", {"omit_when": {"b": "none"}}, [1], {"b": "none"}, None),
    ("omit_when list", {"omit_when": {"b": ["none", "off"]}}, [1], {"b": "off"}, None),
    ("requires", {"requires": ["b"]}, True, {}, "ignored_parameter"),
]


def _run(rule: dict[str, Any], value: Any, others: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[str]]:
    op, _ = compile_rule("a", rule, POLICY)
    body: dict[str, Any] = {}
    ctx = Context("acme")
    op(value, body, ctx, {**others, "a": value})
    return body, [w.code for w in ctx.warnings], [w.message for w in ctx.warnings]


@pytest.mark.parametrize(("rule", "value", "others", "code"), [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_a_value_the_caller_set_is_not_sent_with_a_warning_naming_it_unless_omission_expresses_it(
    rule: dict[str, Any], value: Any, others: dict[str, Any], code: str | None
) -> None:
    body, codes, messages = _run(rule, value, others)
    assert body == {}
    assert codes == ([] if code is None else [code])
    assert all(message.startswith("a ") for message in messages)  # the parameter, then the reason


@pytest.mark.parametrize(("rule", "value", "others", "code"), [row[1:] for row in ROWS if "unsupported" not in row[1]],
                         ids=[row[0] for row in ROWS if "unsupported" not in row[1]])
def test_the_same_condition_on_a_default_is_silent(
    rule: dict[str, Any], value: Any, others: dict[str, Any], code: str | None
) -> None:
    _, send_default = compile_rule("a", {**rule, "default": value, "default_warn": True}, POLICY)
    assert send_default is not None
    body: dict[str, Any] = {}
    ctx = Context("acme")
    send_default(body, ctx, others)
    assert (body, ctx.warnings) == ({}, [])


def test_without_the_condition_the_value_and_the_default_are_sent() -> None:
    assert _run({"unless": "b", "to": "x.y"}, 10, {}) == ({"x": {"y": 10}}, [], [])
    _, send_default = compile_rule("a", {"unless": "b", "default": 7, "default_warn": True}, POLICY)
    assert send_default is not None
    body: dict[str, Any] = {}
    ctx = Context("acme")
    send_default(body, ctx, {})
    assert body == {"a": 7}
    assert [w.code for w in ctx.warnings] == ["default_applied"]


def test_conditions_apply_in_the_declared_order_and_the_first_decides() -> None:
    rule = {"requires": ["c"], "unless": "b", "conflicts_with": ["b"]}  # (YAML order is not the order)
    _, codes, messages = _run(rule, 1, {"b": 1})
    assert codes == ["unsupported_parameter"] and "together with b" in messages[0]
    assert _run({"allow": [1], "conflicts_with": ["b"]}, 1, {"b": 1})[1] == []


def test_an_unsupported_value_under_the_error_policy_raises_naming_the_parameter() -> None:
    op, _ = compile_rule("a", {"conflicts_with": ["b"]}, Policy("acme", "error"))
    with pytest.raises(MappingError, match="a: not supported together with b"):
        op(1, {}, Context("acme"), {"a": 1, "b": 2})


def test_every_rule_key_of_the_schema_is_a_registered_keyword() -> None:
    schema = json.loads(resources.files("vllora_llm.specs").joinpath("schema", "provider-spec.v1.json").read_text())
    keys = schema["$defs"]["params"]["additionalProperties"]["oneOf"][0]["properties"]
    assert sorted(keys) == sorted(KEYWORDS)
