"""When not to send a value: the one concept behind `allow`, `unsupported`, `conflicts_with`, `unless`,
`omit_when` and `requires`.

Each of those rule keys compiles into `SkipWhen` conditions (what a v2 syntax desugars into as well): a test on
one parameter's value (this rule's own value, or another parameter of the request), an outcome and a reason.
A rule's conditions are tested in the order its keywords are declared (params.py), before any step runs; the
first that holds decides, and the value is not sent.

The one warning rule (`not_sent`): a value the caller did not set (a rule's `default`) is skipped silently; a
value the caller set that is not sent comes back as a warning value naming the parameter and the reason, except
when not sending it *is* how the provider says that value (outcome `expressed`: nothing the caller asked for
is lost). An `unsupported` outcome follows the unsupported policy (`error` raises a `MappingError` instead).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .errors import MappingError
from .transforms import Context

SELF = ""
"""The subject of a condition on the rule's own value."""

Outcome = Literal["expressed", "ignored", "unsupported"]
"""What not sending means: `expressed` (the provider already behaves so, or says the value by its absence:
silent), `ignored` (another parameter replaces or is missing for this one: warning `ignored_parameter`),
`unsupported` (the provider cannot take it: the unsupported policy, warning `unsupported_parameter`)."""


@dataclass(frozen=True, slots=True)
class Policy:
    """The spec's `policy.unsupported` (error | warn | drop) and the provider's name for messages."""

    provider: str
    default: str

    def unsupported(self, name: str, action: str, ctx: Context, reason: str | None = None) -> None:
        why = reason or f"not supported by {self.provider}"
        if action == "error":
            raise MappingError(f"{name}: {why}", path=name, provider=self.provider)
        ctx.warn("unsupported_parameter", f"{name} is {why}; it was not sent", name)


@dataclass(frozen=True, slots=True)
class SkipWhen:
    """One compiled "when not to send" condition of a parameter rule.

    It holds when `subject` (SELF: the rule's own value) is set and, if `values` is given, one of them, and not
    one of `excepted`; with `absent`, when the subject is not set. `reason` is the why of the warning (or of the
    error), `action` the unsupported policy's verdict for an `unsupported` outcome."""

    subject: str
    outcome: Outcome
    reason: str = ""
    values: tuple[Any, ...] | None = None
    excepted: tuple[Any, ...] = ()
    absent: bool = False
    action: str = "warn"

    def holds(self, value: Any, present: Mapping[str, Any]) -> bool:
        seen = value if self.subject == SELF else present.get(self.subject)
        if self.absent:
            return seen is None
        return seen is not None and (self.values is None or seen in self.values) and seen not in self.excepted

    def describe(self) -> str:
        """The condition in words, for generated documentation (`spec docs`)."""
        subject = "the value" if self.subject == SELF else f"`{self.subject}`"
        if self.absent:
            when = f"{subject} is not set"
        elif self.values is None:
            when = "always" if self.subject == SELF else f"{subject} is set"
        else:
            when = f"{subject} is " + " or ".join(_shown(v) for v in self.values)
        if self.excepted:
            when += " (except " + ", ".join(_shown(v) for v in self.excepted) + ")"
        verdict = {"expressed": "silently (the provider says it so)", "ignored": "with an `ignored_parameter` warning",
                   "unsupported": f"unsupported ({self.action})"}[self.outcome]
        note = f" — {self.reason}" if self.reason and self.subject == SELF and self.outcome != "expressed" else ""
        return f"{when}: not sent, {verdict}{note}"   # a condition on another parameter says its reason itself

    @property
    def always(self) -> bool:
        """True when the rule's own value is never sent (an `unsupported` rule with no allowed value first)."""
        return self.subject == SELF and self.values is None and not self.absent


def not_sent(name: str, skip: SkipWhen, ctx: Context, policy: Policy, by_caller: bool) -> None:
    """The one warning rule for a value of parameter `name` that `skip` keeps from being sent."""
    if not by_caller or skip.outcome == "expressed":
        return
    if skip.outcome == "unsupported":
        policy.unsupported(name, skip.action, ctx, skip.reason or None)
    else:
        ctx.warn("ignored_parameter", f"{name} was not sent because {skip.reason}", name)


def _shown(value: Any) -> str:
    import json

    return "`" + json.dumps(value, separators=(", ", ": ")) + "`"
