"""Multi-turn tool conversations with thinking on, through the public client, over real HTTP (issue #22).

For Anthropic, Bedrock (Converse), Gemini 2.5 and 3, and DeepSeek, the caller does only what any caller does:
append `response.message()` (a stream's aggregate) and the tool result to the history, ask again, then ask
for another tool. The local provider server answers with thinking in each wire format and checks the history
the way the real API does (Anthropic and Bedrock: a signed thinking / reasoningContent block before the last
tool call; Gemini 3: the functionCall's thoughtSignature; DeepSeek: `reasoning_content` on every assistant turn
that called tools). Each provider's last accepted request, with its reasoning taken out of the wire body, is
then sent again as it is and must be refused with a 400: so these tests pass only because the library round-
trips the reasoning. The client's own tool loop (`create(..., tools=[python function])`) and the Responses API
go through the same checks.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from openai.types.responses import Response as SdkResponse

from vllora_llm.client import VlloraLLMClient
from vllora_llm.testing import LocalProviderServer
from vllora_llm.tool import tool
from vllora_llm.tools.testing.wire_anthropic import REDACTED_TRIGGER
from vllora_llm.tools.testing.wire_gemini import SKIP_SIGNATURE as SKIP
from vllora_llm.tools.testing.wire_gemini import signature_for
from vllora_llm.types.gateway import ChatCompletionMessage, ChatCompletionMessageWithFinishReason
from vllora_llm.types.responses import FunctionCallItem, ReasoningItem

Body = dict[str, Any]


def _tool(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": f"{name} in a city", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


TOOLS = [_tool("get_weather"), _tool("get_time")]


# ---- what "the reasoning" is on each wire, and how to take it out -------------------------------------------


def _anthropic_turns(body: Body) -> list[list[Any]]:
    return [t["content"] for t in body["messages"] if t["role"] == "assistant" and isinstance(t["content"], list)]


def _anthropic_reasoning(body: Body) -> list[Any]:
    return [b for turn in _anthropic_turns(body) for b in turn if b["type"] in ("thinking", "redacted_thinking")]


def _anthropic_strip(body: Body) -> None:
    for turn in _anthropic_turns(body):
        turn[:] = [b for b in turn if b["type"] not in ("thinking", "redacted_thinking")]


def _bedrock_reasoning(body: Body) -> list[Any]:
    return [b for t in body["messages"] if t["role"] == "assistant" for b in t["content"] if "reasoningContent" in b]


def _bedrock_strip(body: Body) -> None:
    for turn in body["messages"]:
        turn["content"] = [b for b in turn["content"] if "reasoningContent" not in b]


def _gemini_calls(body: Body) -> list[Any]:
    return [p for c in body["contents"] if c["role"] == "model" for p in c["parts"] if "functionCall" in p]


def _gemini_reasoning(body: Body) -> list[Any]:
    """The calls' own signatures (not the sentinel that only stands in for a lost one)."""
    return [p["thoughtSignature"] for p in _gemini_calls(body) if p.get("thoughtSignature", SKIP) != SKIP]


def _gemini_strip(body: Body) -> None:
    for part in _gemini_calls(body):
        part.pop("thoughtSignature", None)


def _deepseek_reasoning(body: Body) -> list[Any]:
    return [m["reasoning_content"] for m in body["messages"] if m["role"] == "assistant" and "reasoning_content" in m]


def _deepseek_strip(body: Body) -> None:
    for message in body["messages"]:
        message.pop("reasoning_content", None)


@dataclass(frozen=True)
class Case:
    provider: str
    model: str
    thinking: dict[str, Any] | None  # None: the model thinks without being asked
    reasoning: Callable[[Body], list[Any]]
    strip: Callable[[Body], None]
    refused: str | None  # the 400's words when the reasoning is stripped; None: the API does not require it
    extra: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


