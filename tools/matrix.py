"""`vllora-llm spec matrix`: the parameter table of DESIGN §2, computed from the provider specs.

The specs are the single source of truth, so the table is derived, never written by hand. A cell is
`yes` when the provider's merged spec has a rule that sends the parameter (`to`, `map`, `template`,
`transform`, `{}` …), `no` when the rule says `unsupported:` or there is no rule (the policy applies), and
`?` when the spec is not on the search path. Rows, row labels and the Notes column are DESIGN §2's, fixed
here; the cells and (with `--all` or `--format json`) each provider's target field come from the specs.

README.md's "Parameter support" block is `spec matrix --all` output; `--write-readme` regenerates it and a
test fails when it drifts.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

START, END = "<!-- matrix:start -->", "<!-- matrix:end -->"


@dataclass(frozen=True, slots=True)
class Row:
    label: str  # as DESIGN §2 writes it
    param: str  # the unified parameter it stands for
    notes: str  # DESIGN §2's Notes cell, verbatim


ROWS: tuple[Row, ...] = (
    Row("model", "model", "From `ChatCompletionRequest.model` or engine config."),
    Row("max_tokens", "max_tokens",
        "Provider's own name (`max_tokens`, `max_output_tokens`/`maxOutputTokens`, `maxTokens`)."),
    Row("temperature", "temperature", "Sampling temperature."),
    Row("top_p", "top_p", "Nucleus sampling."),
    Row("n", "n", "Gemini: `candidate_count`; others always n = 1."),
    Row("stop / stop_sequences", "stop", "Each provider's stop field."),
    Row("presence_penalty", "presence_penalty", "OpenAI / Gemini only."),
    Row("frequency_penalty", "frequency_penalty", "OpenAI / Gemini only."),
    Row("logit_bias", "logit_bias", "OpenAI only."),
    Row("user", "user", "OpenAI end-user id."),
    Row("seed", "seed", "Deterministic sampling where supported."),
    Row("response_format (JSON schema, …)", "response_format", "Gemini normalizes the JSON schema for its API."),
    Row("prompt_cache_key", "prompt_cache_key", "OpenAI prompt caching hint."),
    Row("provider_specific.top_k", "provider_specific.top_k", "Anthropic `top_k`."),
    Row("provider_specific.thinking", "provider_specific.thinking", "Anthropic thinking options (budget tokens)."),
    Row("Bedrock additional_parameters", "provider_specific.additional_parameters",
        "Free-form JSON passed through to Bedrock model params."),
)

SEED: tuple[tuple[str, str], ...] = (
    ("openai", "OpenAI / Proxy"),
    ("anthropic", "Anthropic"),
    ("gemini", "Gemini"),
    ("bedrock", "Bedrock"),
)
"""DESIGN §2's provider columns: (spec name, column title as DESIGN writes it)."""


@dataclass(frozen=True, slots=True)
class Cell:
    verdict: str  # yes | no | ?
    target: str | None = None  # where the value is written (yes)
    transform: str | None = None  # the transform the rule applies (yes)
    action: str | None = None  # error | warn | drop (no)
    note: str | None = None  # the rule's note (no)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in (("supported", self.verdict), ("target", self.target),
                                  ("transform", self.transform), ("action", self.action),
                                  ("note", self.note)) if v is not None}


@dataclass(slots=True)
class Column:
    name: str
    title: str
    present: bool
    revision: int | None = None
    matrix_note: str | None = None
    cells: dict[str, Cell] = field(default_factory=dict)


def classify(param: str, rule: Mapping[str, Any] | None, policy: str) -> Cell:
    """The matrix cell for one parameter rule of a merged spec."""
    if rule is None:
        return Cell("no", action=policy, note="no rule: the policy applies")
    action = rule.get("unsupported")
    if action is not None:
        return Cell("no", action=policy if action is True else str(action), note=rule.get("note"))
    ref = rule.get("transform")
    transform = ref if isinstance(ref, str) else ref.get("name") if isinstance(ref, Mapping) else None
    return Cell("yes", target=str(rule.get("to") or param.rsplit(".", 1)[-1]), transform=transform)


