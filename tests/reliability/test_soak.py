"""The soak of `benchmarks/soak.py`, 1,000 requests at 100 in flight, in the default suite; the full 10,000
is marked `soak`, outside the default run: `python -m pytest -m soak` (or `python -m benchmarks.soak`)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def soak() -> ModuleType:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # benchmarks/ is a folder of the repository, not an installed package
    return importlib.import_module("benchmarks.soak")


def check(report: object, requests: int) -> None:
    text = report.render()  # type: ignore[attr-defined]
    print(text)
    assert report.ok, text  # type: ignore[attr-defined]
    assert f"accounted for:    {requests:,}/{requests:,}" in text
    assert "hung 0)" in text and "unexpected 0;" in text
    assert "connections:      0 leaked" in text
    assert "0 ResourceWarning, 0 unclosed-session" in text
    assert ": flat" in text


async def test_soak_1000_requests() -> None:
    report = await soak().run_soak(1_000, 100, fault_rate=0.1, seed=8)
    check(report, 1_000)
    assert report.faulty >= 70  # ~10 % of the requests had a fault injected
    assert report.server_requests > 1_000  # and some of them were retried


@pytest.mark.soak
async def test_soak_10000_requests() -> None:
    check(await soak().run_soak(10_000, 100), 10_000)
