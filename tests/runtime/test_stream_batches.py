"""A read that completes many events is decoded `DECODE_BATCH` frames at a time, as the caller takes chunks.

Why: the chunks of a whole read, decoded at once, all live until handed out, and the garbage collector scans
them again and again (~0.3 us per event on a 5,000-event stream). Decoded a batch at a time they are freed
before the next batch is made. What the caller sees is unchanged: every chunk, in order, and an error only
after the chunks of the events before it.
"""

from __future__ import annotations

import json

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.errors import StreamError
from vllora_llm.engine.gateway import ChatCompletionRequest
from vllora_llm.runtime.provider_stream import DECODE_BATCH
from vllora_llm.testing import LocalProviderServer, replay

REQUEST = ChatCompletionRequest.from_dict({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
EVENTS = 10 * DECODE_BATCH + 7


def _event(data: object) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def _body(broken_at: int | None = None) -> bytes:
    """An OpenAI chat stream of `EVENTS` one-word deltas (the event at `broken_at` is not JSON), in one piece."""
    events = [b"data: {not json\n\n" if i == broken_at else
              _event({"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"content": f"w{i} "}}]})
              for i in range(EVENTS)]
    events.append(_event({"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    return b"".join(events) + b"data: [DONE]\n\n"


async def test_a_read_of_many_events_is_decoded_a_batch_at_a_time() -> None:
    async with LocalProviderServer() as server, VlloraLLMClient.from_provider(
        "openai", api_key="k-batches", base_url=server.openai_base_url, max_retries=0
    ) as client:
        server.faults.push(replay(_body(), content_type="text/event-stream"))  # written in one piece
        chunks = await client.instance.open_stream(REQUEST)
        first = await chunks.__anext__()
        held = len(chunks.pending)  # decoded, not handed out yet
        texts = [first.choices[0].delta.content] + [chunk.choices[0].delta.content async for chunk in chunks]
    assert held < DECODE_BATCH
    assert texts == [f"w{i} " for i in range(EVENTS)] + [None]


@pytest.mark.parametrize("broken_at", [0, DECODE_BATCH - 1, DECODE_BATCH, 3 * DECODE_BATCH + 5])
async def test_a_bad_event_fails_after_the_chunks_of_the_events_before_it(broken_at: int) -> None:
    async with LocalProviderServer() as server, VlloraLLMClient.from_provider(
        "openai", api_key="k-batches", base_url=server.openai_base_url, max_retries=0
    ) as client:
        server.faults.push(replay(_body(broken_at), content_type="text/event-stream"))
        received: list[str | None] = []
        with pytest.raises(StreamError, match="not valid JSON"):
            async for chunk in client.completions().create_stream(REQUEST):
                received.append(chunk.choices[0].delta.content)
    assert received == [f"w{i} " for i in range(broken_at)]
