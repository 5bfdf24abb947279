"""`VLLORA_CASE` keeps only the conformance cases it names; every other test in this folder is deselected."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent


def _selected(case_id: str, wanted: str) -> bool:
    entries = [w.strip() for w in wanted.split(",") if w.strip()]
    return any(case_id == e or (e.endswith((":", "*")) and case_id.startswith(e.rstrip("*"))) for e in entries)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = os.environ.get("VLLORA_CASE", "").strip()
    if not wanted:
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        case = getattr(getattr(item, "callspec", None), "params", {}).get("case")
        in_here = _HERE in Path(str(item.path)).resolve().parents
        named = case is not None and hasattr(case, "id") and _selected(case.id, wanted)
        (drop if in_here and not named else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
