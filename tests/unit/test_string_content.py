"""A message's string content is rendered straight through the `text` template (message_parts.py: no part dict,
no path string per message), and must map exactly as the same text given as one text part does: same turns,
same warnings, same error, and the same `ctx.path` left for the steps after the messages (which read it)."""

from __future__ import annotations

import functools
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vllora_llm.engine.errors import LLMError
from vllora_llm.engine.messages import MessagesOp, compile_messages
from vllora_llm.engine.registry import load_plan
from vllora_llm.engine.transforms import Context

TEMPLATE_SPECS = ("anthropic", "bedrock", "gemini")

TEXT = st.sampled_from(["", "hi", "  padded ", "Say hello.", "ünï"])
PART = st.one_of(
    st.builds(lambda text, cache: {"type": "text", "text": text, **({"cache_control": cache} if cache else {})},
              TEXT, st.none() | st.just({"type": "ephemeral"})),
    st.just({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}),
    st.just({"type": "image_url", "image_url": {"url": "gs://bucket/cat.jpg"}}),
)
CONTENT = st.none() | TEXT | st.lists(PART, max_size=2)
CALL = st.builds(lambda i, args: {"id": i, "type": "function", "function": {"name": "f", "arguments": args}},
                 st.sampled_from(["c1", "c2"]), st.sampled_from(['{"a": 1}', "not json"]))
DETAIL = st.builds(lambda kind, extra: {"type": kind, **extra}, st.sampled_from(["thinking", "redacted_thinking"]),
                   st.fixed_dictionaries({}, optional={"text": TEXT, "signature": st.just("sig"),
                                                       "data": st.just("xyz")}))
MESSAGE = st.one_of(
    st.builds(lambda role, content: {"role": role, "content": content},
              st.sampled_from(["system", "user", "user", "assistant", "developer"]), CONTENT),
    st.builds(lambda content, extra: {"role": "assistant", "content": content, **extra}, CONTENT,
              st.fixed_dictionaries({}, optional={"tool_calls": st.lists(CALL, max_size=2),
                                                  "reasoning_details": st.lists(DETAIL, max_size=2),
                                                  "refusal": TEXT})),
    st.builds(lambda call_id, content: {"role": "tool", "tool_call_id": call_id, "content": content},
              st.sampled_from(["c1", "c2"]), CONTENT),
)


@functools.cache
def _mapper(name: str) -> MessagesOp:
    return compile_messages(load_plan(name).spec["messages"], name)


def _as_part(message: dict[str, Any]) -> dict[str, Any]:
    """The message with a non-empty string content given as one text part instead."""
    content = message.get("content")
    if isinstance(content, str) and content:
        return {**message, "content": [{"type": "text", "text": content}]}
    return message


def _run(name: str, messages: list[dict[str, Any]]) -> tuple[Any, ...]:
    body: dict[str, Any] = {}
    ctx = Context(name, "before")
    try:
        _mapper(name)(messages, body, ctx)
    except LLMError as exc:
        return "error", type(exc).__name__, str(exc)
    return body, [(w.code, w.message, w.param) for w in ctx.warnings], ctx.path


_ONE_PART = re.compile(r"(messages\[(\d+)\]\.content)\[0\]")


def _normalize(value: Any, converted: set[int]) -> Any:
    """The request paths of the converted messages' one text part (`messages[i].content[0]`) written as the
    string's (`messages[i].content`), anywhere in a result."""
    if isinstance(value, str):
        return _ONE_PART.sub(lambda m: m.group(1) if int(m.group(2)) in converted else m.group(0), value)
    if isinstance(value, (list, tuple)):
        return type(value)(_normalize(item, converted) for item in value)
    if isinstance(value, dict):
        return {key: _normalize(item, converted) for key, item in value.items()}
    return value


@pytest.mark.parametrize("name", TEMPLATE_SPECS)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conversation=st.lists(MESSAGE, min_size=1, max_size=5))
def test_string_content_maps_as_one_text_part(name: str, conversation: list[dict[str, Any]]) -> None:
    converted = {i for i, m in enumerate(conversation) if isinstance(m.get("content"), str) and m["content"]}
    as_part = _run(name, [_as_part(message) for message in conversation])
    assert _run(name, conversation) == _normalize(as_part, converted)


@pytest.mark.parametrize(("messages", "path"), [
    ([{"role": "user", "content": "hi"}], "messages[0].content"),
    ([{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}], "messages[1].content"),
    ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": [{"type": "text", "text": "yo"}]}],
     "messages[1].content[0]"),
    ([{"role": "user", "content": [{"type": "text", "text": "a"}]}, {"role": "user", "content": "b"}],
     "messages[1].content"),
    ([{"role": "user", "content": ""}], "before"),
    ([{"role": "user", "content": "hi"}] * 70, "messages[69].content"),  # (past the paths made once)
])
def test_the_path_left_after_the_messages(messages: list[dict[str, Any]], path: str) -> None:
    """The steps after the messages (adjust entries, the turn template) see the path of the last rendered part,
    as when each part set it (`ctx.path` is what a warning without its own parameter names)."""
    for name in TEMPLATE_SPECS:
        assert _run(name, messages)[2] == path, name