BUDGET = {"type": "enabled", "budget_tokens": 1024}
CASES = [
    Case("anthropic", "claude-sonnet-4-5", BUDGET, _anthropic_reasoning, _anthropic_strip,
         "must start with a thinking block", {"max_tokens": 4096}),
    Case("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", BUDGET, _bedrock_reasoning, _bedrock_strip,
         "must start with a thinking block", {"max_tokens": 4096}, {"region": "us-east-1"}),
    Case("gemini", "gemini-2.5-flash", BUDGET, _gemini_reasoning, _gemini_strip, None),
    Case("gemini", "gemini-3-pro-preview", {"type": "enabled"}, _gemini_reasoning, _gemini_strip,
         "missing a `thought_signature`"),
    Case("deepseek", "deepseek-chat", {"type": "enabled"}, _deepseek_reasoning, _deepseek_strip,
         "Missing `reasoning_content` field"),
    # adaptive thinking only (the spec sends {type: adaptive}); deepseek-reasoner always thinks
    Case("anthropic", "claude-opus-4-8", BUDGET, _anthropic_reasoning, _anthropic_strip,
         "must start with a thinking block", {"max_tokens": 4096}),
    Case("bedrock", "global.anthropic.claude-opus-4-8", BUDGET, _bedrock_reasoning, _bedrock_strip,
         "must start with a thinking block", {"max_tokens": 4096}, {"region": "us-east-1"}),
    Case("deepseek", "deepseek-reasoner", None, _deepseek_reasoning, _deepseek_strip,
         "Missing `reasoning_content` field"),
]
IDS = [f"{c.provider}:{c.model}" for c in CASES]
REQUIRED = [c for c in CASES if c.refused is not None]  # the APIs that refuse a history without its reasoning


def _client(case: Case, server: LocalProviderServer) -> VlloraLLMClient:
    return VlloraLLMClient.from_provider(case.provider, api_key="local-key-0123456789",
                                         base_url=server.base_url_for(case.provider), timeout=10, max_retries=0,
                                         **case.options)


def _thinking(case: Case) -> dict[str, Any]:
    return {} if case.thinking is None else {"provider_specific": {"thinking": case.thinking}}


def _request(case: Case, messages: list[Any]) -> dict[str, Any]:
    return {"model": case.model, "messages": messages, "tools": TOOLS, **_thinking(case), **case.extra}


async def _ask(client: VlloraLLMClient, request: dict[str, Any], stream: bool) -> ChatCompletionMessageWithFinishReason:
    if not stream:
        return await client.completions().create(request)
    async with client.completions().create_stream(request) as chunks:
        reasoning = "".join([c.choices[0].delta.reasoning or "" async for c in chunks if c.choices])
    response = chunks.aggregate()
    assert reasoning == (response.message().reasoning or "")  # streamed as reasoning deltas, not as text
    return response


def _result(message: ChatCompletionMessage, output: str) -> dict[str, Any]:
    [call] = message.tool_calls or []
    return {"role": "tool", "tool_call_id": call.id, "content": output}


async def _refused(server: LocalProviderServer, sent: Any, strip: Callable[[Body], None]) -> tuple[int, str]:
    """Send an accepted request again, byte for byte but for its reasoning: what the API says to a caller who
    dropped it."""
    body = copy.deepcopy(sent.json)
    strip(body)
    assert body != sent.json, "the request carried no reasoning to take out"
    skip = {"host", "content-length", "content-type", "transfer-encoding", "accept-encoding"}
    headers = {k: v for k, v in sent.headers.items() if k not in skip}
    async with aiohttp.ClientSession() as session, session.post(
        server.url + sent.path, params=sent.query, json=body, headers=headers
    ) as reply:
        return reply.status, await reply.text()


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_tool_conversation_with_thinking(server: LocalProviderServer, case: Case, stream: bool) -> None:
    question = {"role": "user", "content": 'Use get_weather for "Paris".'}
    history: list[Any] = [question]
    async with _client(case, server) as client:
        first = await _ask(client, _request(case, history), stream)
        message = first.message()
        assert first.finish_reason() == "tool_calls" and message.reasoning == (
            "The user said: Use get_weather for \"Paris\".. I will answer briefly.")
        history += [message, _result(message, "sunny")]
        second = await _ask(client, _request(case, history), stream)
        assert second.message().text() == "Hello from the local " + (
            "openai" if case.provider == "deepseek" else case.provider) + " server! The tool returned: " + (
            '{"output":"sunny"}' if case.provider == "gemini" else "sunny")
        assert second.message().reasoning and second.message().reasoning.startswith("The tool answered:")
        history += [second.message(), {"role": "user", "content": 'Now use get_time for "Paris".'}]
        third = await _ask(client, _request(case, history), stream)
        [call] = third.message().tool_calls or []
        assert call.function.name == "get_time"
        history += [third.message(), _result(third.message(), "noon")]
        fourth = await _ask(client, _request(case, history), stream)
        assert fourth.message().text().endswith("noon" if case.provider != "gemini" else '{"output":"noon"}')

    assert len(server.requests) == 4
    last = server.last_request
    assert len(case.reasoning(last.json)) >= (1 if case.provider == "anthropic" else 2)
    if case.refused is not None:
        status, text = await _refused(server, last, case.strip)
        assert status == 400 and case.refused in text


