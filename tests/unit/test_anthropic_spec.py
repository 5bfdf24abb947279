"""specs/providers/anthropic.yaml as a whole: it validates clean, and the facts that are not one request's
mapping (endpoint, auth, API version, the max_tokens defaults per model family) hold."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator

import pytest

from vllora_llm.engine.gateway import ChatCompletionRequest
from vllora_llm.engine.registry import builtin_dir, clear_cache, load_plan, load_spec, validate_files

# The official SDK refuses a non-streaming call it expects to run over 10 minutes: 3600 s * max_tokens /
# 128 000 > 600 s, i.e. max_tokens above 21 333. A default must never make a plain create() fail that way.
SDK_NON_STREAMING_LIMIT = 600 * 128_000 // 3600

# Each family's documented output limit, which its default must not exceed.
FAMILY_LIMITS = {
    "claude-3-haiku-20240307": 4096,
    "claude-3-opus-20240229": 4096,
    "claude-3-5-haiku-20241022": 8192,
    "claude-3-5-sonnet-20241022": 8192,
    "claude-3-7-sonnet-20250219": 64_000,
    "claude-sonnet-4-20250514": 64_000,
    "claude-opus-4-20250514": 32_000,
    "claude-opus-4-1-20250805": 32_000,
    "claude-sonnet-4-5-20250929": 64_000,
    "claude-haiku-4-5-20251001": 64_000,
}


@pytest.fixture(autouse=True)
def _builtin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("VLLORA_SPEC_PATH", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    clear_cache()
    yield
    clear_cache()


def test_the_spec_validates_clean() -> None:
    diagnostics, _ = validate_files([str(builtin_dir() / "anthropic.yaml")])
    assert [str(d) for d in diagnostics] == []


def test_endpoint_auth_and_version() -> None:
    plan = load_plan("anthropic")
    assert plan.default_base_url == "https://api.anthropic.com"
    assert plan.api_version == "2023-06-01"
    assert (plan.auth.scheme, plan.auth.name, plan.auth.env) == ("header", "x-api-key", ("ANTHROPIC_API_KEY",))
    assert plan.base_url_env == ("ANTHROPIC_BASE_URL",)
    assert plan.framing == "sse"


@pytest.mark.parametrize(("model", "limit"), sorted(FAMILY_LIMITS.items()))
def test_max_tokens_default_fits_the_family_and_the_sdk(model: str, limit: int) -> None:
    request = ChatCompletionRequest.coerce({"model": model, "messages": [{"role": "user", "content": "hi"}]})
    wire, warnings = load_plan("anthropic").encode(request)
    sent = json.loads(wire.body)["max_tokens"]
    assert sent <= min(limit, SDK_NON_STREAMING_LIMIT)
    assert [w.param for w in warnings] == ["max_tokens"]


def test_every_declared_default_is_below_the_sdk_limit() -> None:
    spec = load_spec("anthropic")
    defaults = [spec["params"]["max_tokens"]["default"]]
    defaults += [o["params"]["max_tokens"]["default"] for o in spec["overrides"] if "max_tokens" in o["params"]]
    assert defaults and all(d <= SDK_NON_STREAMING_LIMIT for d in defaults)


def test_override_layers_add_up_for_overlapping_globs() -> None:
    """Every matching layer applies, in order: a 4.1+ model takes its family's max_tokens default from one
    layer and "temperature wins over top_p" from the next, which does not repeat the default."""
    spec = load_spec("anthropic")
    model = "claude-opus-4-1-20250805"
    layers = [o for o in spec["overrides"] if any(fnmatch.fnmatchcase(model, g) for g in o["match"])]
    assert len(layers) == 2 and "max_tokens" not in layers[-1]["params"]
    request = ChatCompletionRequest.coerce({"model": model, "messages": [{"role": "user", "content": "hi"}],
                                            "temperature": 0.5, "top_p": 0.9})
    body = json.loads(load_plan("anthropic").encode(request)[0].body)
    assert body["max_tokens"] == 16384 and body["temperature"] == 0.5 and "top_p" not in body
