"""DeepSeek thinking mode through the public client, over real HTTP to the local server (issue #22).

The answer's `reasoning_content` is read into `message.reasoning`; appending that message to the history and
sending the tool result must send the reasoning back as `reasoning_content` (DeepSeek answers 400 "Missing
`reasoning_content` field" in a tool loop otherwise), with the `thinking` toggle on every request.
"""

from __future__ import annotations

import json

from vllora_llm.client import VlloraLLMClient
from vllora_llm.testing import LocalProviderServer, replay

TOOL = {"type": "function", "function": {"name": "get_date", "parameters": {"type": "object", "properties": {}}}}
ANSWER = {
    "id": "r1", "object": "chat.completion", "created": 1, "model": "deepseek-reasoner",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "", "reasoning_content": "I need today's date first.",
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_date", "arguments": "{}"}}]}}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
}


async def test_reasoning_goes_back_as_reasoning_content(server: LocalProviderServer) -> None:
    server.faults.push(replay(json.dumps(ANSWER).encode(), content_type="application/json"))
    question = {"role": "user", "content": "What is the date tomorrow?"}
    request = {"model": "deepseek-reasoner", "messages": [question], "tools": [TOOL],
               "provider_specific": {"thinking": {"type": "enabled"}}}
    async with VlloraLLMClient.from_provider("deepseek", api_key="k", base_url=server.openai_base_url) as client:
        first = await client.completions().create(request)
        assert server.last_request.json["thinking"] == {"type": "enabled"}
        message = first.message()
        assert message.reasoning == "I need today's date first."
        history = [question, message.to_dict(), {"role": "tool", "tool_call_id": "call_1", "content": "2026-06-12"}]
        await client.completions().create({**request, "messages": history})
    sent = server.last_request.json
    assert sent["thinking"] == {"type": "enabled"}
    assistant = sent["messages"][1]
    assert assistant["reasoning_content"] == "I need today's date first."
    assert "reasoning" not in assistant and "reasoning_details" not in assistant
    assert assistant["tool_calls"][0]["id"] == "call_1"
