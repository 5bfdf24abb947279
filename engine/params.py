"""Parameter rules: one compiled closure per unified request parameter.

A rule is a mapping of keywords (`to`, `default`, `range`, `map`, `template`, `each`, `transform`,
`unsupported`, `allow`, `note`, `conflicts_with`, `unless`, `requires`, `omit_when`, `default_warn`). Each
keyword is one function with one signature, `keyword(rule, value, spec)`, registered in `KEYWORDS` (the way
python-jsonschema's keyword validators are a table): `compile_rule` calls the functions of the keywords a rule
has, in the table's declared order, and each adds to a `RuleBuilder` its "when not to send" conditions
(`SkipWhen`, skips.py), its value steps, its target or its default. Adding a keyword is adding one function and
one row. The result is a function `(value, body, ctx, present) -> None` that writes the provider's field into
the body or records a warning. Anything the spec does not mention falls to `policy.unsupported`.
"""

from __future__ import annotations

import copy
import functools
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import msgspec

from .codegen import FunctionBuilder
from .errors import MappingError
from .gateway import ChatCompletionRequest, ProviderSpecific
from .paths import PathError, deep_merge_into, split_path
from .skips import SELF, Policy, SkipWhen, not_sent
from .templates import compile_template
from .transforms import Context, bind

__all__ = ["KEYWORDS", "DefaultOp", "ParamOp", "Policy", "RuleBuilder", "compile_rule", "inline_rule",
           "rule_conditions", "unified_params"]

ParamOp = Callable[[Any, dict[str, Any], Context, Mapping[str, Any]], None]
DefaultOp = Callable[[dict[str, Any], Context, Mapping[str, Any]], None]
"""`(body, ctx, present)`: send a rule's default, when the request has no value for its parameter."""
Step = Callable[[Any, Context], Any]
"""One value step (range, map, each, transform): the value to send next, or None to send nothing."""


def unified_params() -> tuple[str, ...]:
    """Every parameter name a rule may name: request fields plus `provider_specific.<field>`."""
    names = [
        f
        for f in ChatCompletionRequest.__struct_fields__
        if f not in ("messages", "stream", "extra_body", "provider_specific", "mcp_servers")
    ]
    names += [f"provider_specific.{f}" for f in ProviderSpecific.__struct_fields__]
    return tuple(names)


class RuleBuilder:
    """What a rule's keywords compile into: its conditions, steps, target and default."""

    def __init__(self, name: str, policy: Policy) -> None:
        self.name = name
        self.policy = policy
        self.skips: list[SkipWhen] = []
        self.steps: list[Step] = []
        self.target = name.rsplit(".", 1)[-1]
        self.default: Any = msgspec.UNSET
        self.default_warn = False

    def build(self) -> tuple[ParamOp, DefaultOp | None]:
        """The rule lowered into generated functions (codegen.py): `param_<name>(value, body, ctx, present)`,
        its conditions tested inline, its steps called in order, the value stored with inline lookups; and
        `default_<name>(body, ctx, present)` sending the default through the same conditions and steps."""
        skips = tuple(self.skips)
        for index, skip in enumerate(skips):
            if skip.always:  # the value is never sent: no steps, no default
                return self._function("param", skips[: index + 1], (), None), None
        send = self._function("param", skips, tuple(self.steps), self.target)
        if self.default is msgspec.UNSET:
            return send, None
        return send, self._default_function(send, skips)

    def _function(self, kind: str, skips: tuple[SkipWhen, ...], steps: tuple[Step, ...],
                  target: str | None) -> ParamOp:
        code = FunctionBuilder(("value", "body", "ctx", "present"), f"{kind}_{_identifier(self.name)}")
        _emit_skips(code, self.name, skips, self.policy, by_caller=True)
        if target is None:
            code.line("return None")
        else:
            if steps or skips:  # (the path later warnings without a parameter name; as before)
                code.line(f"ctx.path = {code.bind(self.name)}")
            for step in steps:
                if step is _omitted:  # (nothing after it runs: the value is never sent)
                    code.line("return None")
                    break
                code.line(f"value = {code.bind(step)}(value, ctx)")
                code.line("if value is None: return None")
            else:
                _emit_put(code, target)
        function: ParamOp = code.build("None")
        if target is not None and not skips and steps in ((), (_omitted,)):  # (a plain write: the caller may inline it)
            _INLINE[function] = functools.partial(_emit_plain, self.name, target, bool(steps))
        return function

    def _default_function(self, send: ParamOp, skips: tuple[SkipWhen, ...]) -> DefaultOp:
        """What runs when the request has no value: the default, through the same conditions and steps (a
        condition that holds skips it silently: the caller did not set it)."""
        name, policy = self.name, self.policy
        message = f"{name} was not set; sent the default {self.default!r} ({policy.provider} requires a value)"
        code = FunctionBuilder(("body", "ctx", "present"), f"default_{_identifier(name)}")
        code.line(f"value = {code.bind(self.default)}")
        _emit_skips(code, name, skips, policy, by_caller=False)
        code.line(f"{code.bind(send)}(value, body, ctx, present)")
        if self.default_warn:
            code.line(f"ctx.warn('default_applied', {code.bind(message)}, {code.bind(name)})")
        function: DefaultOp = code.build("None")
        return function


