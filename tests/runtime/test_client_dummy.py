"""The public API with the offline `DummyModelInstance`: DESIGN §1's example verbatim, then every way to
consume a stream, request coercion, and the sync facade."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from vllora_llm.client import (
    CompletionsClient,
    DummyModelInstance,
    ModelInstance,
    ResultStream,
    SyncVlloraLLMClient,
    VlloraLLMClient,
)
from vllora_llm.error import InvalidRequestError
from vllora_llm.types.gateway import (
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionMessageWithFinishReason,
    ChatCompletionRequest,
    ChoiceDelta,
    ChunkChoice,
)

REPLY = "Hello from DummyModelInstance! You said: Say hello in one short sentence."


def test_design_example_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    # fmt: off
    # isort: off
    # ---- DESIGN.md §1, unchanged -------------------------------------------------------------------------
    import asyncio
    from vllora_llm.client import VlloraLLMClient, DummyModelInstance
    from vllora_llm.types.gateway import ChatCompletionRequest, ChatCompletionMessage

    async def main() -> None:
        client = VlloraLLMClient.new_with_instance(DummyModelInstance())
        request = ChatCompletionRequest(
            model="gpt-4.1-mini",
            messages=[
                ChatCompletionMessage.new_text("system", "You are a helpful assistant."),
                ChatCompletionMessage.new_text("user", "Say hello in one short sentence."),
            ],
        )
        response = await client.completions().create(request)
        message = response.message()
        if message.content is not None and (text := message.content.as_string()):
            print("Model reply:", text)

        async with client.completions().create_stream(request) as stream:   # also a plain `async for`
            async for chunk in stream:
                for choice in chunk.choices:
                    if choice.delta.content:
                        print(choice.delta.content, end="")

    asyncio.run(main())
    # -------------------------------------------------------------------------------------------------------
    # isort: on
    # fmt: on
    assert capsys.readouterr().out == f"Model reply: {REPLY}\n{REPLY}"


def request() -> ChatCompletionRequest:
    return ChatCompletionRequest(
        model="gpt-4.1-mini",
        messages=[
            ChatCompletionMessage.new_text("system", "You are a helpful assistant."),
            ChatCompletionMessage.new_text("user", "Say hello in one short sentence."),
        ],
    )


def text_of(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(c.delta.content or "" for chunk in chunks for c in chunk.choices)


@pytest.fixture
def completions() -> CompletionsClient:
    return VlloraLLMClient.new_with_instance(DummyModelInstance()).completions()


async def test_create(completions: CompletionsClient) -> None:
    response = await completions.create(request())
    assert isinstance(response, ChatCompletionMessageWithFinishReason)
    assert response.text() == REPLY
    assert response.finish_reason() == "stop"
    assert response.model == "gpt-4.1-mini"
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (11, 11)
    assert response.usage.total_tokens == 22


async def test_stream_plain_async_for(completions: CompletionsClient) -> None:
    stream = completions.create_stream(request())
    chunks = [chunk async for chunk in stream]
    assert len(chunks) > 3  # streamed in several pieces
    assert text_of(chunks) == REPLY
    assert stream.done
    assert stream.response == await completions.create(request())


async def test_stream_awaited(completions: CompletionsClient) -> None:
    stream = await completions.create_stream(request())
    assert isinstance(stream, ResultStream)
    assert text_of([chunk async for chunk in stream]) == REPLY
    assert stream.aggregate().text() == REPLY


async def test_stream_async_with(completions: CompletionsClient) -> None:
    async with completions.create_stream(request()) as stream:
        chunks = [chunk async for chunk in stream]
    assert text_of(chunks) == REPLY
    assert stream.response.usage == (await completions.create(request())).usage


async def test_response_before_the_end_raises_but_aggregate_is_partial(completions: CompletionsClient) -> None:
    async with completions.create_stream(request()) as stream:
        first = await stream.__anext__()
        second = await stream.__anext__()
        with pytest.raises(RuntimeError, match="not ended"):
            _ = stream.response
        assert stream.aggregate().text() == text_of([first, second])
    # leaving the block closed it: iteration ends at once
    assert [chunk async for chunk in stream] == []


async def test_requests_as_dict_and_json(completions: CompletionsClient) -> None:
    as_dict = {"model": "m", "messages": [{"role": "user", "content": "hi there"}]}
    by_dict = await completions.create(as_dict)
    by_json = await completions.create(json.dumps(as_dict))
    assert by_dict.text() == by_json.text() == "Hello from DummyModelInstance! You said: hi there"
    streamed = [c async for c in completions.create_stream(as_dict)]
    assert text_of(streamed) == by_dict.text()


async def test_bad_request_names_the_path(completions: CompletionsClient) -> None:
    with pytest.raises(InvalidRequestError, match=r"messages\[0\]"):
        await completions.create({"model": "m", "messages": [{"role": "nobody", "content": "x"}]})
    with pytest.raises(InvalidRequestError):
        completions.create_stream({"model": "m"})


async def test_client_context_manager_and_repr() -> None:
    async with VlloraLLMClient.new_with_instance(DummyModelInstance("fixed")) as client:
        assert (await client.completions().create(request())).text() == "fixed"
        assert "DummyModelInstance" in repr(client)


class _Counting(ModelInstance):
    """A custom instance: only `stream()` closes early when the consumer leaves."""

    def __init__(self) -> None:
        self.closed = False

    async def complete(self, request: ChatCompletionRequest) -> ChatCompletionMessageWithFinishReason:
        raise NotImplementedError

    async def stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        try:
            for i in range(1000):
                yield ChatCompletionChunk(choices=[ChunkChoice(delta=ChoiceDelta(content=str(i)))])
                await asyncio.sleep(0)
        finally:
            self.closed = True


async def test_custom_instance_is_closed_on_early_exit() -> None:
    instance = _Counting()
    client = VlloraLLMClient.new_with_instance(instance)
    async with client.completions().create_stream(request()) as stream:
        async for _ in stream:
            break
    assert instance.closed
    assert stream.aggregate().text() == "0"


def test_sync_facade() -> None:
    with SyncVlloraLLMClient.new_with_instance(DummyModelInstance()) as client:
        assert client.create(request()).text() == REPLY
        assert client.completions().create(request()).text() == REPLY
        stream = client.create_stream(request())
        assert text_of(list(stream)) == REPLY
        assert stream.response.text() == REPLY
        with client.create_stream(request()) as stream:
            for chunk in stream:
                if text_of([chunk]):
                    break
        assert stream.aggregate().text() == "Hello "
    with pytest.raises(RuntimeError, match="closed"):
        client.create(request())
    client.close()  # idempotent


def test_public_modules_reexport_the_api() -> None:
    import vllora_llm.client as public_client
    import vllora_llm.engine.gateway as gateway
    import vllora_llm.engine.gateway_messages as gateway_messages
    import vllora_llm.engine.gateway_ops as gateway_ops
    import vllora_llm.engine.gateway_request as gateway_request
    import vllora_llm.engine.gateway_response as gateway_response
    import vllora_llm.engine.gateway_struct as gateway_struct
    import vllora_llm.engine.typed_output as typed_output
    import vllora_llm.types.gateway as public_gateway

    chat_modules = (gateway_struct, gateway_messages, gateway_request, gateway_response)  # (gathered in `gateway`)
    for module in (*chat_modules, gateway_ops):  # chat's types, and the other operations' (embeddings, images)
        defined = {
            name
            for name, value in vars(module).items()
            if isinstance(value, type) and value.__module__ == module.__name__ and not name.startswith("_")
            and name != "OperationRequest"  # (the shared base; not part of the crate's API)
        }
        assert defined <= set(public_gateway.__all__)
    assert all(getattr(public_gateway, name) is (getattr(gateway, name, None) or getattr(gateway_ops, name, None)
                                                  or getattr(typed_output, name))  # (parse()'s result type)
               for name in public_gateway.__all__)
    for name in (
        "VlloraLLMClient",
        "CompletionsClient",
        "ResultStream",
        "ModelInstance",
        "DummyModelInstance",
        "ProviderModelInstance",
        "SyncVlloraLLMClient",
        "EmbeddingsClient",
        "ImagesClient",
    ):
        assert name in public_client.__all__


class _OnlyComplete(ModelInstance):
    """A custom instance written against the documented shape: `complete` and `stream`, nothing else."""

    def __init__(self) -> None:
        self.seen: list[ChatCompletionRequest] = []

    async def complete(self, request: ChatCompletionRequest) -> ChatCompletionMessageWithFinishReason:
        self.seen.append(request)
        return await DummyModelInstance("ok").complete(request)

    async def stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        async for chunk in DummyModelInstance("ok").stream(request):
            yield chunk


async def test_a_custom_instance_gets_the_validated_request_through_complete() -> None:
    """The client hands a provider instance the plain data it validated (`complete_validated`); an instance
    that only implements `complete` still receives every request, typed, dict or JSON."""
    instance = _OnlyComplete()
    client = VlloraLLMClient.new_with_instance(instance)
    typed = ChatCompletionRequest(model="m", messages=[ChatCompletionMessage.new_text("user", "hi")])
    for request in (typed, {"model": "m", "messages": [{"role": "user", "content": "hi"}]}, typed.to_json()):
        assert (await client.completions().create(request)).text() == "ok"
    assert len(instance.seen) == 3 and instance.seen[0] is typed
    assert all(isinstance(r, ChatCompletionRequest) and r.model == "m" for r in instance.seen)
    with pytest.raises(InvalidRequestError, match="max_tokens"):
        await client.completions().create(ChatCompletionRequest(model="m", messages=typed.messages, max_tokens=0))
    assert len(instance.seen) == 3  # refused before the instance is called
