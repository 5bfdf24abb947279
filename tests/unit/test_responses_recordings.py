"""The Responses event types against OpenAI's own recorded streams (tests/recordings/openai/responses_stream_*):
every event decodes to our typed event, its `to_dict()` validates as the official SDK's event, and the
response each stream ends with agrees with the deltas before it (text, arguments, reasoning summary)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from openai.types.responses import ResponseStreamEvent as SdkEvent
from pydantic import TypeAdapter

from vllora_llm.types.responses import (
    FunctionCallArgumentsDeltaEvent,
    FunctionCallItem,
    OutputTextDeltaEvent,
    ReasoningItem,
    ReasoningSummaryTextDeltaEvent,
    ResponseCompletedEvent,
    ResponseStreamEvent,
)

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings" / "openai"
STREAMS = sorted(p for p in RECORDINGS.glob("responses_stream_*") if p.suffix in (".sse", ".jsonl"))
EVENTS: TypeAdapter[Any] = TypeAdapter(SdkEvent)


def recorded(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix == ".sse":
        return [json.loads(line[len("data: "):]) for line in lines if line.startswith("data: ")]
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("path", STREAMS, ids=[p.name for p in STREAMS])
def test_recorded_stream_decodes_to_typed_events(path: Path) -> None:
    raw = recorded(path)
    starts = [i for i, data in enumerate(raw) if data["type"] == "response.created"] + [len(raw)]
    for start, stop in itertools.pairwise(starts):  # a file may hold several streams, one after another
        check_stream(raw[start:stop])


def check_stream(raw: list[dict[str, Any]]) -> None:
    events = [msgspec.convert(data, ResponseStreamEvent) for data in raw]
    assert [event.type for event in events] == [data["type"] for data in raw]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    for event in events:
        EVENTS.validate_python(event.to_dict())
    end = events[-1]
    assert isinstance(end, ResponseCompletedEvent) and end.response.status == "completed"
    response = end.response
    text = "".join(e.delta for e in events if isinstance(e, OutputTextDeltaEvent))
    assert response.output_text == text
    arguments = "".join(e.delta for e in events if isinstance(e, FunctionCallArgumentsDeltaEvent))
    calls = [item for item in response.output if isinstance(item, FunctionCallItem)]
    assert "".join(call.arguments for call in calls) == arguments
    summaries = "".join(e.delta for e in events if isinstance(e, ReasoningSummaryTextDeltaEvent))
    reasoning = [item for item in response.output if isinstance(item, ReasoningItem)]
    assert "".join(part.text for item in reasoning for part in item.summary) == summaries
    assert response.usage is not None and response.usage.total_tokens == (
        response.usage.input_tokens + response.usage.output_tokens)
    assert text or arguments  # each recorded turn says something


def test_recorded_kinds_are_all_covered() -> None:
    kinds = {data["type"] for path in STREAMS for data in recorded(path)}
    assert {"response.output_text.delta", "response.function_call_arguments.delta",
            "response.reasoning_summary_text.delta"} <= kinds
