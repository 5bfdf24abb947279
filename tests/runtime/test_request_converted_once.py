"""A typed request is converted to plain data once per call, streamed or not: the check `create` /
`create_stream` runs produces the plain form the plan then renders from (converting it again cost ~12k
instructions per stream open). Counted through the public API: a `str` subclass in `extra_body` is turned into
a plain `str` by each conversion, which calls its `__str__`."""

from __future__ import annotations

from typing import Any

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.testing import LocalProviderServer
from vllora_llm.types.gateway import ChatCompletionMessage, ChatCompletionRequest


class Counted(str):
    """A string that counts the conversions that turn it into a plain `str`."""

    conversions = 0

    def __str__(self) -> str:
        Counted.conversions += 1
        return str.__str__(self)


@pytest.mark.parametrize("provider,model", [("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5")])
@pytest.mark.parametrize("observed", [False, True], ids=["plain", "observed"])
@pytest.mark.parametrize("how", ["create", "stream"])
async def test_a_typed_request_is_converted_once_per_call(
    provider: str, model: str, observed: bool, how: str, server: LocalProviderServer
) -> None:
    request = ChatCompletionRequest(model=model, messages=[ChatCompletionMessage.new_text("user", "hi")],
                                    max_tokens=16, extra_body={"tag": Counted("t-1")})
    events: list[Any] = []
    async with VlloraLLMClient.from_provider(provider, api_key="sk-test", base_url=server.base_url_for(provider),
                                             events=events.append if observed else None) as client:
        Counted.conversions = 0
        if how == "create":
            text = (await client.completions().create(request)).text()
        else:
            async with client.completions().create_stream(request) as stream:
                text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert text
    assert Counted.conversions == 1
    assert server.last_request.json["tag"] == "t-1"
    assert not observed or events
