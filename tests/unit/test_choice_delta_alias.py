"""`reasoning_content` (the alias some compatible servers stream) lands in `reasoning` wherever a delta is
decoded; the constructor does not fold it (no Python call per streamed chunk)."""

from __future__ import annotations

import msgspec
import pytest

from vllora_llm.engine.gateway import ChatCompletionChunk, ChoiceDelta, ChunkChoice

DELTA = {"reasoning_content": "thinking"}


@pytest.mark.parametrize("how", ["dict", "json"])
def test_decoded_chunks_choices_and_deltas_fold_the_alias(how: str) -> None:
    def decode(cls: type[msgspec.Struct], value: dict[str, object]) -> object:
        if how == "dict":
            return cls.from_dict(value)  # type: ignore[attr-defined]
        return cls.from_json(msgspec.json.encode(value))  # type: ignore[attr-defined]

    chunk = decode(ChatCompletionChunk, {"choices": [{"delta": DELTA}, {"delta": {"content": "a"}, "index": 1}]})
    assert isinstance(chunk, ChatCompletionChunk)
    assert chunk.choices[0].delta.reasoning == "thinking"
    assert chunk.choices[0].delta.reasoning_content is None
    assert chunk.choices[1].delta.reasoning is None
    choice = decode(ChunkChoice, {"delta": DELTA})
    assert isinstance(choice, ChunkChoice) and choice.delta.reasoning == "thinking"
    assert choice.delta.reasoning_content is None
    delta = decode(ChoiceDelta, DELTA)
    assert isinstance(delta, ChoiceDelta) and (delta.reasoning, delta.reasoning_content) == ("thinking", None)
    # `reasoning` when both are sent
    both = decode(ChoiceDelta, {"reasoning": "kept", "reasoning_content": "dropped"})
    assert isinstance(both, ChoiceDelta) and (both.reasoning, both.reasoning_content) == ("kept", None)


def test_the_constructor_keeps_what_it_is_given() -> None:
    delta = ChoiceDelta(reasoning_content="thinking")
    assert (delta.reasoning, delta.reasoning_content) == (None, "thinking")
