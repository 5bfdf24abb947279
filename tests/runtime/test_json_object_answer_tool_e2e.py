"""`response_format: json_object` on Anthropic and Bedrock, through the public client over real HTTP (issue #22).

Neither API has a JSON mode, so the request forces a `json_response` tool with an open object schema; the local
provider server calls the tool a `tool_choice` names, as the APIs do, and the library must give its input back
as the message's text with finish_reason stop, streamed and not, never as a tool call.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.testing import LocalProviderServer

MODELS = {"anthropic": "claude-sonnet-4-5", "bedrock": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"}


def ask(provider: str) -> dict[str, Any]:
    return {"model": MODELS[provider], "max_tokens": 256, "response_format": {"type": "json_object"},
            "messages": [{"role": "user", "content": "Reply in JSON: the capital of France."}]}


def forced_tool(provider: str, sent: dict[str, Any]) -> tuple[Any, Any]:
    if provider == "anthropic":
        return sent["tool_choice"], [tool["name"] for tool in sent["tools"]]
    return sent["toolConfig"]["toolChoice"], [tool["toolSpec"]["name"] for tool in sent["toolConfig"]["tools"]]


@pytest.mark.parametrize("provider", sorted(MODELS))
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
async def test_json_object_is_a_forced_tool_read_back_as_text(server: LocalProviderServer, provider: str,
                                                                streamed: bool) -> None:
    async with VlloraLLMClient.from_provider(provider, api_key="k", base_url=server.base_url_for(provider),
                                             timeout=10) as client:
        if streamed:
            stream = client.completions().create_stream(ask(provider))
            chunks = [chunk async for chunk in stream]
            response = stream.response
            assert not any(choice.delta.tool_calls for chunk in chunks for choice in chunk.choices)
        else:
            response = await client.completions().create(ask(provider))
    choice, names = forced_tool(provider, server.last_request.json)
    assert names == ["json_response"]
    assert "json_response" in json.dumps(choice)
    assert response.finish_reason() == "stop"
    assert isinstance(json.loads(response.text()), dict)
    assert not response.message().tool_calls
    assert response.warnings == []
