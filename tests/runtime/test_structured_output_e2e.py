"""Structured output through the public client, over real HTTP to the local provider server (issue #22).

A `json_schema` response_format must reach Anthropic as `output_config.format` and Bedrock Converse as
`outputConfig.textFormat` (the schema as a JSON string), and the JSON the provider streams back (the recorded
streams of those very requests, replayed) must come out as the message's text with finish_reason stop.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vllora_llm.client import VlloraLLMClient
from vllora_llm.testing import LocalProviderServer, replay

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
          "required": ["city", "population"]}
CLOSED = {**SCHEMA, "additionalProperties": False}


def ask(model: str) -> dict[str, Any]:
    return {"model": model, "max_tokens": 512, "messages": [{"role": "user", "content": "Capital of France?"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "City", "schema": SCHEMA}}}


async def drain(client: VlloraLLMClient, request: dict[str, Any]) -> Any:
    stream = client.completions().create_stream(request)
    async for _ in stream:
        pass
    return stream.response


async def test_anthropic_json_schema_is_output_config_and_comes_back_as_text(server: LocalProviderServer) -> None:
    recording = RECORDINGS / "anthropic" / "stream_structured_output_json_schema.sse"
    server.faults.push(replay(recording, content_type="text/event-stream; charset=utf-8"))
    async with VlloraLLMClient.from_provider("anthropic", api_key="k", base_url=server.base_url_for("anthropic"),
                                             timeout=10) as client:
        response = await drain(client, ask("claude-sonnet-4-5"))
    assert server.last_request.json["output_config"] == {"format": {"type": "json_schema", "schema": CLOSED}}
    assert response.finish_reason() == "stop"
    assert set(json.loads(response.text())) == {"name", "age", "bio"}   # the recorded answer's keys
    assert not response.message().tool_calls


async def test_bedrock_json_schema_is_output_config_and_comes_back_as_text(server: LocalProviderServer) -> None:
    recording = RECORDINGS / "bedrock" / "converse_stream_structured_output_claude.eventstream"
    server.faults.push(replay(recording, content_type="application/vnd.amazon.eventstream"))
    async with VlloraLLMClient.from_provider("bedrock", api_key="k", base_url=server.base_url_for("bedrock"),
                                             timeout=10) as client:
        response = await drain(client, ask("us.anthropic.claude-sonnet-4-5-20250929-v1:0"))
    text_format = server.last_request.json["outputConfig"]["textFormat"]
    assert text_format["type"] == "json_schema"
    assert text_format["structure"]["jsonSchema"]["name"] == "City"
    assert json.loads(text_format["structure"]["jsonSchema"]["schema"]) == CLOSED
    assert response.finish_reason() == "stop"
    assert json.loads(response.text()) == {"city": "Paris", "country": "France", "population": 2161000}