def column_for(name: str, title: str | None, spec: Mapping[str, Any] | None) -> Column:
    if spec is None:
        return Column(name, title or name, present=False, cells={row.param: Cell("?") for row in ROWS})
    metadata = spec.get("metadata") or {}
    policy = str((spec.get("policy") or {}).get("unsupported", "warn"))
    params = spec.get("params") or {}
    cells = {row.param: classify(row.param, params.get(row.param), policy) for row in ROWS}
    return Column(name, title or str(metadata.get("display_name", name)), True, metadata.get("revision"),
                  metadata.get("matrix_note"), cells)


def build(all_providers: bool = False, spec_path: Sequence[str | os.PathLike[str]] = ()) -> list[Column]:
    """The seed columns (and, with `all_providers`, every other spec on the search path, by name).

    Raises `SpecError` (with every diagnostic) when a spec that exists is invalid.
    """
    from vllora_llm.engine.registry import discover, load_spec

    found = discover(spec_path)
    wanted: list[tuple[str, str | None]] = list(SEED)
    if all_providers:
        seed = {name for name, _ in SEED}
        wanted += [(name, None) for name in sorted(found) if name not in seed]
    return [column_for(name, title, load_spec(name, spec_path) if name in found else None) for name, title in wanted]


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_md(columns: Sequence[Column], detailed: bool = False) -> str:
    """The table in DESIGN §2's layout; `detailed` adds each provider's target name to its `yes` cells."""
    lines = [
        "| Parameter | " + " | ".join(_escape(c.title) for c in columns) + " | Notes |",
        "|---|" + "---|" * len(columns) + "---|",
    ]
    for row in ROWS:
        cells = []
        for column in columns:
            cell = column.cells[row.param]
            default_target = row.param.rsplit(".", 1)[-1]
            renamed = cell.verdict == "yes" and cell.target not in (None, default_target)
            cells.append(f"yes (`{cell.target}`)" if detailed and renamed else cell.verdict)
        lines.append(f"| {_escape(row.label)} | " + " | ".join(cells) + f" | {_escape(row.notes)} |")
    notes = [c for c in columns if c.matrix_note]
    if detailed and notes:
        lines.append("")
        lines += [f"- **{c.title}**: {c.matrix_note}" for c in notes]
    return "\n".join(lines) + "\n"


def render_json(columns: Sequence[Column]) -> str:
    out = {
        "columns": [
            {k: v for k, v in (("provider", c.name), ("title", c.title), ("present", c.present),
                               ("revision", c.revision), ("matrix_note", c.matrix_note)) if v is not None}
            for c in columns
        ],
        "rows": [
            {"parameter": row.param, "label": row.label, "notes": row.notes,
             "cells": {c.name: c.cells[row.param].to_json() for c in columns}}
            for row in ROWS
        ],
    }
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


_BLOCK = re.compile(re.escape(START) + r"\n(.*?)" + re.escape(END), re.S)


def readme_block(readme: str) -> str | None:
    """The text between the matrix markers of a README, or None when the markers are missing."""
    found = _BLOCK.search(readme)
    return found.group(1) if found else None


def replace_block(readme: str, table: str) -> str:
    if readme_block(readme) is None:
        raise ValueError(f"no {START} … {END} block")
    return _BLOCK.sub(lambda _: f"{START}\n{table}{END}", readme, count=1)


def run(all_providers: bool, fmt: str, write_readme: str | None) -> int:
    from vllora_llm.engine.errors import SpecError

    try:
        columns = build(all_providers)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)  # the message lists every diagnostic
        return 1
    text = render_json(columns) if fmt == "json" else render_md(columns, detailed=all_providers)
    if write_readme is None:
        sys.stdout.write(text)
        return 0
    if fmt == "json":
        print("error: --write-readme writes the markdown table; drop --format json", file=sys.stderr)
        return 2
    path = Path(write_readme)
    try:
        updated = replace_block(path.read_text(encoding="utf-8"), text)
    except (OSError, ValueError) as exc:
        print(f"error: cannot update {path}: {exc}", file=sys.stderr)
        return 1
    path.write_text(updated, encoding="utf-8")
    print(f"wrote the parameter matrix into {path}")
    return 0
