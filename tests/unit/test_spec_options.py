"""The generic spec-language options the Anthropic spec needed, each on a minimal spec of its own (no provider).

`allow` on a mapped rule, `conflicts_with` entries with `values` / `except`, `requires`, an `unless` rule's
default, a mapped object copied per request, `messages.order` groups and `*`, `adjust: [{at, transform}]`,
`{api_version}` in headers, `errors.request_id`, argument pieces for a block no tool call opened, and two
aggregation rules (consecutive redacted reasoning blocks stay apart; a call with no argument text is "{}").
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from vllora_llm.engine.aggregate import aggregate
from vllora_llm.engine.errors import MappingError
from vllora_llm.engine.frames import Frame
from vllora_llm.engine.gateway import ChatCompletionChunk, ChatCompletionRequest
from vllora_llm.engine.plan import Plan


def plan(**parts: Any) -> Plan:
    spec: dict[str, Any] = {"apiVersion": "vllora.dev/v1", "kind": "ProviderSpec",
                            "metadata": {"name": "toy", "revision": 1, "api_version": "2030-01-01"},
                            "endpoint": {"base_url": "http://toy.test", "chat": {"path": "/chat"}}}
    spec.update(parts)
    return Plan(spec)


def encode(p: Plan, **request: Any) -> tuple[dict[str, Any], list[tuple[str | None, str]]]:
    req = ChatCompletionRequest.coerce({"model": "m", "messages": [{"role": "user", "content": "hi"}], **request})
    wire, warnings = p.encode(req)
    body = json.loads(wire.body)
    body.pop("messages")
    body.pop("model", None)
    return body, [(w.param, w.code) for w in warnings]


PARALLEL = {"to": "choice.no_parallel", "map": {False: True}, "allow": [True], "requires": ["tools"],
            "conflicts_with": [{"param": "tool_choice", "values": ["none"]}]}
PARAMS = {"model": {}, "tools": {}, "tool_choice": {}, "parallel_tool_calls": PARALLEL}


def test_allow_on_a_mapped_rule_is_silent_and_not_sent() -> None:
    assert encode(plan(params=PARAMS), tools=[{"function": {"name": "f"}}], parallel_tool_calls=True)[1] == []


def test_requires() -> None:
    body, warnings = encode(plan(params=PARAMS), parallel_tool_calls=False)
    assert "choice" not in body
    assert warnings == [("parallel_tool_calls", "ignored_parameter")]
    body, warnings = encode(plan(params=PARAMS), tools=[{"function": {"name": "f"}}], parallel_tool_calls=False)
    assert body["choice"] == {"no_parallel": True} and warnings == []


def test_conflicts_with_values() -> None:
    tools = [{"function": {"name": "f"}}]
    body, warnings = encode(plan(params=PARAMS), tools=tools, tool_choice="none", parallel_tool_calls=False)
    assert "choice" not in body and warnings == [("parallel_tool_calls", "unsupported_parameter")]
    body, warnings = encode(plan(params=PARAMS), tools=tools, tool_choice="auto", parallel_tool_calls=False)
    assert body["choice"] == {"no_parallel": True} and warnings == []


def test_conflicts_with_except() -> None:
    rule = {"conflicts_with": [{"param": "provider_specific.thinking", "except": [{"type": "disabled"}]}]}
    p = plan(params={"model": {}, "temperature": rule, "provider_specific.thinking": {}})
    assert encode(p, temperature=0.5, provider_specific={"thinking": {"type": "disabled"}})[0]["temperature"] == 0.5
    body, warnings = encode(p, temperature=0.5, provider_specific={"thinking": {"budget_tokens": 2000}})
    assert "temperature" not in body and warnings == [("temperature", "unsupported_parameter")]


def test_no_default_while_the_unless_parameter_is_set() -> None:
    rule = {"unless": "max_completion_tokens", "default": 10, "default_warn": True}
    p = plan(params={"model": {}, "max_tokens": rule, "max_completion_tokens": {"to": "max_tokens"}})
    assert encode(p, max_completion_tokens=30) == ({"max_tokens": 30}, [])
    assert encode(p) == ({"max_tokens": 10}, [("max_tokens", "default_applied")])


def test_a_mapped_object_is_a_fresh_copy_per_request() -> None:
    p = plan(params={**PARAMS, "tool_choice": {"map": {"auto": {"type": "auto"}}}})
    tools = [{"function": {"name": "f"}}]
    first, _ = encode(p, tools=tools, tool_choice="auto", parallel_tool_calls=False)
    assert first["tool_choice"] == {"type": "auto"} and first["choice"] == {"no_parallel": True}
    p2 = plan(params={**PARAMS, "tool_choice": {"to": "choice", "map": {"auto": {"type": "auto"}}}})
    encode(p2, tools=tools, tool_choice="auto", parallel_tool_calls=False)
    assert encode(p2, tools=tools, tool_choice="auto")[0]["choice"] == {"type": "auto"}  # not {…, no_parallel}


MESSAGES = {"mode": "template", "roles": {"user": "user", "assistant": "assistant", "tool": "user"},
            "merge_consecutive_roles": True,
            "parts": {"text": {"t": "$text"}, "tool_call": {"call": "$id"}, "reasoning": {"r": "$signature"},
                      "redacted_reasoning": {"x": "$data"}, "tool_result": {"result": "$tool_call_id"}}}


@pytest.mark.parametrize(("order", "expected"), [
    ([["reasoning", "redacted_reasoning"], "*", "tool_call"], [{"x": "d1"}, {"r": "s1"}, {"t": "hi"}, {"call": "c"}]),
    (["reasoning", "redacted_reasoning", "tool_call"], [{"r": "s1"}, {"x": "d1"}, {"call": "c"}, {"t": "hi"}]),
])
def test_order_groups_and_star(order: list[Any], expected: list[dict[str, str]]) -> None:
    p = plan(params={"model": {}}, messages={**MESSAGES, "order": order})
    message = {"role": "assistant", "content": "hi", "tool_calls": [{"id": "c", "function": {"name": "f"}}],
               "reasoning_details": [{"type": "redacted_thinking", "data": "d1"}, {"signature": "s1", "text": "t"}]}
    wire, _ = p.encode(ChatCompletionRequest.coerce({"model": "m", "messages": [message]}))
    assert json.loads(wire.body)["messages"] == [{"role": "assistant", "content": expected}]


def test_adjust_at_a_path_and_on_the_body() -> None:
    p = plan(params={"model": {}, "max_tokens": {}, "provider_specific.thinking": {"to": "think"}},
             adjust=[{"at": "think", "transform": {"name": "fill_defaults", "args": {"defaults": {"type": "on"}}}},
                     {"transform": {"name": "raise_above", "args": {"field": "max_tokens",
                                                                    "above": "think.budget_tokens"}}}])
    body, warnings = encode(p, max_tokens=100, provider_specific={"thinking": {"budget_tokens": 2000}})
    assert body == {"max_tokens": 2100, "think": {"type": "on", "budget_tokens": 2000}}
    assert warnings == [("max_tokens", "adjusted_parameter")]
    assert encode(p, max_tokens=100) == ({"max_tokens": 100}, [])  # `at` absent: skipped


def test_adjust_can_reject() -> None:
    p = plan(params={"model": {}}, messages={**MESSAGES, "tool_results": {"require_call": True}},
             adjust=[{"transform": {"name": "require_for_blocks", "args": {
                 "field": "tools", "in": "messages", "descend": ["content"], "key": "call", "values": ["c"],
                 "message": "define the tools"}}}])
    request = {"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f"}}]},
                                          {"role": "tool", "tool_call_id": "c", "content": "ok"}]}
    with pytest.raises(MappingError, match="tools: define the tools"):
        p.encode(ChatCompletionRequest.coerce(request))


def test_api_version_in_headers() -> None:
    wire, _ = plan(params={"model": {}}, headers={"x-version": "{api_version}"}).encode(
        ChatCompletionRequest.coerce({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
    assert wire.headers["x-version"] == "2030-01-01"


def test_request_id_from_the_body_when_no_header() -> None:
    p = plan(errors={"request_id": "request_id"})
    body = b'{"error": {"type": "bad", "message": "no"}, "request_id": "req_body"}'
    assert p.error(400, {}, body).request_id == "req_body"
    assert p.error(400, {"x-request-id": "req_header"}, body).request_id == "req_header"


STREAM = {"framing": "sse", "mode": "events", "event_type": {"from": "field", "name": "type"}, "events": {
    "start": {"tool_call_start": {"index": "$index", "id": "$id", "name": "$name"}},
    "args": {"tool_call_args": {"index": "$index", "arguments": "$args"}},
    "end": {"end": True},
}}


def run_stream(events: list[dict[str, Any]]) -> list[ChatCompletionChunk]:
    decoder = plan(stream=STREAM).stream_decoder()
    chunks = [chunk for event in events for chunk in decoder.feed(Frame("message", json.dumps(event)))]
    return chunks + decoder.close()


def test_argument_pieces_for_a_block_no_call_opened_are_not_a_call() -> None:
    chunks = run_stream([
        {"type": "args", "index": 0, "args": '{"query": "server side"}'},       # a provider-side tool's block
        {"type": "start", "index": 1, "id": "call_1", "name": "f"},
        {"type": "args", "index": 1, "args": '{"a": 1}'},
        {"type": "args", "index": 2, "args": '{"ignored": true}'},
        {"type": "end"},
    ])
    [call] = aggregate(chunks).message().tool_calls or []
    assert (call.id, call.function.name, call.function.arguments) == ("call_1", "f", '{"a": 1}')


def test_a_call_with_no_argument_text_is_an_empty_object() -> None:
    chunks = run_stream([{"type": "start", "index": 0, "id": "c", "name": "f"}, {"type": "end"}])
    [call] = aggregate(chunks).message().tool_calls or []
    assert call.function.arguments == "{}"


def test_consecutive_redacted_blocks_stay_apart() -> None:
    chunks = [ChatCompletionChunk.from_dict({"choices": [{"delta": {"reasoning_details": [
        {"type": "redacted_thinking", "data": data}]}}]}) for data in ("d1", "d2")]
    details = aggregate(chunks).message().reasoning_details or []
    assert [(d.type, d.data) for d in details] == [("redacted_thinking", "d1"), ("redacted_thinking", "d2")]


LIMIT = {"transform": {"name": "limit_marks", "args": {"key": "mark", "max": 1, "in": ["messages"],
                                                       "descend": ["content"]}}}
BLOCKS = {"transform": {"name": "require_for_blocks", "args": {
    "field": "tools", "in": "messages", "descend": ["content"], "key": "type", "values": ["call"],
    "message": "define the tools"}}}
PLAIN_TURNS = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
               {"role": "user", "content": "c"}]


@pytest.mark.parametrize(("text", "turn", "adjust", "expected"), [
    # the turns of string contents carry the mark: the limit still applies (marks after the first dropped)
    ({"t": "$text", "mark": 1}, None, LIMIT, [[{"t": "a", "mark": 1}], [{"t": "b"}], [{"t": "c"}]]),
    ({"t": "$text"}, {"role": "$role", "content": "$parts", "mark": "x"}, LIMIT, [[{"t": "a"}]] * 1),
    # a constant block type among the values: still refused without tools
    ({"type": "call", "t": "$text"}, None, [LIMIT, BLOCKS], MappingError),
    # neither: nothing to change, the turns as mapped
    ({"type": "text", "t": "$text"}, None, [LIMIT, BLOCKS],
     [[{"type": "text", "t": "a"}], [{"type": "text", "t": "b"}], [{"type": "text", "t": "c"}]]),
], ids=["part-mark", "turn-mark", "part-block", "inert"])
def test_adjust_guards_on_turns_of_string_contents(text: Any, turn: Any, adjust: Any, expected: Any) -> None:
    """The body's guards know what turns made only of string contents hold (the mapping's shapes) instead of
    walking them: they still act when those shapes carry the key or a block value."""
    messages = {"mode": "template", "roles": {"user": "user", "assistant": "assistant"}, "parts": {"text": text}}
    if turn is not None:
        messages["turn"] = turn
    p = plan(params={"model": {}}, messages=messages, adjust=adjust if isinstance(adjust, list) else [adjust])
    request = ChatCompletionRequest.coerce({"model": "m", "messages": PLAIN_TURNS})
    if expected is MappingError:
        with pytest.raises(MappingError, match="tools: define the tools"):
            p.encode(request)
        return
    wire, warnings = p.encode(request)
    turns = json.loads(wire.body)["messages"]
    if turn is not None:  # (the turn carries the mark: the first turn keeps it, the later ones lose it)
        assert [t.get("mark") for t in turns] == ["x", None, None]
        assert warnings
        return
    assert [t["content"] for t in turns] == expected
    assert bool(warnings) == (text.get("mark") is not None)


def test_a_string_content_with_other_fields_renders_as_without() -> None:
    """A message holding more than its role and string content (a `name` no spec maps) takes the general
    lines; its turn is the same, merged the same way."""
    p = plan(params={"model": {}}, messages={**MESSAGES, "parts": {"text": {"type": "text", "t": "$text"}}})
    plain = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "assistant", "content": "c"}]
    named = [{**m, "name": "bob"} for m in plain]
    mixed = [plain[0], named[1], plain[2]]
    bodies = [json.loads(p.encode(ChatCompletionRequest.coerce({"model": "m", "messages": ms}))[0].body)["messages"]
              for ms in (plain, named, mixed)]
    assert bodies[0] == [{"role": "user", "content": [{"type": "text", "t": "a"}, {"type": "text", "t": "b"}]},
                         {"role": "assistant", "content": [{"type": "text", "t": "c"}]}]
    assert bodies[1] == bodies[0] and bodies[2] == bodies[0]


@pytest.mark.parametrize(("text", "declared"), [({"toolUse": "$text"}, ["a", "b"]), ({"text": "$text"}, None)])
def test_used_tools_declared_from_turns_of_string_contents(text: Any, declared: Any) -> None:
    """The projection of the names the history uses is known on turns made only of string contents: nothing when
    their parts hold no such key, each name when the part itself holds one (then it is still read)."""
    adjust = [{"transform": {"name": "declare_used_tools", "args": {
        "tools": "toolConfig.tools", "names": "messages[].content[].toolUse",
        "declaration": {"name": "$name"}}}}]
    p = plan(params={"model": {}}, adjust=adjust, messages={
        "mode": "template", "roles": {"user": "user", "assistant": "assistant"}, "parts": {"text": text}})
    messages = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    body = json.loads(p.encode(ChatCompletionRequest.coerce({"model": "m", "messages": messages}))[0].body)
    tools = (body.get("toolConfig") or {}).get("tools")
    assert (None if tools is None else [tool["name"] for tool in tools]) == declared


@pytest.mark.parametrize(("request_", "expected"), [
    ({}, {}),
    ({"max_tokens": 5}, {"limit": {"n": 5, "unit": "tokens"}}),
    ({"provider_specific": {"thinking": {"budget_tokens": 9}}}, {"think": {"budget_tokens": 9, "type": "on"}}),
])
def test_adjust_entries_tested_together(request_: dict[str, Any], expected: dict[str, Any]) -> None:
    """Consecutive entries each needing a key of the body are skipped together when it holds none of them; when
    it holds one, each entry acts as on its own."""
    defaults = "fill_defaults"
    p = plan(params={"model": {}, "max_tokens": {"to": "limit.n"}, "provider_specific.thinking": {"to": "think"}},
             adjust=[{"at": "think", "transform": {"name": defaults, "args": {"defaults": {"type": "on"}}}},
                     {"at": "limit", "transform": {"name": defaults, "args": {"defaults": {"unit": "tokens"}}}}])
    assert encode(p, **request_)[0] == expected
