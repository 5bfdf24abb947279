"""Mappings that yield nothing at run time: a warning value instead of silence.

Why: a typo in a response or stream path (`$delta.mesage.content.text`) validates clean and then gives empty
answers that still end with a finish reason and usage. When every non-empty payload a rule got (the events of
one name, the content parts of one kind) gave nothing, and the whole answer holds none of the parts that rule
declares (text, reasoning, tool calls, ...), the answer carries a `RequestWarning` (code `mapping_yielded_nothing`)
naming the spec rule and the event type or part kind.

The cost is kept off the hot path: a rule's empty result is recorded when it happens (rare in a correct spec);
what the answer gave is the set of part names the decoders already see.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .gateway import ChatCompletionMessage, RequestWarning

CODE = "mapping_yielded_nothing"


def declared_parts(template: Any) -> frozenset[str]:
    """The part names a parts template can give (an empty template `{}` declares none: it means "nothing")."""
    if isinstance(template, Mapping) and "$op" not in template:
        return frozenset(str(key) for key in template if not str(key).startswith("$"))
    return frozenset()


def event_rules(handlers: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """Each rule of an `events:` block (`name`, or `name.cases.<value>` / `name.default` of a switch) → the
    part names it declares."""
    out: dict[str, frozenset[str]] = {}
    for name, handler in handlers.items():
        if isinstance(handler, Mapping) and "switch" in handler:
            for case, template in (handler.get("cases") or {}).items():
                out[f"{name}.cases.{case}"] = declared_parts(template)
            out[f"{name}.default"] = declared_parts(handler.get("default"))
        else:
            out[str(name)] = declared_parts(handler)
    return out


class SilentRules:
    """What one stream's (or response's) rules gave nothing for, and the part names the answer did give."""

    __slots__ = ("counts", "declared", "spoken", "where")

    def __init__(self, declared: Mapping[str, frozenset[str]], where: str) -> None:
        self.declared = declared
        """rule (`content-delta`, `content_block_delta.cases.text_delta`, a part kind) → its part names."""
        self.where = where
        """The rules' place in the spec (`stream.events`, `response.kinds`)."""
        self.counts: dict[tuple[str, str], int] = {}
        self.spoken: set[str] = set()

    def record(self, rule: str, name: str) -> None:
        """A non-empty payload of event type / part kind `name` that the rule `rule` turned into nothing (a
        rule that declares no part, such as `{}`, means to give nothing: not recorded)."""
        if self.declared.get(rule):
            key = (rule, name)
            self.counts[key] = self.counts.get(key, 0) + 1

    def spoke(self, names: Iterable[str]) -> None:
        self.spoken.update(names)

    def warnings(self, what: str) -> list[RequestWarning]:
        """One warning per rule that gave nothing for every payload it got, while the answer holds none of its
        parts (`what`: "event" or "part")."""
        out: list[RequestWarning] = []
        for (rule, name), count in sorted(self.counts.items()):
            parts = self.declared.get(rule, frozenset())
            if parts & self.spoken:
                continue
            shown = ", ".join(sorted(parts))
            plural = "s" if count != 1 else ""
            out.append(RequestWarning(
                code=CODE,
                message=f"{self.where}.{rule}: every {what} {name!r} ({count} payload{plural}) gave nothing from "
                        f"its mapping ({shown}) while the rest of the answer came; check its paths against the "
                        "provider's payload (`vllora-llm spec test`)",
                param=f"{self.where}.{rule}",
            ))
        return out


_MESSAGE_PARTS = {"text": "content", "tool_call": "tool_calls", "reasoning": "reasoning_details",
                  "refusal": "refusal"}


def response_warnings(quiet_by_choice: Iterable[tuple[list[str], ChatCompletionMessage]],
                      declared: Mapping[str, frozenset[str]]) -> list[RequestWarning]:
    """The warnings of a template response: for each choice where a part kind's template rendered nothing, the
    kinds of those parts (`quiet`) and the message."""
    rules = SilentRules(declared, "response.kinds")
    for quiet, message in quiet_by_choice:
        for kind in quiet:
            rules.record(str(kind), str(kind))
        rules.spoke(part for part, field in _MESSAGE_PARTS.items() if getattr(message, field))
    return rules.warnings("part")


_BITS: dict[str, int] = {name: 1 << i for i, name in enumerate((
    "end", "error", "extras", "finish", "meta", "reasoning", "reasoning_redacted", "reasoning_signature", "refusal",
    "text", "tool_call", "tool_call_args", "tool_call_start", "usage"))}
"""The part names a stream mapping gives, each with a fixed bit, so that generated source (and its file name in
tracebacks and `spec compile`) does not depend on which spec a process compiled first; another name gets the
next free bit."""


def part_bit(name: str) -> int:
    """The bit of a part name in a generated decoder's `spoke` mask (one per name, given out as names come:
    a generated decoder marks what an event gave with an `|=` of a constant rather than a set update)."""
    bit = _BITS.get(name)
    if bit is None:
        bit = _BITS[name] = 1 << len(_BITS)
    return bit


def part_names(mask: int) -> set[str]:
    """The part names whose bits are set in `mask` (`part_bit`)."""
    return {name for name, bit in list(_BITS.items()) if mask & bit}
