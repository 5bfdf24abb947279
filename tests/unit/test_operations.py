"""Operations beside chat as data: rendering per provider and model family, extends and overrides per
operation, the `$each` template construct, decoding, fan-out combination, and the typed errors."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from vllora_llm.engine.errors import InvalidRequestError, MappingError, ProviderError, RateLimitError
from vllora_llm.engine.gateway_ops import (
    CreateEmbeddingRequest,
    CreateEmbeddingResponse,
    CreateImageRequest,
    Embedding,
    EmbeddingUsage,
)
from vllora_llm.engine.operations import combine
from vllora_llm.engine.plan import Plan
from vllora_llm.engine.registry import load_plan, load_spec
from vllora_llm.engine.templates import TemplateError, compile_template
from vllora_llm.engine.transforms import Context

BASE = "http://127.0.0.1:1"


def render(provider: str, operation: str, request: dict[str, object]) -> tuple[list[tuple[str, object]], list[str]]:
    plan = load_plan(provider)
    kind = CreateEmbeddingRequest if operation == "embeddings" else CreateImageRequest
    wires, warnings = plan.operation(operation).encode(kind.coerce(request), base_url=BASE)
    return [(w.url, json.loads(w.body)) for w in wires], [w.message for w in warnings]


def test_openai_embeddings_is_the_native_shape() -> None:
    wires, warnings = render("openai", "embeddings", {
        "model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 256, "encoding_format": "base64"})
    assert wires == [(BASE + "/embeddings", {
        "model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 256, "encoding_format": "base64"})]
    assert warnings == []


def test_gemini_batch_has_one_entry_per_input_in_order() -> None:
    wires, _ = render("gemini", "embeddings", {
        "model": "gemini-embedding-001", "input": ["first", "second", "third"], "dimensions": 768,
        "provider_specific": {"task_type": "search_query"}})
    [(url, body)] = wires
    assert url == BASE + "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert [r["content"]["parts"][0]["text"] for r in body["requests"]] == ["first", "second", "third"]
    assert {r["model"] for r in body["requests"]} == {"models/gemini-embedding-001"}
    assert {r["taskType"] for r in body["requests"]} == {"RETRIEVAL_QUERY"}  # Cohere's name, mapped
    assert {r["outputDimensionality"] for r in body["requests"]} == {768}


def test_bedrock_dispatches_by_model_family() -> None:
    titan, _ = render("bedrock", "embeddings", {"model": "amazon.titan-embed-text-v2:0", "input": ["a", "b"],
                                                "dimensions": 512})
    url = BASE + "/model/amazon.titan-embed-text-v2%3A0/invoke"
    assert titan == [(url, {"inputText": "a", "dimensions": 512, "normalize": True}),
                     (url, {"inputText": "b", "dimensions": 512, "normalize": True})]
    cohere, _ = render("bedrock", "embeddings", {"model": "cohere.embed-english-v3", "input": "hello"})
    assert cohere == [(BASE + "/model/cohere.embed-english-v3/invoke",
                       {"texts": ["hello"], "input_type": "search_document"})]  # required: the default
    v1, warnings = render("bedrock", "embeddings", {"model": "amazon.titan-embed-text-v1", "input": "x",
                                                    "dimensions": 256})
    assert v1[0][1] == {"inputText": "x"} and any("dimensions" in w for w in warnings)


def test_bedrock_images_titan_and_stability() -> None:
    nova, warnings = render("bedrock", "images", {
        "model": "amazon.nova-canvas-v1:0", "prompt": "a cat", "n": 2, "size": "1280x720", "quality": "hd",
        "provider_specific": {"negative_prompt": "dogs", "seed": 7}})
    assert nova[0][1] == {
        "taskType": "TEXT_IMAGE", "textToImageParams": {"text": "a cat", "negativeText": "dogs"},
        "imageGenerationConfig": {"numberOfImages": 2, "width": 1280, "height": 720, "quality": "premium", "seed": 7},
    }
    assert warnings == []
    stability, warnings = render("bedrock", "images", {"model": "stability.sd3-5-large-v1:0", "prompt": "a cat",
                                                       "size": "1792x1024", "output_format": "png"})
    assert stability[0][1] == {"prompt": "a cat", "aspect_ratio": "16:9", "output_format": "png"}


def test_a_size_that_is_no_size_is_a_mapping_error_naming_the_field() -> None:
    with pytest.raises(MappingError, match="size: 'big' is not a size"):
        render("bedrock", "images", {"model": "amazon.titan-image-generator-v2:0", "prompt": "x", "size": "big"})


def test_imagen_predict_request() -> None:
    wires, warnings = render("gemini", "images", {"model": "imagen-4.0-generate-001", "prompt": "a cat", "n": 3,
                                                  "size": "1024x1792", "response_format": "url"})
    assert wires == [(BASE + "/v1beta/models/imagen-4.0-generate-001:predict",
                      {"instances": [{"prompt": "a cat"}], "parameters": {"sampleCount": 3, "aspectRatio": "9:16"}})]
    assert any("response_format" in w for w in warnings)


@pytest.mark.parametrize("provider", ["anthropic", "groq", "deepseek"])
def test_a_missing_operation_is_a_typed_error_before_any_io(provider: str) -> None:
    with pytest.raises(MappingError) as caught:
        load_plan(provider).operation("embeddings")
    assert str(caught.value).startswith(f"{provider} has no embeddings operation")
    assert f"vllora-llm spec docs {provider}" in str(caught.value)


def test_extends_merges_per_operation(tmp_path: Path) -> None:
    (tmp_path / "myproxy.yaml").write_text(
        "apiVersion: vllora.dev/v1\nkind: ProviderSpec\nmetadata: {name: myproxy, revision: 1}\nextends: openai\n"
        "operations:\n  embeddings:\n    endpoint: {path: /v2/embed}\n    params: {user: null}\n  images: null\n"
    )
    spec = load_spec("myproxy", [tmp_path])
    plan = Plan(spec)
    op = plan.operation("embeddings")
    wires, warnings = op.encode(CreateEmbeddingRequest.coerce({"model": "m", "input": "a", "user": "u"}),
                                base_url=BASE)
    assert wires[0].url == BASE + "/v2/embed"
    assert json.loads(wires[0].body) == {"model": "m", "input": "a"}
    assert [w.param for w in warnings] == ["user"]
    with pytest.raises(MappingError, match="no images operation"):
        plan.operation("images")


def test_each_template_gives_the_element_its_index_and_the_outer_item() -> None:
    each = compile_template({"$each": "$xs", "as": {"v": "$item", "i": "$index", "m": "$model"}})
    assert each({"xs": ["a", "b"], "model": "m"}, Context()) == [{"v": "a", "i": 0, "m": "m"},
                                                               {"v": "b", "i": 1, "m": "m"}]
    assert each({"xs": None}, Context()) is None
    with pytest.raises(TemplateError, match="missing `as`"):
        compile_template({"$each": "$xs"})


def test_template_responses_decode_in_input_order() -> None:
    op = load_plan("gemini").operation("embeddings")
    body = json.dumps({"embeddings": [{"values": [0.5, 1.0]}, {"values": [2.0, 3.5]}]}).encode()
    result = op.decode("gemini-embedding-001", 200, {}, body)
    assert isinstance(result, CreateEmbeddingResponse)
    assert [(e.index, e.embedding) for e in result.data] == [(0, [0.5, 1.0]), (1, [2.0, 3.5])]
    images = load_plan("gemini").operation("images").decode(
        "imagen", 200, {}, b'{"predictions": [{"bytesBase64Encoded": "iVBOR", "mimeType": "image/png"}]}')
    assert [i.b64_json for i in images.data] == ["iVBOR"]


def test_stability_finish_reason_fails_the_call() -> None:
    op = load_plan("bedrock").operation("images")
    with pytest.raises(InvalidRequestError, match="Filter reason: prompt"):
        op.decode("stability.sd3-5-large-v1:0", 200, {}, b'{"finish_reasons": ["Filter reason: prompt"]}')
    ok = op.decode("stability.sd3-5-large-v1:0", 200, {}, b'{"images": ["AAAA"], "finish_reasons": [null]}')
    assert ok.data[0].b64_json == "AAAA"


def test_errors_and_malformed_answers_are_typed() -> None:
    op = load_plan("bedrock").operation("embeddings")
    with pytest.raises(RateLimitError):
        op.decode("amazon.titan-embed-text-v2:0", 429, {"x-amzn-ErrorType": "ThrottlingException"},
                  b'{"message": "slow down"}')
    with pytest.raises(ProviderError, match="not valid JSON"):
        op.decode("amazon.titan-embed-text-v2:0", 200, {}, b"<html>")
    with pytest.raises(ProviderError, match="no result list"):
        op.decode("cohere.embed-english-v3", 200, {}, b'{"id": "x"}')
    with pytest.raises(ProviderError, match="not a CreateEmbeddingResponse"):
        load_plan("openai").operation("embeddings").decode("m", 200, {}, b'{"data": [{"embedding": {}}]}')


def test_combine_keeps_call_order_and_sums_usage() -> None:
    parts = [CreateEmbeddingResponse(data=[Embedding(embedding=[float(i)])], model="m",
                                     usage=EmbeddingUsage(prompt_tokens=i + 1, total_tokens=i + 1)) for i in range(3)]
    merged = combine(parts)  # type: ignore[arg-type]
    assert [(e.index, e.embedding) for e in merged.data] == [(0, [0.0]), (1, [1.0]), (2, [2.0])]
    assert merged.usage == EmbeddingUsage(prompt_tokens=6, total_tokens=6)


@pytest.mark.parametrize(("request_", "field"), [
    ({"model": "m", "input": []}, "input"),
    ({"model": "m", "input": ["a", 3]}, "input[1]"),
    ({"model": "m", "input": "a", "dimensions": -1}, "dimensions"),
    ({"model": "m", "input": "a", "encoding_format": "hex"}, "encoding_format"),
])
def test_bad_embedding_requests_name_the_field(request_: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        CreateEmbeddingRequest.coerce(request_)
    assert str(caught.value).startswith(f"{field}:")


@pytest.mark.parametrize(("request_", "field"), [
    ({"model": "m", "prompt": ""}, "prompt"),
    ({"model": "m", "prompt": "x", "n": 0}, "n"),
    ({"model": "m"}, "prompt"),
])
def test_bad_image_requests_name_the_field(request_: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        CreateImageRequest.coerce(request_)
    assert str(caught.value).startswith(f"{field}:")


def test_a_typed_request_is_checked_like_a_dict() -> None:
    typed = CreateEmbeddingRequest(model="m", input=["a", 5])  # type: ignore[list-item]
    with pytest.raises(InvalidRequestError, match=r"input\[1\]"):
        CreateEmbeddingRequest.coerce(typed)
    assert msgspec.to_builtins(CreateEmbeddingRequest.coerce(CreateEmbeddingRequest(model="m", input="a"))) == {
        "model": "m", "input": "a"}