async def test_server_refuses_bedrock_reasoning_with_a_changed_signature(server: LocalProviderServer) -> None:
    case = CASES[1]
    async with _client(case, server) as client:
        first = await client.completions().create(_request(case, [{"role": "user", "content": "get_weather?"}]))
    assert first.message().reasoning_details and first.message().reasoning_details[0].signature
    sent = copy.deepcopy(server.last_request)

    def tamper(body: Body) -> None:
        body["messages"].append({"role": "assistant", "content": [{"reasoningContent": {"reasoningText": {
            "text": "made up", "signature": "AAAA"}}}, {"text": "hi"}]})
        body["messages"].append({"role": "user", "content": [{"text": "and?"}]})

    status, text = await _refused(server, sent, tamper)
    assert status == 400 and "Invalid `signature`" in text


# ---- the client's own tool loop --------------------------------------------------------------------------------


@tool
async def get_weather(city: str) -> str:
    """Weather in a city."""
    return f"sunny in {city}"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("case", REQUIRED, ids=[f"{c.provider}:{c.model}" for c in REQUIRED])
async def test_the_client_tool_loop_round_trips_thinking(server: LocalProviderServer, case: Case,
                                                         stream: bool) -> None:
    request = {**_request(case, [{"role": "user", "content": 'Use get_weather for "Oslo".'}]), "tools": None}
    async with _client(case, server) as client:
        if stream:
            async with client.completions().create_stream(request, tools=[get_weather]) as chunks:
                async for _ in chunks:
                    pass
            response = chunks.response
        else:
            response = await client.completions().create(request, tools=[get_weather])
    assert [step.result for step in response.tool_steps or []] == ["sunny in Oslo"]
    assert "sunny in Oslo" in (response.text() or "")
    assert len(server.requests) == 2 and case.reasoning(server.last_request.json)
    status, text = await _refused(server, server.last_request, case.strip)
    assert status == 400 and case.refused in text


# ---- the Responses API -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_responses_function_call_output_round_trips_thinking(server: LocalProviderServer, case: Case,
                                                                   stream: bool) -> None:
    tools = [{"type": "function", **TOOLS[0]["function"]}]
    request: dict[str, Any] = {"model": case.model, "input": 'Use get_weather for "Rome".', "tools": tools,
                               **_thinking(case), "max_output_tokens": 4096}
    async with _client(case, server) as client:
        if stream:
            async with client.responses().create_stream(request) as events:
                async for _ in events:
                    pass
            first = events.response
        else:
            first = await client.responses().create(request)
        SdkResponse.model_validate(first.to_dict())
        [call] = [item for item in first.output if isinstance(item, FunctionCallItem)]
        answer = {"type": "function_call_output", "call_id": call.call_id, "output": "rain"}
        by_id = await client.responses().create({**request, "input": [answer], "previous_response_id": first.id})
        assert by_id.output_text.endswith("rain" if case.provider != "gemini" else '{"output":"rain"}')
        restated = await client.responses().create({**request, "input": [
            {"role": "user", "content": request["input"]}, *[item.to_dict() for item in first.output], answer]})
        assert restated.output_text == by_id.output_text
    for sent in server.requests[1:]:  # by previous_response_id, then restated as input items
        assert case.reasoning(sent.json), json.dumps(sent.json)
    if case.refused is not None:
        status, text = await _refused(server, server.last_request, case.strip)
        assert status == 400 and case.refused in text


