"""OpenRouter reasoning through the public client, over real HTTP to the local server (issue #22).

The recorded answer (openai/gpt-5-mini through OpenRouter) carries `reasoning` and `reasoning_details` (a summary
and an encrypted entry, each with format, id, index): they are read into the unified message, and appending that
message to the history sends the details back exactly as received, as OpenRouter's "preserving reasoning
blocks" asks (the unified `reasoning` text itself is not sent).
"""

from __future__ import annotations

import json
from pathlib import Path

from vllora_llm.client import VlloraLLMClient
from vllora_llm.testing import LocalProviderServer, replay

RECORDING = Path(__file__).resolve().parents[1] / "recordings" / "openai_compatible" / \
    "openrouter_response_reasoning_details.json"


async def test_reasoning_details_go_back_exactly_as_received(server: LocalProviderServer) -> None:
    recorded = json.loads(RECORDING.read_text(encoding="utf-8"))["choices"][0]["message"]
    server.faults.push(replay(RECORDING, content_type="application/json"))
    question = {"role": "user", "content": "Hello!"}
    request = {"model": "openai/gpt-5-mini", "messages": [question]}
    async with VlloraLLMClient.from_provider("openrouter", api_key="k", base_url=server.openai_base_url,
                                             timeout=10) as client:
        first = await client.completions().create(request)
        message = first.message()
        assert message.reasoning == recorded["reasoning"]
        assert [d.to_dict() for d in message.reasoning_details or ()] == recorded["reasoning_details"]
        history = [question, message.to_dict(), {"role": "user", "content": "And Voltaire?"}]
        await client.completions().create({**request, "messages": history})
    assistant = server.last_request.json["messages"][1]
    assert assistant["reasoning_details"] == recorded["reasoning_details"]
    assert "reasoning" not in assistant
    assert assistant["content"] == recorded["content"]
