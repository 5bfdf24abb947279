"""Cohere Chat v2, a provider written only in YAML, end to end over real HTTP: an aiohttp server on 127.0.0.1
answers with the bodies and streams of the spec's own protocol tests (cohere.tests.yaml), and the client sends
what the spec renders (path, bearer key, Cohere's field names) and returns the unified messages."""

from __future__ import annotations

import json
from typing import Any

import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.registry import builtin_dir

CASES = yaml.safe_load((builtin_dir() / "cohere.tests.yaml").read_text(encoding="utf-8"))
RESPONSES = {case["id"]: case["body"] for case in CASES["responses"] if "expect" in case}
STREAMS = {case["id"]: case["body"] for case in CASES["streams"] if "expect" in case}


async def serve(answer: str, seen: list[dict[str, Any]]) -> TestServer:
    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        seen.append({"path": request.path, "auth": request.headers.get("authorization"), "body": body})
        if not body.get("stream"):
            return web.json_response(RESPONSES[answer])
        reply = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await reply.prepare(request)
        await reply.write(STREAMS[answer].encode())
        await reply.write_eof()
        return reply

    app = web.Application()
    app.router.add_post("/v2/chat", chat)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


async def test_text_plain_and_streamed() -> None:
    seen: list[dict[str, Any]] = []
    server = await serve("text", seen)
    request = {"model": "command-a-03-2025", "messages": [{"role": "user", "content": "Hi"}], "top_p": 0.5}
    try:
        async with VlloraLLMClient.from_provider("cohere", api_key="co-test-key-123",
                                                 base_url=str(server.make_url(""))) as client:
            response = await client.completions().create(request)
            async with client.completions().create_stream(request) as stream:
                pieces = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    finally:
        await server.close()
    assert response.text() == "Hello! How can I help?" and response.finish_reason() == "stop"
    assert response.usage is not None and response.usage.prompt_tokens == 71
    assert "".join(pieces) == "Hello" and stream.aggregate().finish_reason() == "stop"
    assert [s["path"] for s in seen] == ["/v2/chat", "/v2/chat"]
    assert seen[0]["auth"] == "Bearer co-test-key-123"
    assert seen[0]["body"]["p"] == 0.5 and "top_p" not in seen[0]["body"]
    assert seen[1]["body"]["stream"] is True


async def test_tool_calls_plain_and_streamed() -> None:
    seen: list[dict[str, Any]] = []
    request = {
        "model": "command-a-03-2025",
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
    }
    server = await serve("tool_calls", seen)
    try:
        async with VlloraLLMClient.from_provider("cohere", api_key="co-test-key-123",
                                                 base_url=str(server.make_url(""))) as client:
            response = await client.completions().create(request)
    finally:
        await server.close()
    calls = response.message().tool_calls or []
    assert response.finish_reason() == "tool_calls"
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("weather_1", "weather", {"city": "Paris"}), ("weather_2", "weather", {"city": "Rome"})]
    server = await serve("tool_call", seen)
    try:
        client = VlloraLLMClient.from_provider("cohere", api_key="co-test-key-123", base_url=str(server.make_url("")))
        async with client, client.completions().create_stream(request) as stream:
            async for _ in stream:
                pass
    finally:
        await server.close()
    message = stream.aggregate().message()
    assert [(c.id, json.loads(c.function.arguments)) for c in message.tool_calls or []] == [
        ("weather_1", {"city": "Paris"})]
    assert message.reasoning == "I will check."
