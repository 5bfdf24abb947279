"""Anthropic thinking through the Responses API over real HTTP: the thinking block comes back as a reasoning item
whose `encrypted_content` is its signature, and goes back (by `previous_response_id` or as an input item) as the
signed thinking block the local server checks byte for byte, as the real API does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types.responses import Response as SdkResponse

from vllora_llm.client import VlloraLLMClient
from vllora_llm.testing import LocalProviderServer
from vllora_llm.types.responses import FunctionCallItem, ReasoningItem

TOOLS = [{"type": "function", "name": "get_weather", "description": "Current weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
REQUEST: dict[str, Any] = {"model": "claude-sonnet-4-5", "input": 'Weather in "Paris"? Ask get_weather.',
                           "tools": TOOLS, "max_output_tokens": 4096,
                           "provider_specific": {"thinking": {"type": "enabled", "budget_tokens": 1024}}}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
async def test_thinking_round_trip(server: LocalProviderServer, stream: bool) -> None:
    async with VlloraLLMClient.from_provider("anthropic", api_key="k-0123456789",
                                             base_url=server.base_url_for("anthropic")) as client:
        if stream:
            async with client.responses().create_stream(REQUEST) as events:
                kinds = [event.type async for event in events]
            first = events.response
            assert "response.reasoning_summary_text.delta" in kinds
            assert kinds.index("response.reasoning_summary_text.done") < kinds.index("response.output_item.added", 3)
        else:
            first = await client.responses().create(REQUEST)
        SdkResponse.model_validate(first.to_dict())
        reasoning, call = first.output
        assert isinstance(reasoning, ReasoningItem) and isinstance(call, FunctionCallItem)
        assert reasoning.summary[0].text.startswith("The user said:") and reasoning.encrypted_content
        answer = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}
        if stream:  # the output items given back as input (what a stateless caller does)
            second = await client.responses().create({**REQUEST, "input": [
                {"role": "user", "content": REQUEST["input"]}, *first.output, answer]})
        else:
            second = await client.responses().create({**REQUEST, "input": [answer],
                                                      "previous_response_id": first.id})
    assert second.output_text.endswith("The tool returned: sunny")
    sent = server.last_request.json["messages"][1]["content"]
    assert [block["type"] for block in sent] == ["thinking", "tool_use"]
    assert sent[0]["signature"] == reasoning.encrypted_content
    assert json.loads(call.arguments) == sent[1]["input"]
