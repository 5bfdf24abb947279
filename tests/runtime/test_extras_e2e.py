"""Provider extras and the "mapping gave nothing" warning, end to end over real HTTP (an aiohttp server on
127.0.0.1): the Cohere answers of cohere.tests.yaml carry citations and billed units into `extras` on the
response, on the chunks and on the stream's aggregate; `extras="raw"` keeps every body and event; a user spec
with a typo'd stream path (`$delta.mesage.content.text`) comes back with a warning naming the rule, not a
silent empty answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.registry import builtin_dir
from vllora_llm.error import InvalidRequestError
from vllora_llm.testing import LocalProviderServer

CASES = yaml.safe_load((builtin_dir() / "cohere.tests.yaml").read_text(encoding="utf-8"))
RESPONSES = {case["id"]: case["body"] for case in CASES["responses"] if "expect" in case}
STREAMS = {case["id"]: case["body"] for case in CASES["streams"] if "expect" in case}
REQUEST = {"model": "command-a-03-2025", "messages": [{"role": "user", "content": "Tallest penguins?"}]}


async def serve(response: str, stream: str) -> TestServer:
    async def chat(request: web.Request) -> web.StreamResponse:
        if not (await request.json()).get("stream"):
            return web.json_response(RESPONSES[response])
        reply = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await reply.prepare(request)
        await reply.write(STREAMS[stream].encode())
        await reply.write_eof()
        return reply

    app = web.Application()
    app.router.add_post("/v2/chat", chat)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


async def test_citations_and_billed_units_reach_the_caller() -> None:
    server = await serve("citations_and_billed_units_in_extras", "streamed_citations_and_billed_units_in_extras")
    try:
        async with VlloraLLMClient.from_provider("cohere", api_key="co-test-key-123",
                                                 base_url=str(server.make_url(""))) as client:
            response = await client.completions().create(REQUEST)
            async with client.completions().create_stream(REQUEST) as stream:
                chunks = [chunk async for chunk in stream]
    finally:
        await server.close()
    assert response.extras is not None
    assert response.extras["billed_units"] == {"input_tokens": 12, "output_tokens": 8}
    assert [c["text"] for c in response.extras["citations"]] == ["emperor penguins"]
    assert response.to_dict()["extras"]["billed_units"]["input_tokens"] == 12
    on_chunks = [chunk.extras for chunk in chunks if chunk.extras]
    assert on_chunks == [
        {"citations": [{"start": 0, "end": 16, "text": "Emperor penguins", "sources": [{"type": "document",
                                                                                      "id": "doc:0"}],
                        "type": "TEXT_CONTENT"}]},
        {"billed_units": {"input_tokens": 12, "output_tokens": 3}},
    ]
    aggregate = stream.aggregate()
    assert aggregate.text() == "Emperor penguins."
    assert aggregate.extras == {**on_chunks[0], **on_chunks[1]}
    assert aggregate.warnings == []


async def test_extras_raw_keeps_every_body_and_event() -> None:
    server = await serve("text", "text")
    try:
        async with VlloraLLMClient.from_provider("cohere", api_key="co-test-key-123", extras="raw",
                                                 base_url=str(server.make_url(""))) as client:
            response = await client.completions().create(REQUEST)
            async with client.completions().create_stream(REQUEST) as stream:
                chunks = [chunk async for chunk in stream]
    finally:
        await server.close()
    assert response.extras is not None and response.extras["raw"] == RESPONSES["text"]
    assert response.extras["billed_units"] == {"input_tokens": 5, "output_tokens": 7}   # mapped extras stay
    events = [json.loads(line[len("data: "):]) for line in STREAMS["text"].splitlines() if line.startswith("data: ")]
    assert [chunk.extras["raw"] for chunk in chunks if chunk.extras and "raw" in chunk.extras] == events
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello"
    assert stream.aggregate().extras is not None and stream.aggregate().extras["raw"] == events


def test_extras_option_is_checked() -> None:
    with pytest.raises(InvalidRequestError, match="extras: expected 'raw'"):
        VlloraLLMClient.from_provider("cohere", api_key="co-test-key-123", extras="everything")


TYPO_SPEC = """\
apiVersion: vllora.dev/v1
kind: ProviderSpec
metadata: {name: cohere-typo, api_version: v2, revision: 1}
extends: cohere
response:
  kinds:
    text: {text: $txt}
stream:
  events:
    content-delta:
      text: $delta.mesage.content.text
      reasoning: $delta.message.content.thinking
"""


async def test_a_typo_in_a_path_is_a_warning_not_a_silent_empty_answer(tmp_path: Path) -> None:
    (tmp_path / "cohere-typo.yaml").write_text(TYPO_SPEC, encoding="utf-8")
    server = await serve("text", "text")
    try:
        async with VlloraLLMClient.from_provider("cohere-typo", api_key="co-test-key-123", spec_path=[tmp_path],
                                                 base_url=str(server.make_url(""))) as client:
            response = await client.completions().create(REQUEST)
            async with client.completions().create_stream(REQUEST) as stream:
                async for _ in stream:
                    pass
            async with VlloraLLMClient.from_provider("cohere", api_key="co-test-key-123",
                                                     base_url=str(server.make_url(""))) as right:
                good = await right.completions().create(REQUEST)
                async with right.completions().create_stream(REQUEST) as good_stream:
                    async for _ in good_stream:
                        pass
    finally:
        await server.close()
    aggregate = stream.aggregate()
    assert aggregate.text() == "" and aggregate.finish_reason() == "stop" and aggregate.usage is not None
    assert [(w.code, w.param) for w in aggregate.warnings] == [
        ("mapping_yielded_nothing", "stream.events.content-delta")]
    assert "every event 'content-delta' (2 payloads) gave nothing" in aggregate.warnings[0].message
    assert stream.warnings == aggregate.warnings
    assert response.text() == "" and response.finish_reason() == "stop"
    assert [(w.code, w.param) for w in response.warnings] == [("mapping_yielded_nothing", "response.kinds.text")]
    assert "every part 'text' (1 payload) gave nothing" in response.warnings[0].message
    assert good.warnings == [] and good_stream.aggregate().warnings == [] and good.text()


async def test_routes_keep_the_raw_body_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-routed-key-123")
    async with LocalProviderServer() as server:
        config = tmp_path / "models.yaml"
        config.write_text(yaml.safe_dump([{"model": "m", "model_provider": "openai", "inference_provider": {
            "provider": "openai", "model_name": "gpt-4.1-mini", "endpoint": server.openai_base_url}}]))
        async with VlloraLLMClient.from_config(config, extras="raw") as client:
            response = await client.completions().create({"model": "m", "messages": [{"role": "user",
                                                                                      "content": "Hi"}]})
    assert response.extras is not None
    assert response.extras["raw"]["choices"][0]["message"]["content"] == response.text()
    with pytest.raises(InvalidRequestError, match="extras: expected 'raw'"):
        VlloraLLMClient.from_config(config, extras="all")