def _identifier(name: str) -> str:
    return name.replace(".", "_")


def _emit_skips(code: FunctionBuilder, name: str, skips: tuple[SkipWhen, ...], policy: Policy, *,
                by_caller: bool) -> None:
    """Each condition inline, in order (`SkipWhen.holds`); the first that holds says why (`not_sent`) and returns."""
    for skip in skips:
        seen = "value"
        if skip.subject != SELF:
            seen = code.temp()
            code.line(f"{seen} = present.get({code.bind(skip.subject)})")
        if skip.absent:
            condition = f"{seen} is None"
        else:
            condition = f"{seen} is not None"
            if skip.values is not None:
                condition += f" and {seen} in {code.bind(skip.values)}"
            if skip.excepted:
                condition += f" and {seen} not in {code.bind(skip.excepted)}"
        code.line(f"if {condition}:")
        if by_caller and skip.outcome != "expressed":  # (`not_sent` says nothing otherwise)
            why = f"{code.bind(name)}, {code.bind(skip)}, ctx, {code.bind(policy)}, True"
            code.line(f"    {code.bind(not_sent)}({why})")
        code.line("    return None")


class InlineRule(Protocol):
    """`emit(code, value, new_body=...)`: a rule's lines for the value in the local `value` (what a caller writes
    instead of calling its function); `new_body`: the local `body` is made by these lines (its first value)."""

    def __call__(self, code: FunctionBuilder, value: str, *, new_body: bool = False) -> None: ...


_INLINE: weakref.WeakKeyDictionary[ParamOp, InlineRule] = weakref.WeakKeyDictionary()


def inline_rule(op: ParamOp) -> InlineRule | None:
    """For a rule's function that only writes its value (or, omitted, only names its path): its `InlineRule`;
    else None."""
    return _INLINE.get(op)


def _emit_plain(name: str, target: str, omitted: bool, code: FunctionBuilder, value: str, *,
                new_body: bool = False) -> None:
    if omitted:
        if new_body:
            code.line("body = {}")
        code.line(f"ctx.path = {code.bind(name)}")  # (what the function does: the path; nothing is written)
    else:
        _emit_put(code, target, value, new_body=new_body)


def _emit_put(code: FunctionBuilder, target: str, value: str = "value", *, new_body: bool = False) -> None:
    """`compile_setter(target)(body, value)` inline: intermediate objects created, an object deep-merged into
    an object already there. `new_body`: the body does not exist yet and this is its first value: one display
    makes it (`body = {'model': model}`)."""
    steps = split_path(target)
    if not all(isinstance(p, str) for p in steps):
        raise PathError(f"{target!r}: a target path cannot index into lists")
    *parents, last = [str(p) for p in steps]
    if new_body:
        display = value
        for key in reversed((*parents, last)):
            display = f"{{{code.bind(key)}: {display}}}"
        code.line(f"body = {display}")
        return
    holder = "body"
    for key in parents:
        inner, name = code.temp(), code.bind(key)
        code.line(f"{inner} = {holder}.get({name})")
        code.line(f"if type({inner}) is not dict:")
        code.line(f"    {inner} = {holder}[{name}] = {{}}")
        holder = inner
    existing, name = code.temp(), code.bind(last)
    code.line(f"if type({value}) is dict and type({existing} := {holder}.get({name})) is dict:")
    code.line(f"    {code.bind(deep_merge_into)}({existing}, {value})")
    code.line("else:")
    code.line(f"    {holder}[{name}] = {value}")


