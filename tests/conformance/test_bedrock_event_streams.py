"""Every recorded Bedrock `.eventstream` body decodes, frame by frame, to the events botocore's own decoder gives.

botocore's side is the SDK's real path: `botocore.eventstream.EventStream` (its `EventStreamBuffer` with the CRC
checks, then its `EventStreamJSONParser` against the bedrock-runtime `ConverseStreamOutput` shape). Ours is the
runtime's `EventStreamParser` (the frames) read as the spec does: the `:event-type` header names the event,
the payload is JSON. botocore drops what its shape does not know (the random `"p"` padding, and `serverToolUsage`,
newer than this botocore's model) and hands blobs (redacted reasoning) over as bytes, so those are normalised
before comparing. Then the same for in-stream
`exception` messages: botocore's error code is our error type, and the class comes from the spec's table.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from vllora_llm.engine.errors import InvalidRequestError, LLMError, ProviderError, RateLimitError, StreamError
from vllora_llm.engine.registry import load_plan
from vllora_llm.runtime.eventstream import EventStreamFramer, EventStreamParser, encode_message

from ._support import RECORDINGS

pytest.importorskip("botocore")  # botocore is an optional dependency: its imports come after the skip

from botocore.eventstream import EventStream
from botocore.exceptions import EventStreamError
from botocore.parsers import EventStreamJSONParser
from botocore.session import get_session

STREAM_SHAPE = get_session().get_service_model("bedrock-runtime").shape_for("ConverseStreamOutput")
RECORDED = sorted((RECORDINGS / "bedrock").glob("*.eventstream"))


class _Raw:
    """What botocore's EventStream reads from: an HTTP body with `.stream()`."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size = data, size

    def stream(self) -> Any:
        return (self.data[i : i + self.size] for i in range(0, len(self.data), self.size))

    def close(self) -> None:
        pass


def botocore_events(data: bytes, size: int = 7) -> list[dict[str, Any]]:
    return list(EventStream(_Raw(data, size), STREAM_SHAPE, EventStreamJSONParser(), "ConverseStream"))


def our_events(data: bytes, size: int = 7) -> list[dict[str, Any]]:
    parser = EventStreamParser()
    frames = [f for i in range(0, len(data), size) for f in parser.feed(data[i : i + size])] + parser.close()
    out = []
    for frame in frames:
        assert frame.headers[":message-type"] == "event"
        assert frame.headers[":content-type"] == "application/json"
        event = frame.headers[":event-type"]
        out.append({event: _known(json.loads(frame.payload), STREAM_SHAPE.members[event], event)})
    return out


UNKNOWN_TO_BOTOCORE = {"p", "serverToolUsage"}
"""Members real payloads carry that this botocore's shape does not have: the padding, and a newer usage field."""


def _known(value: Any, shape: Any, where: str) -> Any:
    """`value` without the members `shape` does not know (as botocore's parser leaves them out)."""
    if shape.type_name == "structure" and isinstance(value, dict) and not shape.is_document_type:
        unknown = set(value) - set(shape.members)
        assert unknown <= UNKNOWN_TO_BOTOCORE, f"{where}: {sorted(unknown)} not in botocore's shape"
        return {k: _known(v, shape.members[k], f"{where}.{k}") for k, v in value.items() if k in shape.members}
    if shape.type_name == "list" and isinstance(value, list):
        return [_known(v, shape.member, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _text_blobs(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _text_blobs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text_blobs(v) for v in value]
    return value


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
def test_recording_decodes_like_botocore(path: Path) -> None:
    data = path.read_bytes()
    theirs = [_text_blobs(e) for e in botocore_events(data)]
    assert theirs, "botocore decoded nothing"
    assert our_events(data) == theirs
    assert our_events(data, size=1) == theirs  # frames split at every byte


def test_every_recording_is_checked() -> None:
    assert len(RECORDED) == 8, RECORDED


EXCEPTIONS = {
    "throttlingException": (RateLimitError, True),
    "validationException": (InvalidRequestError, False),
    "modelStreamErrorException": (StreamError, False),
    "internalServerException": (ProviderError, True),
    "serviceUnavailableException": (ProviderError, True),
}


def test_the_table_covers_every_exception_of_the_stream_shape() -> None:
    members = {name for name, shape in STREAM_SHAPE.members.items() if shape.metadata.get("exception")}
    assert members == set(EXCEPTIONS)


@pytest.mark.parametrize("name", sorted(EXCEPTIONS))
def test_exception_message_like_botocore(name: str) -> None:
    """An `exception` message after a text delta: botocore raises with that code; we raise the typed error."""
    text = encode_message({":event-type": "contentBlockDelta", ":content-type": "application/json",
                           ":message-type": "event"}, b'{"contentBlockIndex":0,"delta":{"text":"Hel"},"p":"ab"}')
    failure = encode_message({":exception-type": name, ":content-type": "application/json",
                              ":message-type": "exception"}, json.dumps({"message": f"{name} happened"}).encode())
    with pytest.raises(EventStreamError) as botocore_error:
        botocore_events(text + failure)
    assert botocore_error.value.response["Error"] == {"Code": name, "Message": f"{name} happened"}

    plan = load_plan("bedrock")
    decoder = plan.stream_decoder()
    frames = EventStreamFramer(plan.event_header).feed(text + failure)  # normalised as the runtime does it
    assert [c.choices[0].delta.content for c in decoder.feed(frames[0])] == ["Hel"]
    with pytest.raises(LLMError) as ours:
        decoder.feed(frames[1])
    cls, retryable = EXCEPTIONS[name]
    assert type(ours.value) is cls
    assert (ours.value.error_type, ours.value.message, ours.value.retryable) == (name, f"{name} happened", retryable)
    assert ours.value.status is None and ours.value.provider == "bedrock"
