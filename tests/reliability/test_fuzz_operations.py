"""Embeddings, images and native Responses decoding never fails in an untyped way: for every shipped spec that offers an
operation, and each of its model families, arbitrary JSON (shaped like the answers: the right keys with wrong
values, missing pieces, nulls) and arbitrary bytes decode into the unified response or raise a
`ProviderError` (a typed error for a provider's refusal) - never a KeyError, TypeError or anything else. The
request side too: arbitrary request dicts are refused with `InvalidRequestError` or render."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vllora_llm.engine.errors import InvalidRequestError, MappingError, ProviderError
from vllora_llm.engine.gateway_ops import OPERATION_TYPES
from vllora_llm.engine.plan import Plan
from vllora_llm.engine.registry import discover, load_plan, load_spec

MODELS = {"embeddings": ["m", "amazon.titan-embed-text-v1", "cohere.embed-english-v3"],
          "images": ["m", "stability.sd3-5-large-v1:0"], "responses": ["m", "gpt-5"]}
CASES = [(name, op, model) for name in sorted(discover()) for op in OPERATION_TYPES
         if op in (load_spec(name).get("operations") or {}) for model in MODELS[op]]
KEYS = ["data", "embeddings", "embedding", "values", "predictions", "bytesBase64Encoded", "images", "index",
        "finish_reasons", "usage", "prompt_tokens", "total_tokens", "inputTextTokenCount", "b64_json", "error",
        "model", "created", "url", "revised_prompt", "id", "created_at", "output", "status"]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False, width=32) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    max_leaves=12,
)


@functools.cache
def plan(name: str) -> Plan:
    return load_plan(name)


@pytest.mark.parametrize(("name", "operation", "model"), CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
@SETTINGS
@given(body=st.dictionaries(st.sampled_from(KEYS), values, max_size=5) | values, raw=st.binary(max_size=40))
def test_decoding_is_total(name: str, operation: str, model: str, body: Any, raw: bytes) -> None:
    op = plan(name).operation(operation)
    for payload in (json.dumps(body).encode(), raw):
        try:
            result = op.decode(model, 200, {}, payload)
        except ProviderError:
            continue
        assert isinstance(result, OPERATION_TYPES[operation][1])


@pytest.mark.parametrize("name", ["openai", "gemini", "bedrock"])
@SETTINGS
@given(request=st.dictionaries(st.sampled_from(["model", "input", "dimensions", "encoding_format", "user",
                                                "provider_specific", "prompt", "n", "size", "quality"]),
                               values, max_size=6))
def test_requests_are_refused_with_a_typed_error_or_rendered(name: str, request: dict[str, Any]) -> None:
    for operation, (kind, _) in OPERATION_TYPES.items():
        try:
            coerced = kind.coerce(request)
            wires, _ = plan(name).operation(operation).encode(coerced, base_url="http://127.0.0.1:1")
        except (InvalidRequestError, MappingError):
            continue
        assert wires and all(json.loads(w.body) is not None for w in wires)
