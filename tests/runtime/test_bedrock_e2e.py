"""Bedrock Converse end to end: the real client against the local provider server (`wire_converse`) on 127.0.0.1.

Three ways in: a bearer API key (`api_key=`, or `AWS_BEARER_TOKEN_BEDROCK`), and SigV4 with fake credentials in
the environment, whose signature is re-computed with botocore over what the server received. Streams go
through the AWS event-stream framer: generated text and tool calls, every recorded `.eventstream` replayed in
small writes, and in-stream `exception` messages (retried when they come first and are retryable).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.errors import LLMError, PermissionDeniedError, RateLimitError, StreamError
from vllora_llm.runtime.eventstream import EventStreamParser
from vllora_llm.testing import Fault, LocalProviderServer, replay
from vllora_llm.tools.testing.wire_converse import EVENT_STREAM, exception_frame, frame
from vllora_llm.types.gateway import ChatCompletionRequest

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
RECORDINGS = ROOT / "tests" / "recordings" / "bedrock"
STREAMS = sorted(RECORDINGS.glob("*.eventstream"))
MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
RAW_PATH = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0"
HELLO = {"model": MODEL, "messages": [{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": "Say hello"}], "max_tokens": 50}
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
KEY_ID, SECRET = "AKIDLOCALTEST0001", "local/secret+key/for/tests"


@pytest.fixture(autouse=True)
def clean_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ambient AWS settings leak in: each test sets what it needs."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
async def client(server: LocalProviderServer) -> AsyncIterator[VlloraLLMClient]:
    async with VlloraLLMClient.from_provider(
        "bedrock", api_key="local-bedrock-key", base_url=server.base_url_for("bedrock"), timeout=10, backoff_base=0
    ) as c:
        yield c


async def drain(client: VlloraLLMClient, request: dict[str, Any]) -> Any:
    async with asyncio.timeout(10), client.completions().create_stream(request) as stream:
        chunks = [chunk async for chunk in stream]
    assert chunks
    return stream.response


# ---- bearer (API key) ----------------------------------------------------------------------------------------


async def test_bearer_converse(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    response = await client.completions().create(HELLO)
    assert response.text() == "Hello from the local bedrock server! You said: Say hello"
    assert response.finish_reason() == "stop"
    assert response.usage is not None and response.usage.total_tokens == response.usage.prompt_tokens + 10
    sent = server.last_request
    assert sent.raw_path == RAW_PATH + "/converse"  # the model id percent-encoded on the wire
    assert sent.headers["authorization"] == "Bearer local-bedrock-key"
    assert sent.json == {"inferenceConfig": {"maxTokens": 50}, "system": [{"text": "Be brief."}],
                         "messages": [{"role": "user", "content": [{"text": "Say hello"}]}]}


async def test_bearer_stream_through_the_event_stream_framer(client: VlloraLLMClient,
                                                             server: LocalProviderServer) -> None:
    response = await drain(client, HELLO)
    assert response.text() == "Hello from the local bedrock server! You said: Say hello"
    assert response.finish_reason() == "stop"
    assert response.usage is not None and response.usage.completion_tokens == 10
    assert server.last_request.raw_path == RAW_PATH + "/converse-stream"


async def test_bearer_key_from_the_environment(server: LocalProviderServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "env-bedrock-key")
    async with VlloraLLMClient.from_provider("bedrock", base_url=server.base_url_for("bedrock")) as c:
        await c.completions().create(HELLO)
    assert server.last_request.headers["authorization"] == "Bearer env-bedrock-key"


async def test_tool_call_then_tool_result(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    ask = {**HELLO, "tools": [WEATHER], "tool_choice": "required"}
    streamed = await drain(client, ask)
    (call,) = streamed.message().tool_calls or []
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "example"})
    assert streamed.finish_reason() == "tool_calls"
    assert server.last_request.json["toolConfig"]["toolChoice"] == {"any": {}}

    follow_up = {**ask, "tool_choice": "auto", "messages": [
        *HELLO["messages"], streamed.message().to_dict(),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}]}
    answer = await client.completions().create(follow_up)
    assert answer.text() == "Hello from the local bedrock server! The tool returned: sunny, 21 C"
    turns = server.last_request.json["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[2]["content"] == [{"toolResult": {"toolUseId": call.id, "content": [{"text": "sunny, 21 C"}],
                                                    "status": "success"}}]


async def test_tool_choice_none_with_tool_history_still_declares_tools(client: VlloraLLMClient,
                                                                       server: LocalProviderServer) -> None:
    """Converse has no toolChoice none (so no tools are sent), but the server, like Bedrock, refuses toolUse /
    toolResult blocks without a toolConfig: the tools the history used are declared, with a warning."""
    request = {**HELLO, "tools": [WEATHER], "tool_choice": "none", "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "tool_calls": [{"id": "t1", "type": "function",
                                              "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "rain"}]}
    answer = await client.completions().create(request)
    assert answer.text() == "Hello from the local bedrock server! The tool returned: rain"
    assert [w.param for w in answer.warnings] == ["tools"]
    config = server.last_request.json["toolConfig"]
    assert "toolChoice" not in config and [t["toolSpec"]["name"] for t in config["tools"]] == ["get_weather"]


# ---- SigV4 ---------------------------------------------------------------------------------------------------


async def test_sigv4_signed_call_verifies_against_what_the_server_received(
    server: LocalProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("botocore")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    async with VlloraLLMClient.from_provider("bedrock", base_url=server.base_url_for("bedrock"),
                                             region="eu-central-1") as c:
        response = await c.completions().create(HELLO)
        streamed = await drain(c, HELLO)
    assert response.text() == streamed.text() == "Hello from the local bedrock server! You said: Say hello"
    for sent, operation in zip(server.requests, ("converse", "converse-stream"), strict=True):
        authorization = sent.headers["authorization"]
        assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={KEY_ID}/")
        assert "/eu-central-1/bedrock/aws4_request" in authorization
        assert authorization == resign(sent, operation)


def resign(sent: Any, operation: str) -> str:
    """botocore's signature over the request as the server received it (its bytes, path and signed headers)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    names = sent.headers["authorization"].split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
    assert sent.raw_path == f"{RAW_PATH}/{operation}"
    url = f"http://{sent.headers['host']}{sent.raw_path}"
    request = AWSRequest(method=sent.method, url=url, data=sent.body,
                         headers={n: sent.headers[n] for n in names if n not in ("host", "x-amz-date")})
    stamp = sent.headers["x-amz-date"]
    request.headers["X-Amz-Date"] = stamp
    request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(KEY_ID, SECRET), "bedrock", "eu-central-1")
    signature = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    return (f"AWS4-HMAC-SHA256 Credential={KEY_ID}/{stamp[:8]}/eu-central-1/bedrock/aws4_request, "
            f"SignedHeaders={';'.join(names)}, Signature={signature}")