Keyword = Callable[[RuleBuilder, Any, Mapping[str, Any]], None]
"""`keyword(rule, value, spec)`: add what the keyword's `value` means to `rule`; `spec` is the whole rule (for
the keywords that qualify another, such as `note`)."""


def _allow(rule: RuleBuilder, value: Any, spec: Mapping[str, Any]) -> None:
    """Values not sent, silently, because the provider already behaves so (`n: [1]`)."""
    rule.skips.append(SkipWhen(SELF, "expressed", "the provider already behaves so", values=tuple(value or ())))


def _unsupported(rule: RuleBuilder, value: Any, spec: Mapping[str, Any]) -> None:
    """Never sent: the policy's verdict (`true`) or the rule's own; `note` is the reason."""
    action = rule.policy.default if value is True else str(value)
    rule.skips.append(SkipWhen(SELF, "unsupported", str(spec.get("note") or ""), action=action))


def _conflicts_with(rule: RuleBuilder, value: Any, spec: Mapping[str, Any]) -> None:
    """Unsupported while another parameter is set (or has one of `values`, or any value but `except`)."""
    for entry in value or ():
        if isinstance(entry, str):
            other, values, excepted = entry, None, ()
        else:
            found = entry.get("values")
            other, values = str(entry["param"]), tuple(found) if found is not None else None
            excepted = tuple(entry.get("except") or ())
        rule.skips.append(SkipWhen(other, "unsupported", f"not supported together with {other}", values=values,
                                   excepted=excepted, action=rule.policy.default))


def _unless(rule: RuleBuilder, value: Any, spec: Mapping[str, Any]) -> None:
    """Ignored while the named parameter (the one that replaces this one) is set."""
    if value:
        rule.skips.append(SkipWhen(str(value), "ignored", f"{value} is set"))


def _omit_when(rule: RuleBuilder, value: Any, spec: Mapping[str, Any]) -> None:
    """Not sent, silently, when another parameter has one of the values: how the provider says that value."""
    for other, values in (value or {}).items():
        rule.skips.append(SkipWhen(str(other), "expressed", f"not sending it is how {rule.policy.provider} says "
                                   f"{other}", values=tuple(values if isinstance(values, list) else [values])))


def _requires(rule: RuleBuilder, value: Any, spec: Mapping[str, Any]) -> None:
    """Ignored unless every named parameter is set."""
    for needed in value or ():
        rule.skips.append(SkipWhen(str(needed), "ignored", f"{needed} is not set", absent=True))


def _range(rule: RuleBuilder, value: Any, spec: Mapping[str, Any]) -> None:
    rule.steps.append(_range_step(rule.name, value, rule.policy))


def _map(rule: RuleBuilder, value: Any, spec: Mapping[str, Any]) -> None:
    """A scalar → provider value table; values not in it go to `template` when there is one."""
    rule.steps.append(_map_step(value, spec.get("template"), rule.name))


def _template(rule: RuleBuilder, value: Any, spec: Mapping[str, Any]) -> None:
    if "map" not in spec:  # (with a `map`, the map step renders the values it does not hold)
        rule.steps.append(_map_step(None, value, rule.name))


def _each(rule: RuleBuilder, value: Any, spec: Mapping[str, Any]) -> None:
    each = compile_template(value, ("params", rule.name, "each"))

    def map_each(item: Any, ctx: Context) -> Any:
        return [each(entry, ctx) for entry in item] if isinstance(item, list) else each(item, ctx)

    rule.steps.append(map_each)


