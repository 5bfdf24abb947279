"""The plain-conversation path of template message mapping gives exactly what the general path gives.

Most conversations are role + text messages; `_TemplateMapper` renders those without its per-part
bookkeeping. For every shipped template-mode spec, generated conversations (system messages anywhere, empty
texts, every role, a stray key) render the same body, warnings and errors with the fast path on and off.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vllora_llm.engine.errors import LLMError
from vllora_llm.engine.gateway import ChatCompletionRequest
from vllora_llm.engine.registry import discover, load_plan

TEMPLATE_SPECS = sorted(
    name for name in discover() if hasattr(load_plan(name).encoder_for("m").messages, "__self__")
)
ROLES = st.sampled_from(["system", "developer", "user", "assistant", "tool", "function"])
TEXTS = st.sampled_from(["", "hi", "  ", "Sure: ", "a\nb", "ünï", "x" * 30])
PLAIN = st.fixed_dictionaries({"role": ROLES, "content": TEXTS})
OTHER = st.fixed_dictionaries({"role": ROLES, "content": TEXTS, "name": st.just("n")}) | st.fixed_dictionaries(
    {"role": st.just("user"), "content": st.just([{"type": "text", "text": "parts"}])})
CONVERSATIONS = st.lists(PLAIN | OTHER, min_size=1, max_size=6) | st.lists(PLAIN, min_size=1, max_size=6)


def render(provider: str, messages: list[dict[str, Any]], fast: bool) -> Any:
    plan = load_plan(provider)
    mapper = plan.encoder_for("some-model").messages.__self__  # type: ignore[attr-defined]
    mapper.plain_fast_path = fast
    try:
        request = ChatCompletionRequest.coerce({"model": "some-model", "messages": messages, "max_tokens": 16})
        wire, warnings = plan.encode(request, base_url="http://127.0.0.1:1")
    except LLMError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        mapper.plain_fast_path = True
    return wire.body, [(w.code, w.param, w.message) for w in warnings]


def test_there_are_template_specs_to_check() -> None:
    assert {"anthropic", "gemini", "bedrock"} <= set(TEMPLATE_SPECS)


@pytest.mark.parametrize("provider", TEMPLATE_SPECS)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=CONVERSATIONS)
def test_plain_and_general_paths_agree(provider: str, messages: list[dict[str, Any]]) -> None:
    assert render(provider, messages, True) == render(provider, messages, False)


@pytest.mark.parametrize("provider", TEMPLATE_SPECS)
def test_the_usual_conversation_takes_the_plain_path(provider: str) -> None:
    mapper = load_plan(provider).encoder_for("some-model").messages.__self__  # type: ignore[attr-defined]
    usual = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},
             {"role": "assistant", "content": "hello"}, {"role": "user", "content": "bye"}]
    assert mapper._plain_conversation(usual) == 1
    assert mapper._plain_conversation([{"role": "user", "content": "hi"}, {"role": "system", "content": "x"}]) is None
