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


def load_cases(kind: str, *, beside_specs: bool = True) -> list[Case]:
    """Every case of `kind` from every case file in its folder, checked for unknown keys and duplicate ids, and
    (`beside_specs`) the cases of the shipped specs' protocol tests (`specs/providers/<name>.tests.yaml`, where
    the cases that need no recording live): the checks over every rendered request or decoded response
    (the SDK shapes) see both. The conformance runner runs only this folder's (`spec test` runs the others)."""
    return [*_load_kind(kind), *(_spec_cases(kind) if beside_specs else ())]


@functools.cache
def _spec_cases(kind: str) -> tuple[Case, ...]:
    from vllora_llm.engine.registry import builtin_dir
    from vllora_llm.tools.protocol_tests import load_spec_tests

    out: list[Case] = []
    for path in sorted(builtin_dir().glob("*.tests.yaml")):
        provider = path.name[: -len(".tests.yaml")]
        out += [c for c in load_spec_tests(path, provider, label=f"specs/providers/{path.name}") if c.kind == kind]
    return tuple(out)


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


def params(kind: str, provider: str | None = None, *, beside_specs: bool = True) -> list[Any]:
    """`pytest.param`s for a parametrized test, one per case, with the case id as the test id."""
    return [pytest.param(c, id=c.id) for c in load_cases(kind, beside_specs=beside_specs)
            if provider is None or c.provider == provider]
