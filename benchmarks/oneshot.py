"""The row and command line shared by the one-measure benchmarks (`benchmarks.embeddings`, `.responses`):
a Markdown table row of floor, library and ratio against the target, and `--quick` for a smoke run."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def ratio_row(label: str, floor: float, library: float, ratio: float, target: float) -> str:
    mark = "✓" if ratio <= target else "✗"
    return f"| openai | {label} | {floor:,.1f} | {library:,.1f} | {ratio:.2f}\u00d7 | ≤ {target}\u00d7 {mark} |"


def main(prog: str, doc: str | None, run: Callable[[bool], dict[str, Any]], row: Callable[[dict[str, Any]], str],
         argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=doc)
    parser.add_argument("--quick", action="store_true", help="a tiny workload (a smoke run)")
    args = parser.parse_args(argv)
    print(row(run(args.quick)))
    return 0
