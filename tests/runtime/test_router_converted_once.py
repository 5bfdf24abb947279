"""A routed call converts a typed request to plain data once, as a direct call does (test_request_converted_once.py):
the client's check hands its plain form to the router, which gives it to the first target's plan (the model
renamed) instead of converting the request again. Counted through the public API: a `str` subclass in
`extra_body` is turned into a plain `str` by each conversion, which calls its `__str__`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.testing import Fault, LocalProviderServer
from vllora_llm.types.gateway import ChatCompletionMessage, ChatCompletionRequest


class Counted(str):
    """A string that counts the conversions that turn it into a plain `str`."""

    conversions = 0

    def __str__(self) -> str:
        Counted.conversions += 1
        return str.__str__(self)


def _request() -> ChatCompletionRequest:
    return ChatCompletionRequest(model="primary", messages=[ChatCompletionMessage.new_text("user", "route me")],
                                 max_tokens=16, extra_body={"tag": Counted("t-1")})


@pytest.mark.parametrize("how", ["create", "stream"])
async def test_a_routed_typed_request_is_converted_once(
    how: str, routes_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTE_PRIMARY_KEY", "sk-primary")
    async with LocalProviderServer() as server:
        async with VlloraLLMClient.from_config(routes_file(server)) as client:
            Counted.conversions = 0
            if how == "create":
                text = (await client.completions().create(_request())).text()
            else:
                async with client.completions().create_stream(_request()) as stream:
                    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        sent = server.last_request.json
    assert text
    assert Counted.conversions == 1
    assert sent["model"] == "gpt-4.1-mini" and sent["tag"] == "t-1" and sent["max_tokens"] == 16


async def test_a_fallback_renders_its_own_request_with_its_defaults(
    routes_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTE_PRIMARY_KEY", "sk-primary")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-default")
    async with LocalProviderServer() as server:
        server.faults.push(Fault(status=503, times=1))
        async with VlloraLLMClient.from_config(routes_file(server), max_retries=0) as client:
            response = await client.completions().create(_request())
        first, second = (r.json for r in server.requests)
    assert response.model == "gpt-4.1-nano"
    assert first["model"] == "gpt-4.1-mini" and "temperature" not in first
    assert second["model"] == "gpt-4.1-nano" and second["temperature"] == 0.25
    assert first["tag"] == second["tag"] == "t-1"
    assert first["messages"] == second["messages"] == [{"role": "user", "content": "route me"}]