async def test_region_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    async with VlloraLLMClient.from_provider("bedrock", api_key="k") as c:
        wire, _ = c.instance.plan.encode(ChatCompletionRequest.coerce(HELLO))  # type: ignore[attr-defined]
    assert wire.url == f"https://bedrock-runtime.ap-south-1.amazonaws.com{RAW_PATH}/converse"


async def test_the_server_checks_the_authorization_shape(server: LocalProviderServer) -> None:
    url = server.base_url_for("bedrock") + RAW_PATH + "/converse"
    body = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    async with aiohttp.ClientSession() as session:
        for headers, error_type in (
            ({}, "MissingAuthenticationTokenException"),
            ({"authorization": "AWS4-HMAC-SHA256 Credential=nope"}, "IncompleteSignatureException"),
            ({"authorization": f"AWS4-HMAC-SHA256 Credential={KEY_ID}/20240101/us-east-1/s3/aws4_request, "
                               f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}",
              "x-amz-date": "20240101T000000Z"}, "InvalidSignatureException"),
        ):
            async with session.post(url, json=body, headers=headers) as reply:
                assert reply.status == 403
                assert reply.headers["x-amzn-ErrorType"].split(":", 1)[0] == error_type
                assert "message" in await reply.json()


# ---- errors ----------------------------------------------------------------------------------------------------


