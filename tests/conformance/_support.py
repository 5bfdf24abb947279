"""The conformance suite's case files (one YAML list per provider and kind, beside this module), read with
the package's protocol-test language (`vllora_llm.tools.protocol_tests`, also what `vllora-llm spec test`
runs); `recording:` names are relative to tests/recordings/."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from vllora_llm.tools.protocol_tests import KINDS, Case, load_case_list

__all__ = ["KINDS", "RECORDINGS", "load_cases", "params"]

CASES_DIR = Path(__file__).resolve().parent
RECORDINGS = CASES_DIR.parent / "recordings"


def load_cases(kind: str) -> list[Case]:
    """Every case of `kind` from every case file in its folder, checked for unknown keys and duplicate ids."""
    return list(_load_kind(kind))


@functools.cache
def _load_kind(kind: str) -> tuple[Case, ...]:
    out: list[Case] = []
    for path in sorted((CASES_DIR / kind).glob("*.yaml")):
        out += load_case_list(path, kind, path.stem, recordings=RECORDINGS, label=f"{kind}/{path.name}")
    ids = [c.id for c in out]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{kind}: duplicate case ids {duplicates}")
    return tuple(out)


def params(kind: str, provider: str | None = None) -> list[Any]:
    """`pytest.param`s for a parametrized test, one per case, with the case id as the test id."""
    return [pytest.param(c, id=c.id) for c in load_cases(kind) if provider is None or c.provider == provider]
