"""`python -m benchmarks.streams`: each stage of a stream (framing, decoding, aggregation, the public API) runs
on the benchmark's bytes and makes what the stream holds. A smoke test: no timing or count is asserted."""

from __future__ import annotations

import pytest

from benchmarks.streams import EVENTS, STAGES, stream


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_runs_the_whole_stream(stage: str) -> None:
    made = stream("gemini", "tools", stage)()
    assert made == EVENTS + (stage != "framing")  # an event per call, then the usage chunk after the finish
