"""Parameter rules: one compiled closure per unified request parameter.

A rule (`to`, `default`, `range`, `map`, `template`, `each`, `transform`, `unsupported`, `allow`,
`conflicts_with`, `unless`, `requires`, `omit_when`) compiles into a function `(value, body, ctx, present) ->
None` that writes the provider's field into the body or records a warning. Anything the spec does not mention
falls to `policy.unsupported`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from .errors import MappingError
from .gateway import ChatCompletionRequest, ProviderSpecific
from .paths import compile_setter
from .templates import compile_template
from .transforms import Context, bind

ParamOp = Callable[[Any, dict[str, Any], Context, Mapping[str, Any]], None]


def unified_params() -> tuple[str, ...]:
    """Every parameter name a rule may name: request fields plus `provider_specific.<field>`."""
    names = [
        f
        for f in ChatCompletionRequest.__struct_fields__
        if f not in ("messages", "stream", "extra_body", "provider_specific", "mcp_servers")
    ]
    names += [f"provider_specific.{f}" for f in ProviderSpecific.__struct_fields__]
    return tuple(names)


@dataclass(frozen=True, slots=True)
class Policy:
    provider: str
    default: str  # error | warn | drop

    def unsupported(self, name: str, action: str, ctx: Context, reason: str | None = None) -> None:
        why = reason or f"not supported by {self.provider}"
        if action == "error":
            raise MappingError(f"{name}: {why}", path=name, provider=self.provider)
        ctx.warn("unsupported_parameter", f"{name} is {why}; it was not sent", name)


def compile_rule(name: str, rule: Mapping[str, Any] | None, policy: Policy) -> tuple[ParamOp, Any]:
    """The per-call op for one parameter, and its declared default (or msgspec.UNSET)."""
    if rule is None:
        rule = {"unsupported": True}
    action = rule.get("unsupported")
    if action is not None:
        verdict = policy.default if action is True else str(action)
        note = rule.get("note")
        allowed = tuple(rule.get("allow") or ())

        def unsupported(value: Any, body: dict[str, Any], ctx: Context, present: Mapping[str, Any]) -> None:
            if value in allowed:
                return  # the provider's fixed behaviour already is this value (e.g. n = 1)
            policy.unsupported(name, verdict, ctx, note)

        return unsupported, msgspec.UNSET

    target = rule.get("to") or name.rsplit(".", 1)[-1]
    put = compile_setter(target)
    steps: list[Callable[[Any, Context], Any]] = []

    if "range" in rule:
        steps.append(_range_step(name, rule["range"], policy))
    if "map" in rule or "template" in rule:
        steps.append(_map_step(rule.get("map"), rule.get("template"), name))
    if "each" in rule:
        each = compile_template(rule["each"], ("params", name, "each"))

        def map_each(value: Any, ctx: Context) -> Any:
            return [each(item, ctx) for item in value] if isinstance(value, list) else each(value, ctx)

        steps.append(map_each)
    if "transform" in rule:
        ref = rule["transform"]
        steps.append(bind(ref, {}) if isinstance(ref, str) else bind(ref["name"], ref.get("args")))

    conflicts = tuple(_conflict(entry) for entry in rule.get("conflicts_with") or ())
    unless = rule.get("unless")
    requires = tuple(rule.get("requires") or ())
    omit_when = tuple((str(k), tuple(v if isinstance(v, list) else [v]))
                      for k, v in (rule.get("omit_when") or {}).items())
    noop = tuple(rule.get("allow") or ())
    run = tuple(steps)

    if not (noop or conflicts or unless is not None or omit_when or requires or run):

        def store(value: Any, body: dict[str, Any], ctx: Context, present: Mapping[str, Any]) -> None:
            put(body, value)  # a plain rename (or the same name): nothing to check or convert

        return store, rule.get("default", msgspec.UNSET)

    def apply(value: Any, body: dict[str, Any], ctx: Context, present: Mapping[str, Any]) -> None:
        if value in noop:
            return  # the provider already behaves so when the field is absent (e.g. parallel tool calls)
        for other, values, exempt in conflicts:
            seen = present.get(other)
            if seen is not None and (values is None or seen in values) and seen not in exempt:
                policy.unsupported(name, policy.default, ctx, f"not supported together with {other}")
                return
        if unless is not None and present.get(unless) is not None:
            ctx.warn("ignored_parameter", f"{name} was not sent because {unless} is set", name)
            return
        for other, values in omit_when:
            if present.get(other) in values:
                return  # how the provider says the other parameter's value (e.g. no tools for "none")
        for needed in requires:
            if present.get(needed) is None:
                ctx.warn("ignored_parameter", f"{name} was not sent because {needed} is not set", name)
                return
        ctx.path = name
        for step in run:
            value = step(value, ctx)
            if value is None:
                return
        put(body, value)

    return apply, rule.get("default", msgspec.UNSET)


def _conflict(entry: Any) -> tuple[str, tuple[Any, ...] | None, tuple[Any, ...]]:
    """A `conflicts_with` entry: a parameter name, or `{param, values, except}` (only those values conflict,
    or every value but the excepted ones)."""
    if isinstance(entry, str):
        return entry, None, ()
    values = entry.get("values")
    return str(entry["param"]), tuple(values) if values is not None else None, tuple(entry.get("except") or ())


def _range_step(name: str, bounds: Mapping[str, Any], policy: Policy) -> Callable[[Any, Context], Any]:
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


def _map_step(table: Mapping[Any, Any] | None, template: Any, name: str) -> Callable[[Any, Context], Any]:
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