# ---- redacted thinking (Anthropic's documented test prompt) ------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("case", CASES[:2], ids=IDS[:2])
async def test_redacted_thinking_goes_back_unmodified(server: LocalProviderServer, case: Case, stream: bool) -> None:
    history: list[Any] = [{"role": "user", "content": f"Use get_weather. {REDACTED_TRIGGER}"}]
    async with _client(case, server) as client:
        first = await _ask(client, _request(case, history), stream)
        [detail] = first.message().reasoning_details or []
        assert detail.type == "redacted_thinking" and detail.data and not detail.text
        history += [first.message(), _result(first.message(), "sunny")]
        second = await _ask(client, _request(case, history), stream)
    assert (second.message().text() or "").endswith("sunny")
    [sent] = case.reasoning(server.last_request.json)
    assert detail.data in json.dumps(sent)

    def tamper(body: Body) -> None:
        text = json.dumps(body).replace(detail.data or "", "AAAA" + (detail.data or "")[4:])
        body.clear()
        body.update(json.loads(text))

    status, text = await _refused(server, server.last_request, tamper)
    assert status == 400 and "Invalid `data` in `redacted_thinking` block" in text


# ---- Gemini 3: parallel calls share one signature; an answer's own signature ---------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
async def test_gemini_3_parallel_calls_and_a_signed_answer(server: LocalProviderServer, stream: bool) -> None:
    case = CASES[3]
    history: list[Any] = [{"role": "user", "content": 'Use get_weather and get_time for "Paris".'}]
    async with _client(case, server) as client:
        first = await _ask(client, _request(case, history), stream)
        calls = first.message().tool_calls or []
        assert [call.function.name for call in calls] == ["get_weather", "get_time"]
        assert calls[0].signature and calls[1].signature is None  # one per step, on the first call
        history += [first.message(), *({"role": "tool", "tool_call_id": call.id, "content": "ok"} for call in calls)]
        second = await _ask(client, _request(case, history), stream)
        history += [second.message(), {"role": "user", "content": "Thanks."}]
        await _ask(client, _request(case, history), stream)
    step, answer = [c["parts"] for c in server.last_request.json["contents"] if c["role"] == "model"]
    sent_calls = [part for part in step if "functionCall" in part]
    assert sent_calls[0]["thoughtSignature"] == calls[0].signature and "thoughtSignature" not in sent_calls[1]
    [text] = [part for part in answer if not part.get("thought")]
    assert text == {"text": second.message().text(), "thoughtSignature": signature_for("", second.message().text())}
    status, refusal = await _refused(server, server.requests[1], case.strip)
    assert status == 400 and case.refused and case.refused in refusal


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("case", CASES[:2], ids=IDS[:2])
async def test_redacted_thinking_through_the_responses_api(server: LocalProviderServer, case: Case,
                                                           stream: bool) -> None:
    tools = [{"type": "function", **TOOLS[0]["function"]}]
    request: dict[str, Any] = {"model": case.model, "input": f"Use get_weather. {REDACTED_TRIGGER}", "tools": tools,
                               **_thinking(case), "max_output_tokens": 4096}
    async with _client(case, server) as client:
        if stream:
            async with client.responses().create_stream(request) as events:
                async for _ in events:
                    pass
            first = events.response
        else:
            first = await client.responses().create(request)
        SdkResponse.model_validate(first.to_dict())
        redacted, call = first.output
        assert isinstance(redacted, ReasoningItem) and not redacted.summary and redacted.encrypted_content
        assert isinstance(call, FunctionCallItem)
        answer = {"type": "function_call_output", "call_id": call.call_id, "output": "rain"}
        by_id = await client.responses().create({**request, "input": [answer], "previous_response_id": first.id})
        restated = await client.responses().create({**request, "input": [
            {"role": "user", "content": request["input"]}, *[item.to_dict() for item in first.output], answer]})
    assert by_id.output_text.endswith("rain") and restated.output_text == by_id.output_text
    [sent] = case.reasoning(server.last_request.json)
    assert "redacted" in json.dumps(sent).lower()
