"""The speed suite runs: `python -m benchmarks --quick` (a tiny workload) ends well and writes its JSON.

A smoke test only: no timing is asserted here (timings belong to `python -m benchmarks`, not to a test run
on a shared machine).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_runs_on_a_tiny_workload(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--format", "openai", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(out.read_text())
    assert {"machine", "workload", "targets", "import", "formats", "seconds"} <= set(results)
    assert set(results["import"]["ms"]) == {"floor", "vllora", "ratio"}
    entry = results["formats"]["openai"]
    for key in ("sequential_us_per_request", "stream_us_per_chunk", "concurrent_requests_per_s", "rss", "start"):
        assert key in entry, key
    assert entry["stream_us_per_chunk"]["vllora_chunks"] > 0
    assert set(entry["streams"]) == {"text", "tools"}  # each recorded stream shape is a row of its own
    assert entry["streams"]["tools"]["vllora_chunks"] > 0
    assert entry["start"]["warm_loaded"] == []  # a warm start imports neither yaml, jsonschema nor jmespath
    assert "| openai |" in done.stdout  # the ratio table
    assert "stream (tools)" in done.stdout
    assert set(results["embeddings"]) >= {"floor_us", "vllora_us", "ratio"}  # the 100 x 1,536 embeddings row
    assert "| openai | embeddings 100 x 1,536 floats" in done.stdout
    assert set(results["responses"]) >= {"floor_ms", "vllora_ms", "ratio"}  # the 5,000-delta Responses row
    assert "| openai | Responses stream of 5,000 deltas (via chat)" in done.stdout
    assert set(results["responses"]["native"]) >= {"floor_ms", "vllora_ms", "ratio"}  # served natively too
    assert "| openai | Responses stream of 5,000 deltas (native)" in done.stdout
