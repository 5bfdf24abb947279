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
