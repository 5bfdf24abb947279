"""Parameter rules lowered into generated functions (params.py `RuleBuilder.build`).

Each rule is one function `param_<name>` (and `default_<name>` when it has a default) whose source is registered
in `linecache`; the store into the body is inline and keeps the setter's semantics: intermediate objects are
created, an object meets an object already there by a deep merge, anything else replaces what was there.
"""

from __future__ import annotations

import linecache
from typing import Any

import pytest

from vllora_llm.engine.params import Policy, compile_rule
from vllora_llm.engine.paths import PathError
from vllora_llm.engine.transforms import Context

POLICY = Policy("acme", "warn")

ROWS: list[tuple[str, str, Any, dict[str, Any], dict[str, Any]]] = [
    # (id, target, value, body before, body after)
    ("new nested", "a.b.c", 1, {}, {"a": {"b": {"c": 1}}}),
    ("into existing", "a.b", 2, {"a": {"x": 0}}, {"a": {"x": 0, "b": 2}}),
    ("object merged", "a", {"y": 1, "z": {"k": 2}}, {"a": {"x": 0, "z": {"j": 1}}},
     {"a": {"x": 0, "y": 1, "z": {"j": 1, "k": 2}}}),
    ("non-object replaced", "a.b", 3, {"a": 7}, {"a": {"b": 3}}),
    ("list replaced", "a", [1], {"a": {"x": 0}}, {"a": [1]}),
]


@pytest.mark.parametrize(("target", "value", "before", "after"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_inline_store_keeps_the_setter_semantics(target: str, value: Any, before: dict[str, Any],
                                                  after: dict[str, Any]) -> None:
    op, _ = compile_rule("p", {"to": target}, POLICY)
    op(value, before, Context("acme"), {})
    assert before == after


def test_generated_functions_are_named_and_in_linecache() -> None:
    op, default = compile_rule("provider_specific.top_k", {"to": "k", "default": 5, "unless": "x"}, POLICY)
    assert default is not None
    body: dict[str, Any] = {}
    ctx = Context("acme")
    default(body, ctx, {})
    assert body == {"k": 5} and ctx.path == "provider_specific.top_k"
    for function, name in ((op, "param_provider_specific_top_k"), (default, "default_provider_specific_top_k")):
        filename = function.__code__.co_filename  # type: ignore[attr-defined]
        assert filename.startswith(f"vllora-llm/generated/{name}_")
        assert f"def {name}(" in "".join(linecache.getlines(filename))


def test_a_target_indexing_a_list_is_refused() -> None:
    with pytest.raises(PathError, match="cannot index into lists"):
        compile_rule("p", {"to": "a[0].b"}, POLICY)


@pytest.mark.parametrize(("rule", "inlined"), [
    ({"to": "a.b"}, True), ({"to": "model"}, True), ({"transform": "omit"}, True),
    ({"to": "a", "range": {"min": 0, "max": 1}}, False), ({"to": "a", "unless": {"at": "n", "values": [2]}}, False),
])
def test_a_plain_rule_is_inlined_by_its_caller_with_the_same_effect(rule: Any, inlined: bool) -> None:
    """`inline_rule`: a rule that only writes its value (or, omitted, only names its path) gives its lines to
    the caller (map_body writes the model's so); they do what calling its function does."""
    from vllora_llm.engine.codegen import FunctionBuilder
    from vllora_llm.engine.params import inline_rule

    op, _ = compile_rule("model", rule, POLICY)
    emit = inline_rule(op)
    assert (emit is not None) == inlined
    if emit is None:
        return
    code = FunctionBuilder(("given", "body", "ctx"), "write")
    emit(code, "given")
    write = code.build("None")
    for value, before in (("m", {}), ({"k": 1}, {"a": {"b": {"j": 2}}, "model": {"x": 0}})):
        called, inline = dict(before), dict(before)
        ctx_called, ctx_inline = Context("acme"), Context("acme")
        op(value, called, ctx_called, {})
        write(value, inline, ctx_inline)
        assert (called, ctx_called.path) == (inline, ctx_inline.path)
