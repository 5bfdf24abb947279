"""`vllora-llm spec diff OLD NEW`: what changed between two revisions of a spec, and whether it breaks callers.

Both files are resolved as the engine would load them (`extends` against the built-in specs and
`VLLORA_SPEC_PATH`), so the comparison is between the specs that would be compiled, not between texts.
Each change is one line, the path of the smallest part that changed and its two values:

    BREAKING params.max_tokens.to: 'max_tokens' -> 'max_output_tokens'
    COMPATIBLE headers.x-title: <absent> -> 'vllora'

BREAKING: a parameter removed or made unsupported, a target renamed, a map value changed or removed, a
transform / template / default changed, an endpoint path, method, query, body or base URL changed, the auth
scheme, header or key variables changed, a response, stream or error path changed, the framing changed, an
unsupported action made `error`, an override removed or reordered. COMPATIBLE: a parameter added (or made
supported), a map / role / part / event / header entry added, documentation and metadata text, an override
added, a range widened, an accepted value or key variable added. Anything not named here is BREAKING: a
change the tool cannot prove harmless is reported as one that may not be.

`metadata.revision` must grow when anything changed (an `ERROR` line otherwise). Exit status 1 when a change
is breaking, the revision did not grow or a spec does not load; 0 otherwise.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Any = _Absent()
BREAKING, COMPATIBLE = "BREAKING", "COMPATIBLE"
POLICY = True  # `unsupported: true`, and a parameter without a rule: the policy decides

# Patterns over dotted paths (override layers are classified like the top level): `*` is one segment,
# `**` the rest of the path.
TEXT = ("metadata.display_name", "metadata.description", "metadata.docs_url", "metadata.matrix_note",
        "metadata.api_version", "params.*.note", "endpoint.base_url_hint")
ATOMIC = ("params.*.template", "params.*.each", "params.*.transform", "params.*.default", "params.*.range",
          "params.*.map.*", "params.*.allow", "params.*.conflicts_with", "endpoint.*.body", "endpoint.*.query",
          "endpoint.base_url_env", "auth.env", "messages.parts.*", "messages.turn", "messages.system.template",
          "messages.cache_points", "response.kinds.*", "response.kind_by", "response.usage.*", "response.blocked",
          "stream.events.*", "stream.event_type", "errors.retry_after", "errors.status.*", "errors.types.*",
          "errors.retryable_status")
ADDED_OK = ("params.*.map.*", "headers.*", "messages.roles.*", "messages.parts.*", "response.kinds.*",
            "response.usage.*", "response.finish_reason.map.*", "stream.events.*", "errors.**",
            "endpoint.base_url", "metadata.**")
EMPTY_WHEN_ABSENT = ("*", "messages.roles", "messages.parts", "response.kinds", "response.usage",
                     "response.finish_reason", "response.finish_reason.map", "stream.events", "errors.*")
"""Mappings whose absence means "no entries": each entry added to (or removed from) them is its own change."""
GROWING = ("params.*.allow", "auth.env", "endpoint.base_url_env", "errors.retryable_status")
LOOSER_WHEN_REMOVED = ("params.*.unless", "params.*.conflicts_with", "params.*.range")


def _match(pattern: str, path: tuple[str, ...]) -> bool:
    parts = pattern.split(".")
    if parts[-1] == "**":
        return len(path) >= len(parts) - 1 and all(fnmatchcase(p, q) for p, q in zip(path, parts[:-1], strict=False))
    return len(path) == len(parts) and all(fnmatchcase(p, q) for p, q in zip(path, parts, strict=True))


def _any(patterns: Iterable[str], path: tuple[str, ...]) -> bool:
    return any(_match(p, path) for p in patterns)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 100 else text[:99] + "…"


def _as_list(value: Any) -> list[Any]:
    if value is ABSENT or value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


@dataclass(frozen=True, slots=True)
class Change:
    verdict: str
    path: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.verdict} {self.path}: {_show(self.old)} -> {_show(self.new)}"


def _format(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _union(old: Mapping[Any, Any], new: Mapping[Any, Any]) -> list[Any]:
    return [*old, *(k for k in new if k not in old)]


class _Differ:
    def __init__(self, old_policy: str, new_policy: str) -> None:
        self.policies = (old_policy, new_policy)
        self.changes: list[Change] = []

    def add(self, verdict: str, path: tuple[str, ...], old: Any, new: Any) -> None:
        self.changes.append(Change(verdict, _format(path), old, new))

    # ---- generic tree walk ---------------------------------------------------------------------------------

    def walk(self, path: tuple[str, ...], old: Any, new: Any, policies: tuple[str, str] | None = None) -> None:
        if old == new:
            return
        rel = _relative(path)
        one_side = (old is ABSENT and isinstance(new, dict)) or (new is ABSENT and isinstance(old, dict))
        if one_side and not _any(ATOMIC, rel) and _any(EMPTY_WHEN_ABSENT, rel):
            old, new = ({} if old is ABSENT else old), ({} if new is ABSENT else new)
        if _any(ATOMIC, rel) or not (isinstance(old, dict) and isinstance(new, dict)):
            self.add(self.verdict(rel, old, new, policies or self.policies), path, old, new)
            return
        for key in _union(old, new):
            self.walk((*path, str(key)), old.get(key, ABSENT), new.get(key, ABSENT), policies)

    def verdict(self, rel: tuple[str, ...], old: Any, new: Any, policies: tuple[str, str]) -> str:
        if _any(TEXT, rel):
            return COMPATIBLE
        if rel == ("policy", "unsupported"):
            return _action_verdict(old if old is not ABSENT else "warn", new if new is not ABSENT else "warn")
        if _match("params.*.unsupported", rel):
            return _action_verdict(policies[0] if old in (POLICY, ABSENT) else old,
                                   policies[1] if new in (POLICY, ABSENT) else new)
        if _match("params.*.range", rel):
            return _range_verdict(old, new)
        if _any(GROWING, rel):
            return COMPATIBLE if all(v in _as_list(new) for v in _as_list(old)) else BREAKING
        if _any(LOOSER_WHEN_REMOVED, rel) and new is ABSENT:
            return COMPATIBLE
        if old is ABSENT:
            return COMPATIBLE if _any(ADDED_OK, rel) else BREAKING
        return BREAKING

    # ---- parameter rules -----------------------------------------------------------------------------------

    def params(self, path: tuple[str, ...], old: Mapping[str, Any], new: Mapping[str, Any],
               bases: tuple[Mapping[str, Any], Mapping[str, Any]] | None = None,
               policies: tuple[str, str] | None = None) -> None:
        """Compare rule by rule. In an override layer (`bases` given) a missing rule inherits the base's."""
        policies = policies or self.policies
        for name in _union(old, new):
            o, n = old.get(name, ABSENT), new.get(name, ABSENT)
            if bases is not None:
                o = bases[0].get(name, ABSENT) if o is ABSENT else o
                n = bases[1].get(name, ABSENT) if n is ABSENT else n
            o, n = (ABSENT if o is None else o), (ABSENT if n is None else n)
            if o == n:
                continue
            here = (*path, name)
            was, now = _supported(o), _supported(n)
            if was == now:  # both sent, or both not: compare the rules key by key
                self.walk(here, _normal(name, o), _normal(name, n), policies)
            else:
                self.add(COMPATIBLE if now else BREAKING, here, o, n)

    # ---- overrides -----------------------------------------------------------------------------------------

    def overrides(self, old: list[Any], new: list[Any], bases: tuple[Mapping[str, Any], Mapping[str, Any]]) -> None:
        def key(layer: Any) -> tuple[str, ...]:
            return tuple(str(g) for g in (layer.get("match") or ())) if isinstance(layer, dict) else ()

        old_by = {key(layer): layer for layer in old}
        new_by = {key(layer): layer for layer in new}
        kept_old = [k for k in old_by if k in new_by]
        kept_new = [k for k in new_by if k in old_by]
        if kept_old != kept_new:  # matching layers merge in order: a new order changes what models get
            self.add(BREAKING, ("overrides",), [list(k) for k in kept_old], [list(k) for k in kept_new])
        for k in _union(old_by, new_by):
            here = (f"overrides[{','.join(k)}]",)
            o, n = old_by.get(k, ABSENT), new_by.get(k, ABSENT)
            if o is ABSENT or n is ABSENT:
                self.add(COMPATIBLE if o is ABSENT else BREAKING, here, o, n)
                continue
            policies = (_layer_policy(o, self.policies[0]), _layer_policy(n, self.policies[1]))
            layered = (_with_earlier(bases[0], old, o), _with_earlier(bases[1], new, n))
            before = len(self.changes)
            self.params((*here, "params"), _merged_rules(layered[0], o), _merged_rules(layered[1], n), layered,
                        policies)
            for part in _union(o, n):
                if part not in ("match", "params"):
                    self.walk((*here, part), o.get(part, ABSENT), n.get(part, ABSENT), policies)
            # a layer's rules are compared as its models get them (merged over the spec's): a change the spec
            # itself made is reported there, not again in every layer that inherits it
            inherited = {(c.path, repr(c.old), repr(c.new)) for c in self.changes[:before]}
            prefix = _format(here) + "."
            self.changes[before:] = [c for c in self.changes[before:] if not (
                c.path.startswith(prefix) and (c.path[len(prefix):], repr(c.old), repr(c.new)) in inherited)]


