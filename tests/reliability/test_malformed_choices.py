"""A provider answer whose choices are not a list is a typed error, whole or streamed (found by fuzzing:
`{"candidates": 1}` used to raise a bare TypeError, and a string was read character by character)."""

from __future__ import annotations

import pytest

from vllora_llm.engine.errors import ProviderError, StreamError
from vllora_llm.engine.registry import load_plan
from vllora_llm.runtime.sse import SSEEvent

MALFORMED = ['1', 'true', '"abc"', '{"a": 1}']


@pytest.mark.parametrize("value", MALFORMED)
def test_a_response_whose_choices_are_not_a_list_is_a_provider_error(value: str) -> None:
    with pytest.raises(ProviderError, match=r"choices are a \w+, not a list"):
        load_plan("gemini").decode(200, {}, f'{{"candidates": {value}}}'.encode())


@pytest.mark.parametrize("value", MALFORMED)
def test_a_stream_event_whose_choices_are_not_a_list_is_a_stream_error(value: str) -> None:
    decoder = load_plan("gemini").stream_decoder()
    with pytest.raises(StreamError, match=r"choices are a \w+, not a list"):
        decoder.feed(SSEEvent("message", f'{{"candidates": {value}}}'))


@pytest.mark.parametrize("value", ["[]", "null", "0", '""', "{}"])
def test_empty_choices_still_mean_no_choices(value: str) -> None:
    response = load_plan("gemini").decode(200, {}, f'{{"candidates": {value}, "responseId": "r"}}'.encode())
    assert response.choices == [] and response.id == "r"


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ('"1"', 0), ("null", 0), ("2.5", 0)])
def test_a_streamed_choice_index_is_read_as_responses_read_it(value: str, expected: int) -> None:
    """The spec's `index:` path, an int there, else the choice's position (as for a whole response)."""
    event = f'{{"candidates": [{{"content": {{"parts": [{{"text": "hi"}}]}}, "index": {value}}}]}}'
    chunks = load_plan("gemini").stream_decoder().feed(SSEEvent("message", event))
    whole = load_plan("gemini").decode(200, {}, event.encode())
    assert [c.index for chunk in chunks for c in chunk.choices] == [expected] == [c.index for c in whole.choices]
