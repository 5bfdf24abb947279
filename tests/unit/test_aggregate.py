"""StreamAggregator: chunks in, the whole message out. Each case is a list of chunk dicts and the expected
first message as `to_dict()` gives it (defaults such as `type: function` are omitted there)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllora_llm.engine.aggregate import StreamAggregator, aggregate
from vllora_llm.engine.gateway import (
    ChatCompletionChunk,
    ChoiceDelta,
    ChunkChoice,
    FunctionCallDelta,
    ToolCallDelta,
    Usage,
)


def chunk(*deltas: dict[str, Any], finish: str | None = None, index: int = 0, **top: Any) -> dict[str, Any]:
    """One chunk with one choice whose delta merges `deltas`."""
    delta: dict[str, Any] = {}
    for d in deltas:
        delta.update(d)
    return {"choices": [{"index": index, "delta": delta, "finish_reason": finish}], **top}


def call(
    index: int | None = None, id: str | None = None, name: str | None = None, args: str | None = None, **extra: Any
) -> dict[str, Any]:
    function = {k: v for k, v in (("name", name), ("arguments", args)) if v is not None}
    out: dict[str, Any] = {"function": function, **extra}
    if index is not None:
        out["index"] = index
    if id is not None:
        out["id"] = id
    return out


def tool_calls(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"tool_calls": list(calls)}


def run(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    aggregator = StreamAggregator()
    for c in chunks:
        aggregator.add(ChatCompletionChunk.from_dict(c))
    return aggregator.result().to_dict()


def message(chunks: list[dict[str, Any]], choice: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = run(chunks)["choices"][choice]["message"]
    return out


CASES: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = [
    (
        "text",
        [chunk({"role": "assistant", "content": ""}), chunk({"content": "Hel"}), chunk({"content": "lo"})],
        {"role": "assistant", "content": "Hello"},
    ),
    (
        "refusal",
        [chunk({"refusal": "I'm"}), chunk({"refusal": " sorry"})],
        {"role": "assistant", "refusal": "I'm sorry"},
    ),
    (
        "reasoning",
        [chunk({"reasoning": "think"}), chunk({"reasoning": "ing"}), chunk({"content": "ok"})],
        {"role": "assistant", "content": "ok", "reasoning": "thinking"},
    ),
    ("role defaults to assistant", [chunk({"content": "x"})], {"role": "assistant", "content": "x"}),
    (
        "tool calls by index (parallel, interleaved)",
        [
            chunk(tool_calls(call(0, "call_a", "get_a", ""))),
            chunk(tool_calls(call(1, "call_b", "get_b", ""))),
            chunk(tool_calls(call(0, args='{"x":'))),
            chunk(tool_calls(call(1, args='{"y":2}'))),
            chunk(tool_calls(call(0, args="1}"))),
        ],
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "get_a", "arguments": '{"x":1}'}},
                {"id": "call_b", "type": "function", "function": {"name": "get_b", "arguments": '{"y":2}'}},
            ],
        },
    ),
    (
        "every call as index 0 with a new id",
        [
            chunk(tool_calls(call(0, "c1", "f", '{"a":'))),
            chunk(tool_calls(call(0, args="1}"))),
            chunk(tool_calls(call(0, "c2", "g", "{}"))),
        ],
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}},
                {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
            ],
        },
    ),
    (
        "missing index: fragments go to the last open call",
        [
            chunk(tool_calls(call(3, "c1", "f", ""))),
            chunk(tool_calls(call(None, args="{}"))),
        ],
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            ],
        },
    ),
    (
        "the same id repeated on every fragment is one call",
        [chunk(tool_calls(call(0, "c1", "f", '{"a"'))), chunk(tool_calls(call(0, "c1", "f", ":1}")))],
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}},
            ],
        },
    ),
    (
        "an id arriving after the name is kept; signature is set",
        [chunk(tool_calls(call(0, None, "f", "{}"))), chunk(tool_calls(call(0, "c9", signature="sig")))],
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c9", "type": "function", "function": {"name": "f", "arguments": "{}"}, "signature": "sig"},
            ],
        },
    ),
    (
        "a call without any id gets a positional one",
        [chunk(tool_calls(call(0, None, "f", "{}")))],
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_0", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            ],
        },
    ),
    (
        "reasoning details merged by position, signature set",
        [
            chunk({"reasoning_details": [{"text": "Let me "}]}),
            chunk({"reasoning_details": [{"text": "think."}]}),
            chunk({"reasoning_details": [{"signature": "SIG"}]}),
        ],
        {"role": "assistant", "reasoning_details": [{"text": "Let me think.", "signature": "SIG"}]},
    ),
    (
        "a signed reasoning block is closed: new text starts the next one; a new kind starts one too",
        [
            chunk({"reasoning_details": [{"text": "a"}]}),
            chunk({"reasoning_details": [{"signature": "S1"}]}),
            chunk({"reasoning_details": [{"text": "b"}]}),
            chunk({"reasoning_details": [{"type": "redacted_thinking", "data": "opaque"}]}),
        ],
        {
            "role": "assistant",
            "reasoning_details": [
                {"text": "a", "signature": "S1"},
                {"text": "b"},
                {"type": "redacted_thinking", "data": "opaque"},
            ],
        },
    ),
]


@pytest.mark.parametrize(("chunks", "expected"), [(c, e) for _, c, e in CASES], ids=[n for n, _, _ in CASES])
def test_message(chunks: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    assert message(chunks) == expected


def test_top_level_fields_usage_and_finish_reason() -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    out = run(
        [
            chunk({"content": "a"}, id="id1", model="m", created=7),
            chunk({"content": "b"}, id="id2", model="m2", created=8, usage=None),
            chunk({}, finish="stop"),
            {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}},
            {"choices": [], "usage": usage},
            {"choices": []},
        ]
    )
    assert (out["id"], out["model"], out["created"]) == ("id1", "m", 7)
    assert out["usage"] == usage
    assert out["choices"][0]["finish_reason"] == "stop"


def test_choices_by_index_sorted() -> None:
    out = run(
        [
            chunk({"content": "two"}, index=2),
            chunk({"content": "zero"}, index=0),
            chunk({"content": "one"}, index=1, finish="length"),
            chunk({}, index=0, finish="stop"),
        ]
    )
    assert [(c.get("index", 0), c["message"]["content"], c.get("finish_reason")) for c in out["choices"]] == [
        (0, "zero", "stop"),
        (1, "one", "length"),
        (2, "two", None),
    ]


def test_logprobs_concatenated() -> None:
    lp = [
        {
            "choices": [
                {"index": 0, "delta": {"content": "a"}, "logprobs": {"content": [{"token": "a"}], "refusal": None}}
            ]
        },
        {
            "choices": [
                {"index": 0, "delta": {"content": "b"}, "logprobs": {"content": [{"token": "b"}], "refusal": None}}
            ]
        },
    ]
    assert run(lp)["choices"][0]["logprobs"] == {"content": [{"token": "a"}, {"token": "b"}], "refusal": None}


def test_empty_stream_and_partial_results() -> None:
    aggregator = StreamAggregator()
    assert aggregator.result().choices == []
    aggregator.add(ChatCompletionChunk.from_dict(chunk({"content": "par"})))
    assert aggregator.result().text() == "par"  # result() is safe mid-stream
    aggregator.add(ChatCompletionChunk.from_dict(chunk({"content": "tial"}, finish="stop")))
    assert aggregator.result().text() == "partial"
    assert aggregator.chunks == 2


def test_aggregate_helper_and_usage_type() -> None:
    chunks = [ChatCompletionChunk.from_dict({"choices": [], "usage": {"prompt_tokens": 1, "total_tokens": 1}})]
    result = aggregate(chunks)
    assert isinstance(result.usage, Usage)
    assert result.usage.total_tokens == 1


def test_inputs_are_not_mutated() -> None:
    first = ChatCompletionChunk.from_dict(chunk(tool_calls(call(0, "c", "f", "{"))))
    second = ChatCompletionChunk.from_dict(chunk(tool_calls(call(0, args="}"))))
    before = (first.to_dict(), second.to_dict())
    aggregate([first, second])
    assert (first.to_dict(), second.to_dict()) == before


def _reference_calls(deltas: list[ToolCallDelta]) -> list[tuple[Any, ...]]:
    """The tool-call rules of the module docstring, one field at a time (what the aggregator did before a new
    call's first delta was made whole in one step): (id, name, type, signature, arguments) per call."""
    calls: list[dict[str, Any]] = []
    by_index: dict[int, dict[str, Any]] = {}

    def open_call(index: int, call_id: str | None) -> dict[str, Any]:
        call = by_index[index] = {"id": call_id, "name": None, "type": None, "signature": None, "args": []}
        calls.append(call)
        return call

    for delta in deltas:
        current = by_index.get(delta.index)
        if delta.id is None:
            if current is None:
                current = calls[-1] if calls else open_call(delta.index, None)
        elif current is not None and current["id"] is None:
            current["id"] = delta.id
        elif current is None or current["id"] != delta.id:
            current = open_call(delta.index, delta.id)
        if delta.type:
            current["type"] = delta.type
        if delta.signature is not None:
            current["signature"] = delta.signature
        if delta.function is not None:
            if delta.function.name and not current["name"]:
                current["name"] = delta.function.name
            if delta.function.arguments:
                current["args"].append(delta.function.arguments)
    return [(c["id"] or f"call_{i}", c["name"] or "", c["type"] or "function", c["signature"],
             "".join(c["args"]) or "{}") for i, c in enumerate(calls)]


_TEXTS = st.sampled_from([None, "", "a", "b"])
_DELTAS = st.builds(ToolCallDelta, index=st.integers(0, 2), id=st.sampled_from([None, "x", "y"]),
                    type=st.sampled_from([None, "", "function", "custom"]), signature=_TEXTS,
                    function=st.one_of(st.none(), st.builds(FunctionCallDelta, name=_TEXTS, arguments=_TEXTS)))


@settings(max_examples=300, deadline=None)
@given(groups=st.lists(st.lists(_DELTAS, min_size=1, max_size=3), max_size=6))
def test_tool_call_deltas_are_assembled_by_the_rules(groups: list[list[ToolCallDelta]]) -> None:
    """Calls opened, continued and renamed as the rules say, a chunk's deltas in order, whichever delta opens
    a call (an id, none, a repeated index, a function or none)."""
    aggregator = StreamAggregator()
    for deltas in groups:
        aggregator.add(ChatCompletionChunk(choices=[ChunkChoice(index=0, delta=ChoiceDelta(tool_calls=deltas))]))
    message = aggregator.result().choices[0].message if groups else None
    got = [(c.id, c.function.name, c.type, c.signature, c.function.arguments)
           for c in (message.tool_calls if message is not None else None) or ()]
    assert got == _reference_calls([delta for deltas in groups for delta in deltas])
