"""A value with no JSON form inside a gateway type (an object in `extra_body`, a tuple as a dict key, ...): every
public conversion (`to_dict`, `to_json`, `validate`) and every call raises `InvalidRequestError` naming the
field path and the value's type, never the value (it may be a secret), and nothing reaches the network."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.errors import InvalidRequestError
from vllora_llm.engine.gateway import ChatCompletionMessageWithFinishReason, ChatCompletionRequest
from vllora_llm.engine.gateway_ops import CreateEmbeddingRequest, CreateImageRequest
from vllora_llm.engine.responses_request import CreateResponse
from vllora_llm.engine.typed_output import ParsedChatCompletion
from vllora_llm.testing import LocalProviderServer

SECRET = "sk-live-0123456789abcdef"


class Secret:
    """Holds a key; its repr and str would give it away."""

    def __repr__(self) -> str:
        return SECRET

    __str__ = __repr__


USER = [{"role": "user", "content": "hi"}]
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "x": 1j}}}


@dataclass(frozen=True)
class Row:
    id: str
    build: Callable[[], Any]
    message: str
    methods: tuple[str, ...] = ("to_dict", "to_json", "validate")


ROWS = [
    Row("object-in-extra-body", lambda: ChatCompletionRequest(model="m", messages=USER, extra_body={
        "a": {"b": [1, Secret()]}}), "extra_body.a.b[1]: a value of type 'Secret' has no JSON form"),
    Row("complex-in-tool-parameters", lambda: ChatCompletionRequest(model="m", messages=USER, tools=[TOOL]),
        "tools[0].function.parameters.x: a value of type 'complex' has no JSON form"),
    Row("tuple-key-in-extra-body", lambda: ChatCompletionRequest(model="m", messages=USER, extra_body={
        "a": {(1, 2): 3}}), "extra_body.a: a dict key of type 'tuple' has no JSON form", ("to_json",)),
    Row("embeddings-extra-body", lambda: CreateEmbeddingRequest(model="m", input="a", extra_body={"k": Secret()}),
        "extra_body.k: a value of type 'Secret' has no JSON form"),
    Row("images-extra-body", lambda: CreateImageRequest(prompt="p", model="m", extra_body={"k": Secret()}),
        "extra_body.k: a value of type 'Secret' has no JSON form"),
    Row("responses-input-item", lambda: CreateResponse(model="m", input=[{"type": "message", "x": Secret()}]),
        "input[0].x: a value of type 'Secret' has no JSON form"),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_a_value_with_no_json_form_is_a_typed_error_naming_the_field(row: Row) -> None:
    value = row.build()
    for method in row.methods:
        with pytest.raises(InvalidRequestError) as info:
            getattr(value, method)()
        assert str(info.value).startswith(row.message), (method, str(info.value))
        assert info.value.path == row.message.split(":", 1)[0]
        assert SECRET not in str(info.value)


class Answer:
    """What a pydantic model gives `ParsedChatCompletion` (recognised by `model_dump`)."""

    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        return {"city": "Paris"}


def test_a_parsed_completion_serialises_its_parsed_value_both_ways() -> None:
    """`to_json` reads a model's `model_dump` as `to_dict` does (it was the bare encoder's refusal)."""
    base = ChatCompletionMessageWithFinishReason.from_dict({"choices": [
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": '{"city": "Paris"}'}}]})
    fields = {name: getattr(base, name) for name in base.__struct_fields__}
    parsed = ParsedChatCompletion(**fields, parsed=Answer())
    assert parsed.to_dict()["parsed"] == {"city": "Paris"}
    assert b'"parsed":{"city":"Paris"}' in parsed.to_json()
    with pytest.raises(InvalidRequestError, match=r"^parsed: a value of type 'Secret' has no JSON form"):
        ParsedChatCompletion(**fields, parsed=Secret()).to_json()


CALLS: list[tuple[str, Callable[[VlloraLLMClient], Any]]] = [
    ("chat", lambda c: c.completions().create({"model": "gpt-4o-mini", "messages": USER,
                                               "extra_body": {"k": Secret()}})),
    ("embeddings", lambda c: c.embeddings().create({"model": "text-embedding-3-small", "input": "a",
                                                    "extra_body": {"k": Secret()}})),
    ("images", lambda c: c.images().create({"model": "gpt-image-1", "prompt": "a", "extra_body": {"k": Secret()}})),
    ("responses", lambda c: c.responses().create({"model": "gpt-4o-mini", "input": "a",
                                                  "extra_body": {"k": Secret()}})),
]


@pytest.mark.parametrize("call", [c for _, c in CALLS], ids=[name for name, _ in CALLS])
async def test_a_call_with_a_value_with_no_json_form_fails_before_any_io(
    call: Callable[[VlloraLLMClient], Any], server: LocalProviderServer
) -> None:
    async with VlloraLLMClient.from_provider("openai", api_key="sk-test", base_url=server.base_url_for("openai")) as c:
        with pytest.raises(InvalidRequestError, match=r"extra_body\.k: a value of type 'Secret' has no JSON form"):
            await call(c)
    assert server.requests == []
