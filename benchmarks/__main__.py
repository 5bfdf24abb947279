"""`python -m benchmarks [--quick] [--json PATH] [--format NAME ...]`: run the suite, print the ratio table."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from .suite import QUICK, TARGETS, Workload, run
from .wire import FORMATS

TIMES = "\u00d7"  # the multiplication sign of "1.2x"

DEFAULT_JSON = Path(__file__).resolve().parent / "last_run.json"

ROWS = (  # (result key, which measure, label, unit, target key); labels are filled in from the workload
    ("sequential_us_per_request", "cpu", "sequential, client CPU", "µs/request", "sequential"),
    ("sequential_us_per_request", "wall", "sequential, wall", "µs/request", None),
    ("streams", "cpu", "{events:,}-chunk stream ({shape}), client CPU", "µs/chunk", "stream"),
    ("streams", "wall", "{events:,}-chunk stream ({shape}), wall", "µs/chunk", None),
    ("concurrent_requests_per_s", "wall", "{total} requests, {inflight} in flight", "requests/s", "concurrent"),
    ("rss", "mib", "peak RSS, sequential workload", "MiB", "rss"),
)


def _mark(ratio: float, target: str | None) -> str:
    if target is None:
        return ""
    return f"≤ {TARGETS[target]}{TIMES} {'✓' if ratio <= TARGETS[target] else '✗'}"


def table(results: dict[str, Any]) -> str:
    lines = ["| format | measure | floor | vllora-llm | ratio | target |", "|---|---|---:|---:|---:|---|"]
    imp = results["import"]["ms"]
    lines.append(f"| all | import time (`vllora_llm.client` vs `aiohttp, msgspec`), ms | {imp['floor']:.1f} | "
                 f"{imp['vllora']:.1f} | {imp['ratio']:.2f}{TIMES} | {_mark(imp['ratio'], 'import')} |")
    for fmt, entry in results["formats"].items():
        if "skipped" in entry:
            lines.append(f"| {fmt} | skipped: {entry['skipped']} | | | | |")
            continue
        for key, measure, label, unit, target in ROWS:
            shapes = entry[key].items() if key == "streams" else [("", entry[key])]
            for shape, found in shapes:
                pair = found[measure]
                text = label.format(**results["workload"], shape=shape)
                lines.append(f"| {fmt} | {text}, {unit} | {pair['floor']:,.2f} | {pair['vllora']:,.2f} | "
                             f"{pair['ratio']:.2f}{TIMES} | {_mark(pair['ratio'], target)} |")
        start = entry["start"]
        for when in ("cold", "warm"):
            loaded = ", ".join(start[f"{when}_loaded"]) or "none of yaml, jsonschema, jmespath, the CLI"
            lines.append(f"| {fmt} | start-up, {when} spec cache: import + `from_provider`, ms | | "
                         f"{start[f'{when}_import_ms'] + start[f'{when}_from_provider_ms']:.1f} | | "
                         f"`from_provider` {start[f'{when}_from_provider_ms']:.1f} ms; imported: {loaded} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tiny workload (a smoke run, seconds)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write results ({DEFAULT_JSON})")
    parser.add_argument("--format", action="append", choices=FORMATS, help="only these formats (repeatable)")
    parser.add_argument("--rounds", type=int,
                        help="rounds per measurement, medians taken over them (3x as many at 100 in flight)")
    parser.add_argument("--requests", type=int, help="sequential requests per round")
    args = parser.parse_args(argv)
    workload = QUICK if args.quick else Workload()
    if args.rounds:
        workload = dataclasses.replace(workload, rounds=args.rounds, burst_rounds=3 * args.rounds)
    if args.requests:
        workload = dataclasses.replace(workload, requests=args.requests)
    results = run(workload, tuple(args.format or FORMATS))
    if "openai" in (args.format or FORMATS):  # the embeddings row: a large response through the public API
        from . import embeddings

        results["embeddings"] = embeddings.run(quick=args.quick)
        from . import responses  # the Responses row: a 5,000-delta stream read as Responses events

        results["responses"] = responses.run(quick=args.quick)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print()
    print(table(results))
    if "embeddings" in results:
        from .embeddings import row

        print(row(results["embeddings"]))
    if "responses" in results:
        from .responses import row as responses_row

        print(responses_row(results["responses"]))
    print(f"\n{results['seconds']} s; results in {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
