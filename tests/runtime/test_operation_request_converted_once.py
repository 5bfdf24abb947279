"""The operations beside chat convert a typed request to plain data once per call, as chat does
(test_request_converted_once.py): the check `embeddings().create`, `images().create` and a natively served
`responses().create` / `create_stream` run produces the plain form the operation's plan renders from. Counted
through the public API: a `str` subclass in `extra_body` is turned into a plain `str` by each conversion, which
calls its `__str__`. A translated Responses call converts its `CreateResponse` once too (into the chat request)."""

from __future__ import annotations

from typing import Any

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.errors import InvalidRequestError
from vllora_llm.testing import LocalProviderServer
from vllora_llm.types.gateway import CreateEmbeddingRequest, CreateImageRequest
from vllora_llm.types.responses import CreateResponse


class Counted(str):
    """A string that counts the conversions that turn it into a plain `str`."""

    conversions = 0

    def __str__(self) -> str:
        Counted.conversions += 1
        return str.__str__(self)


def client_for(server: LocalProviderServer, provider: str = "openai", **options: Any) -> VlloraLLMClient:
    return VlloraLLMClient.from_provider(provider, api_key="sk-test", base_url=server.base_url_for(provider),
                                         **options)


@pytest.mark.parametrize("observed", [False, True], ids=["plain", "observed"])
@pytest.mark.parametrize("operation", ["embeddings", "images"])
async def test_an_operation_converts_a_typed_request_once(
    operation: str, observed: bool, server: LocalProviderServer
) -> None:
    events: list[Any] = []
    async with client_for(server, events=events.append if observed else None) as client:
        Counted.conversions = 0
        if operation == "embeddings":
            request: Any = CreateEmbeddingRequest(model="text-embedding-3-small", input=["a", "b"],
                                                  extra_body={"tag": Counted("t-1")})
            result: Any = await client.embeddings().create(request)
        else:
            request = CreateImageRequest(model="gpt-image-1", prompt="an apple", extra_body={"tag": Counted("t-1")})
            result = await client.images().create(request)
    assert result.data
    assert Counted.conversions == 1
    assert server.last_request.json["tag"] == "t-1"
    assert not observed or events


@pytest.mark.parametrize("how", ["create", "stream"])
async def test_a_native_responses_call_converts_a_typed_request_once(how: str, server: LocalProviderServer) -> None:
    request = CreateResponse(model="gpt-4.1-mini", input="hi", temperature=1, extra_body={"tag": Counted("t-1")})
    async with client_for(server) as client:
        Counted.conversions = 0
        if how == "create":
            text = (await client.responses().create(request)).output_text
        else:
            async with client.responses().create_stream(request) as stream:
                async for _ in stream:
                    pass
            assert stream.response is not None
            text = stream.response.output_text
    assert text
    assert Counted.conversions == 1
    sent = server.last_request
    assert sent.path == "/v1/responses" and sent.json["tag"] == "t-1"
    assert b'"temperature":1,' in sent.body  # as given (as a chat request sends it)


async def test_a_translated_responses_call_converts_a_typed_request_once(server: LocalProviderServer) -> None:
    request = CreateResponse(model="claude-sonnet-4-5", input=[{"role": "user", "content": Counted("hi")}],
                             max_output_tokens=16)
    async with client_for(server, "anthropic") as client:
        Counted.conversions = 0
        response = await client.responses().create(request)
    assert response.output_text
    assert Counted.conversions == 1
    assert server.last_request.json["messages"][0]["content"] in ("hi", [{"type": "text", "text": "hi"}])


async def test_a_typed_request_changed_after_its_check_is_sent_as_checked(server: LocalProviderServer) -> None:
    request = CreateResponse(model="gpt-4.1-mini", input="hi", extra_body={"tag": "checked"})
    async with client_for(server) as client:
        stream = client.responses().create_stream(request)
        request.extra_body = {"tag": "changed"}
        request.input = 7  # type: ignore[assignment]  (would be refused by the check)
        async with stream:
            async for _ in stream:
                pass
    assert server.last_request.json["tag"] == "checked" and server.last_request.json["input"] == "hi"


@pytest.mark.parametrize("operation", ["embeddings", "images"])
async def test_a_bad_typed_request_is_still_refused_with_its_field_path(
    operation: str, server: LocalProviderServer
) -> None:
    async with client_for(server) as client:
        with pytest.raises(InvalidRequestError) as info:
            if operation == "embeddings":
                await client.embeddings().create(CreateEmbeddingRequest(model="m", input=["ok", ""]))
            else:
                await client.images().create(CreateImageRequest(model="m", prompt="p", n=0))
    assert info.value.path == ("input[1]" if operation == "embeddings" else "n")
    assert not server.requests