def _with_earlier(base: Mapping[str, Any], layers: list[Any], layer: Mapping[str, Any]) -> Mapping[str, Any]:
    """The rules a layer's models start from: the spec's, with every earlier layer that can match the same
    models merged in (matching layers add up, in order)."""
    from vllora_llm.engine.layers import merge_layer
    from vllora_llm.engine.spec.desugar import globs_may_overlap

    out: Any = base
    globs = list(layer.get("match") or ())
    for earlier in layers[: layers.index(layer)]:
        if isinstance(earlier, dict) and globs_may_overlap(list(earlier.get("match") or ()), globs):
            out = merge_layer(out, earlier.get("params") or {})
    return out


def _merged_rules(base: Mapping[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    """A layer's rules as its models get them: each merged over the rule it changes."""
    from vllora_llm.engine.layers import merge_layer

    return {name: merge_layer(base.get(name), rule) if isinstance(rule, dict) and isinstance(base.get(name), dict)
            else rule for name, rule in (layer.get("params") or {}).items()}


def _relative(path: tuple[str, ...]) -> tuple[str, ...]:
    if len(path) > 2 and path[0] == "operations":  # an operation's rules are judged like the chat ones
        path = path[2:]
    return path[1:] if path and path[0].startswith("overrides[") else path


def _layer_policy(layer: Mapping[str, Any], fallback: str) -> str:
    return str((layer.get("policy") or {}).get("unsupported", fallback))


def _supported(rule: Any) -> bool:
    return isinstance(rule, dict) and rule.get("unsupported") is None


def _normal(name: str, rule: Any) -> dict[str, Any]:
    """A rule with its defaults written out, so `{}` and `{to: <own name>}` compare equal."""
    if not isinstance(rule, dict):
        return {"unsupported": POLICY}
    out = dict(rule)
    if rule.get("unsupported") is None:
        out.setdefault("to", name.rsplit(".", 1)[-1])
    return out


def _action_verdict(old: Any, new: Any) -> str:
    return BREAKING if new == "error" and old != "error" else COMPATIBLE


def _range_verdict(old: Any, new: Any) -> str:
    if new is ABSENT:
        return COMPATIBLE
    if old is ABSENT or not isinstance(old, dict) or not isinstance(new, dict):
        return BREAKING
    if old.get("action", "clamp") != new.get("action", "clamp"):
        return BREAKING
    low_ok = new.get("min") is None or (old.get("min") is not None and new["min"] <= old["min"])
    high_ok = new.get("max") is None or (old.get("max") is not None and new["max"] >= old["max"])
    return COMPATIBLE if low_ok and high_ok else BREAKING


def diff_specs(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every change from `old` to `new` (merged specs), classified; `metadata.revision` is left out."""
    policies = (
        str((old.get("policy") or {}).get("unsupported", "warn")),
        str((new.get("policy") or {}).get("unsupported", "warn")),
    )
    differ = _Differ(*policies)
    for key in _union(old, new):
        o, n = old.get(key, ABSENT), new.get(key, ABSENT)
        if key == "params":
            differ.params(("params",), o if isinstance(o, dict) else {}, n if isinstance(n, dict) else {})
        elif key == "overrides":
            bases = (old.get("params") or {}, new.get("params") or {})
            differ.overrides(o if isinstance(o, list) else [], n if isinstance(n, list) else [], bases)
        elif key == "operations":
            old_ops, new_ops = (o if isinstance(o, dict) else {}), (n if isinstance(n, dict) else {})
            for name in _union(old_ops, new_ops):
                was, now = old_ops.get(name, ABSENT), new_ops.get(name, ABSENT)
                if was is ABSENT or now is ABSENT:  # a new operation is compatible; a removed one is not
                    differ.add(COMPATIBLE if was is ABSENT else BREAKING, ("operations", str(name)), was, now)
                    continue
                for part in _union(was, now):
                    here = ("operations", str(name), str(part))
                    if part == "params":
                        differ.params(here, was.get(part) or {}, now.get(part) or {})
                    else:
                        differ.walk(here, was.get(part, ABSENT), now.get(part, ABSENT))
        elif key == "metadata":
            strip = ("revision",)
            differ.walk(("metadata",), {k: v for k, v in (o or {}).items() if k not in strip},
                        {k: v for k, v in (n or {}).items() if k not in strip})
        else:
            differ.walk((key,), o, n)
    return differ.changes


def load_revision(path: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The merged spec in `path` (its `extends` resolved on the search path) and its error lines."""
    from vllora_llm.engine.registry import SpecFile, discover, resolve
    from vllora_llm.engine.spec.diagnostics import Diagnostics

    file = Path(path)
    if not file.is_file():
        return None, [f"{path}: no such file"]
    diags = Diagnostics()
    files = discover()
    files[file.stem] = SpecFile(file.stem, file, path, False)
    merged = resolve(file.stem, files, diags)
    errors = [str(d) for d in diags.sorted() if d.severity == "ERROR"]
    if errors or merged is None:
        return None, errors
    return canonical(merged), errors


def canonical(merged: dict[str, Any]) -> dict[str, Any]:
    """A merged spec written one way (v2's calls, an in-less template call joined to the rule's pipeline), so
    two revisions that say the same thing differently compare equal; the format itself is not a change."""
    from vllora_llm.engine.spec.desugar import to_v2

    from .spec_migrate import fold_templates

    out = to_v2(merged)
    fold_templates(out)
    out.pop("apiVersion", None)
    return out


def run(old_path: str, new_path: str) -> int:
    old, old_errors = load_revision(old_path)
    new, new_errors = load_revision(new_path)
    if old is None or new is None:
        for line in [*old_errors, *new_errors]:
            print(line, file=sys.stderr)
        print("error: cannot compare specs that do not load", file=sys.stderr)
        return 1
    changes = diff_specs(old, new)
    for change in changes:
        print(change)
    revisions = ((old.get("metadata") or {}).get("revision"), (new.get("metadata") or {}).get("revision"))
    grew = isinstance(revisions[0], int) and isinstance(revisions[1], int) and revisions[1] > revisions[0]
    if changes and not grew:
        print(f"ERROR metadata.revision: {revisions[0]!r} -> {revisions[1]!r} "
              "(grow the revision when the spec changes)")
    breaking = sum(1 for c in changes if c.verdict == BREAKING)
    if changes:
        print(f"{len(changes)} change(s): {breaking} breaking, {len(changes) - breaking} compatible; "
              f"revision {revisions[0]} -> {revisions[1]}")
    else:
        print(f"no changes; revision {revisions[0]} -> {revisions[1]}")
    return 1 if breaking or (changes and not grew) else 0