async def test_http_error_typed_by_the_error_type_header(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(Fault(status=403, body={"message": "You don't have access to the model."},
                             headers={"x-amzn-ErrorType": "AccessDeniedException:http://internal.amazon.com/coral/"}))
    with pytest.raises(PermissionDeniedError) as caught:
        await client.completions().create(HELLO)
    error = caught.value
    assert (error.status, error.error_type, error.message) == (403, "AccessDeniedException",
                                                              "You don't have access to the model.")
    assert error.request_id is not None and error.request_id.startswith("req_local_")


async def test_throttling_is_retried(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(Fault(status=429, headers={"x-amzn-ErrorType": "ThrottlingException"}))
    response = await client.completions().create(HELLO)
    assert response.text().startswith("Hello from the local bedrock server!")
    assert len(server.requests) == 2


async def test_a_first_frame_throttling_exception_is_retried(client: VlloraLLMClient,
                                                             server: LocalProviderServer) -> None:
    server.faults.push(replay(exception_frame("throttlingException", "Too many tokens"), content_type=EVENT_STREAM))
    response = await drain(client, HELLO)
    assert response.text() == "Hello from the local bedrock server! You said: Say hello"
    assert len(server.requests) == 2


async def test_a_midstream_exception_is_a_typed_error(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    body = (frame("messageStart", {"role": "assistant"})
            + frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hel"}})
            + exception_frame("modelStreamErrorException", "The model stream failed."))
    server.faults.push(replay(body, content_type=EVENT_STREAM, chunk_size=5, drip_s=0.005))  # frames arrive apart
    stream = client.completions().create_stream(HELLO)
    seen: list[str] = []
    with pytest.raises(StreamError) as caught:
        async for chunk in stream:
            seen += [c.delta.content or "" for c in chunk.choices]
    assert "".join(seen) == "Hel"
    assert (caught.value.error_type, caught.value.message) == ("modelStreamErrorException",
                                                              "The model stream failed.")
    assert len(server.requests) == 1  # never retried once a chunk reached the caller

    server.faults.push(replay(exception_frame("throttlingException", "slow down"), content_type=EVENT_STREAM,
                              times=3))
    with pytest.raises(RateLimitError, match="slow down"):
        await drain(client, HELLO)


async def test_a_corrupted_frame_is_a_stream_error(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    server.faults.push(Fault(malformed_json=True))
    with pytest.raises(LLMError, match="not valid JSON"):
        await drain(client, HELLO)


# ---- recordings -------------------------------------------------------------------------------------------------


def naive_reading(path: Path) -> dict[str, Any]:
    """The oracle: the recording's frames read with no spec, straight from their JSON."""
    parser = EventStreamParser()
    text, calls, stop = "", {}, None
    for message in parser.feed(path.read_bytes()):
        event, payload = message.headers[":event-type"], json.loads(message.payload)
        if event == "contentBlockStart" and "toolUse" in payload["start"]:
            tool = payload["start"]["toolUse"]
            if tool.get("type") != "server_tool_use":
                calls[payload["contentBlockIndex"]] = [tool["name"], ""]
        elif event == "contentBlockDelta":
            delta = payload["delta"]
            text += delta.get("text", "")
            if "toolUse" in delta and payload["contentBlockIndex"] in calls:
                calls[payload["contentBlockIndex"]][1] += delta["toolUse"]["input"]
        elif event == "messageStop":
            stop = payload["stopReason"]
    return {"text": text, "calls": list(calls.values()), "stop": stop}


@pytest.mark.parametrize("recording", STREAMS, ids=[p.stem for p in STREAMS])
async def test_recorded_streams_replayed_in_small_writes(client: VlloraLLMClient, server: LocalProviderServer,
                                                         recording: Path) -> None:
    server.faults.push(replay(recording, content_type=EVENT_STREAM, chunk_size=7))
    response = await drain(client, HELLO)
    expected = naive_reading(recording)
    assert response.text() == expected["text"]
    assert [[c.function.name, c.function.arguments] for c in response.message().tool_calls or []] == expected["calls"]
    assert response.finish_reason() == {"end_turn": "stop", "tool_use": "tool_calls"}[expected["stop"]]
