"""The protocol-test case language: the keys a case may have, `Case`, and the loaders of case files
(a conformance case list, or a spec-side `<name>.tests.yaml`), which reject an unknown key so a typo never
passes silently. Running and checking the cases is `protocol_tests.py`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KINDS = ("requests", "responses", "streams")


CASE_KEYS: dict[str, frozenset[str]] = {
    "requests": frozenset({"id", "note", "given", "recording", "given_omit", "given_extra_body", "model", "stream",
                           "base_url", "expect"}),
    "responses": frozenset({"id", "note", "recording", "body", "status", "headers", "expect", "expect_error"}),
    "streams": frozenset({"id", "note", "recording", "body", "framing", "append_done", "truncate_last_events",
                          "read_size", "expect", "expect_error"}),
}
REQUEST_EXPECT = frozenset({"method", "url", "url_endswith", "headers", "body", "body_subset", "body_recorded",
                            "warnings", "error"})
MESSAGE_KEYS = frozenset({"role", "content", "text", "tool_calls", "reasoning", "refusal", "reasoning_details"})
RESULT_EXPECT = MESSAGE_KEYS | {"message", "finish_reason", "usage", "choices", "id", "model", "chunk_count", "extras",
                                "warnings"}
ERROR_EXPECT = frozenset({"class", "message_contains", "status", "error_type", "request_id", "retryable",
                          "retry_after", "path", "after_chunks", "partial"})
USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "cache_creation_tokens",
              "reasoning_tokens", "cost")


@dataclass(frozen=True)
class Case:
    """One case: `id` is `provider:case`, `where` is `kind/provider.yaml:line` for failure messages."""

    id: str
    provider: str
    kind: str
    where: str
    data: dict[str, Any] = field(repr=False)
    recordings: Path = field(default=Path("."), repr=False)
    """The folder `recording:` names are relative to."""

    def read(self, name: str) -> bytes:
        """A recorded file of this case (`recording:`, `body_recorded`)."""
        return (self.recordings / name).read_bytes()

    @property
    def expect(self) -> dict[str, Any]:
        return dict(self.data.get("expect") or {})


# ---- loading ----------------------------------------------------------------------------------------------


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_case_list(path: Path, kind: str, provider: str, *, recordings: Path, label: str) -> list[Case]:
    """The cases of one kind from a conformance case file (a YAML list), checked; `label` names the file in
    failure messages."""
    text = path.read_text(encoding="utf-8")
    try:
        items = yaml.load(text, Loader=_LOADER) or []
        nodes = yaml.compose(text, Loader=_LOADER) if items else None
        lines = [node.start_mark.line + 1 for node in nodes.value] if nodes is not None else []
    except yaml.YAMLError as exc:
        raise ValueError(f"{label}: not valid YAML: {exc}") from None
    if not isinstance(items, list):
        raise ValueError(f"{label}: a case file is a YAML list of cases")
    return _cases(items, lines, kind, provider, label, recordings)


def load_spec_tests(path: Path, provider: str, *, label: str | None = None) -> list[Case]:
    """The cases of a spec-side `<name>.tests.yaml`: a mapping of `requests`, `responses`, `streams` lists."""
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.load(text, Loader=_LOADER) or {}
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or set(data) - set(KINDS):
        raise ValueError(f"{path}: a tests file maps {', '.join(KINDS)} to lists of cases")
    out: list[Case] = []
    for key_node, value_node in root.value if root is not None else ():
        kind = key_node.value
        items = data.get(kind) or []
        if not isinstance(items, list):
            raise ValueError(f"{path}:{value_node.start_mark.line + 1}: {kind} must be a list of cases")
        lines = [node.start_mark.line + 1 for node in value_node.value] if items else []
        out += _cases(items, lines, kind, provider, label or str(path), path.parent)
    ids = [c.id + c.kind for c in out]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{path}: duplicate case ids")
    return out


def _cases(items: list[Any], lines: list[int], kind: str, provider: str, label: str, recordings: Path) -> list[Case]:
    out: list[Case] = []
    seen: set[str] = set()
    for item, line in zip(items, lines, strict=True):
        where = f"{label}:{line}"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: a case is a mapping")
        case = Case(f"{provider}:{item.get('id')}", provider, kind, where, item, recordings)
        check_keys(case)
        if case.id in seen:
            raise ValueError(f"{where}: duplicate case id {case.id!r}")
        seen.add(case.id)
        out.append(case)
    return out


def check_keys(case: Case) -> None:
    data = case.data
    problems = [f"unknown key {k!r}" for k in data if k not in CASE_KEYS[case.kind]]
    if not data.get("id"):
        problems.append("missing id")
    if case.kind == "requests":
        if ("given" in data) == ("recording" in data):
            problems.append("give exactly one of given / recording")
        problems += [f"unknown expect key {k!r}" for k in case.expect if k not in REQUEST_EXPECT]
        problems += [f"unknown error key {k!r}" for k in case.expect.get("error") or {} if k not in ERROR_EXPECT]
    else:
        if ("expect" in data) == ("expect_error" in data):
            problems.append("give exactly one of expect / expect_error")
        if ("recording" in data) == ("body" in data):
            problems.append("give exactly one of recording / body")
        problems += [f"unknown expect key {k!r}" for k in case.expect if k not in RESULT_EXPECT]
        problems += [f"unknown expect_error key {k!r}" for k in data.get("expect_error") or {} if k not in ERROR_EXPECT]
    if problems:
        raise ValueError(f"{case.where} ({case.id}): " + "; ".join(problems))
