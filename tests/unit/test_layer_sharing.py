"""Override layers share what they do not change: every set of layers a model matches gets its own request
encoder, but the messages mapping is compiled once per distinct `messages` spec, not once per layer set (it
was most of each layer's compiled code and of a first request's compile time on Anthropic)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from vllora_llm.engine import plan as plan_module
from vllora_llm.engine.gateway import ChatCompletionRequest
from vllora_llm.engine.registry import clear_cache, load_plan

# Models covering anthropic.yaml's override layers, alone and in combination (the 4.5 ones match two)
MODELS = ["claude-3-opus-20240229", "claude-3-5-haiku-20241022", "claude-sonnet-4-20250514", "claude-sonnet-4-5",
          "claude-opus-4-5", "claude-opus-4-7", "claude-opus-5"]
MID_SYSTEM = {"messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": "Be brief."},
                           {"role": "user", "content": "again"}], "max_tokens": 10}


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    calls: list[Any] = []
    real = plan_module.lower_messages

    def counting(spec: Any, provider: str) -> Any:
        calls.append(spec)
        return real(spec, provider)

    monkeypatch.setattr(plan_module, "lower_messages", counting)
    clear_cache()
    yield calls
    clear_cache()


@pytest.mark.parametrize("cache", ["off", "warm"])
def test_layers_that_leave_messages_alone_share_its_compiled_mapping(
    compiled: list[Any], cache: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLLORA_SPEC_CACHE", "off" if cache == "off" else str(tmp_path))
    if cache == "warm":  # stored once, then read back: its layers are built on first use
        load_plan("anthropic")
        clear_cache()
    compiled.clear()
    plan = load_plan("anthropic")
    bodies = {}
    for model in MODELS:
        wire, _ = plan.encode(ChatCompletionRequest.coerce({"model": model, **MID_SYSTEM}), base_url="http://x")
        bodies[model] = wire.body
    # the base spec's mapping, and the one of the layer that changes `messages` (system turns kept in place)
    assert len(compiled) == 2
    assert all(b'"role":"system"' not in bodies[model] for model in MODELS[:-1])  # folded into the user turn
    kept = b'{"role":"system","content":[{"type":"text","text":"Be brief."}]}'  # in place, on the 5 family
    assert kept in bodies["claude-opus-5"]