def _transform(rule: RuleBuilder, value: Any, spec: Mapping[str, Any]) -> None:
    name = value if isinstance(value, str) else value["name"]
    if name == "omit":  # (what `omit` does, known to the generated function: no call)
        bind(name, {} if isinstance(value, str) else value.get("args"))  # (its arguments checked all the same)
        rule.steps.append(_omitted)
        return
    rule.steps.append(bind(value, {}) if isinstance(value, str) else bind(value["name"], value.get("args")))


def _omitted(value: Any, ctx: Context) -> None:
    """The `omit` transform's step: the value is written nowhere."""
    return None


def _to(rule: RuleBuilder, value: Any, spec: Mapping[str, Any]) -> None:
    if value:
        rule.target = str(value)


def _default(rule: RuleBuilder, value: Any, spec: Mapping[str, Any]) -> None:
    rule.default = value


def _default_warn(rule: RuleBuilder, value: Any, spec: Mapping[str, Any]) -> None:
    """A default that is sent comes with a warning saying so (the provider requires a value)."""
    rule.default_warn = bool(value)


def _read_elsewhere(rule: RuleBuilder, value: Any, spec: Mapping[str, Any]) -> None:
    """A keyword another keyword reads (`note`, the reason `unsupported` gives)."""


KEYWORDS: dict[str, Keyword] = {
    # when not to send (tested in this order; the first that holds decides)
    "allow": _allow,
    "unsupported": _unsupported,
    "note": _read_elsewhere,
    "conflicts_with": _conflicts_with,
    "unless": _unless,
    "omit_when": _omit_when,
    "requires": _requires,
    # the value's steps (run in this order)
    "range": _range,
    "map": _map,
    "template": _template,
    "each": _each,
    "transform": _transform,
    # where it goes, and what is sent when the request has no value
    "to": _to,
    "default": _default,
    "default_warn": _default_warn,
}
"""Every rule keyword and its function, in the order they apply."""


def compile_rule(name: str, rule: Mapping[str, Any] | None, policy: Policy) -> tuple[ParamOp, DefaultOp | None]:
    """The per-call op for one parameter's value, and the op sending its default (None: it has none)."""
    return _builder(name, rule, policy).build()


def rule_conditions(name: str, rule: Mapping[str, Any] | None, policy: Policy) -> tuple[SkipWhen, ...]:
    """The "when not to send" conditions a rule compiles into, in the order they are tested (for docs)."""
    return tuple(_builder(name, rule, policy).skips)


def _builder(name: str, rule: Mapping[str, Any] | None, policy: Policy) -> RuleBuilder:
    if rule is None:
        rule = {"unsupported": True}
    builder = RuleBuilder(name, policy)
    for key, keyword in KEYWORDS.items():
        if key in rule:
            keyword(builder, rule[key], rule)
    return builder


def _range_step(name: str, bounds: Mapping[str, Any], policy: Policy) -> Step:
    low = bounds.get("min")
    high = bounds.get("max")
    action = bounds.get("action", "clamp")

    def check(value: Any, ctx: Context) -> Any:
        if not isinstance(value, (int, float)):
            return value
        limit = low if low is not None and value < low else high if high is not None and value > high else None
        if limit is None:
            return value
        message = f"{name}={value} is outside {policy.provider}'s range [{low}, {high}]"
        if action == "error":
            raise MappingError(f"{name}: {message}", path=name, provider=policy.provider)
        ctx.warn("clamped_parameter", f"{message}; sent {limit}", name)
        return limit

    return check


def _map_step(table: Mapping[Any, Any] | None, template: Any, name: str) -> Step:
    lookup = dict(table or {})
    render = compile_template(template, ("params", name, "template")) if template is not None else None

    def map_value(value: Any, ctx: Context) -> Any:
        if isinstance(value, (str, int, float, bool)) and value in lookup:
            found = lookup[value]  # a copy of a mapped object: later rules may write into it
            return copy.deepcopy(found) if isinstance(found, (dict, list)) else found
        if render is not None:
            return render(value, ctx)
        return value

    return map_value
