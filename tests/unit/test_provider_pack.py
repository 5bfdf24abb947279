"""The OpenAI-compatible provider pack (`specs/providers/<name>.yaml`, each `extends: openai`).

Two tables:

- RENDERS: a unified request rendered by each pack spec, with the credential added by the runtime's auth
  scheme. Each row states the URL, the auth header, what the body must (and must not) carry, and which
  parameters came back as warnings: the renames and unsupported parameters the spec declares.
- STREAMS: every recording in tests/recordings/openai_compatible/ framed with the real SSE parser,
  decoded by the matching pack plan and aggregated; each row states the text, reasoning, tool calls and
  finish reason, or the mid-stream error. The recordings are read in place.

`*.chunks.jsonl` files are vercel/ai fixtures: one chunk's JSON per line, without `data:` framing or the
`[DONE]` sentinel. They are turned back into the SSE body the provider sent (`data: <line>` events and a
closing `data: [DONE]`) before framing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from vllora_llm.engine.aggregate import StreamAggregator
from vllora_llm.engine.errors import StreamError
from vllora_llm.engine.gateway import ChatCompletionRequest
from vllora_llm.engine.registry import clear_cache, load_plan
from vllora_llm.runtime.auth import resolve_credentials, scheme_for, select_auth
from vllora_llm.runtime.sse import SSEParser

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT / "tests" / "recordings" / "openai_compatible"
PACK = ("azure-openai", "groq", "mistral", "deepseek", "xai", "together", "fireworks", "openrouter", "ollama", "vllm")


@pytest.fixture(autouse=True)
def _builtin_specs_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLLORA_SPEC_PATH", raising=False)
    for name in ("AZURE_OPENAI_ENDPOINT", *(f"{p.upper().replace('-', '_')}_BASE_URL" for p in PACK)):
        monkeypatch.delenv(name, raising=False)
    clear_cache()


# ---- rendering --------------------------------------------------------------------------------------------

EVERYTHING: dict[str, Any] = {
    "messages": [{"role": "user", "content": "hi"}],
    "max_completion_tokens": 64,
    "seed": 7,
    "logprobs": True,
    "top_logprobs": 2,
    "logit_bias": {"50256": -100},
    "user": "end-user-1",
    "prompt_cache_key": "conversation-1",
    "reasoning_effort": "low",
    "provider_specific": {"top_k": 5},
}


@dataclass(frozen=True)
class Render:
    provider: str
    url: str
    auth_header: str | None  # the header the runtime's auth scheme sets; None: the request carries no key
    sent: dict[str, Any]  # body fields that must be present with exactly these values
    absent: tuple[str, ...]  # body fields that must not be present
    warned: frozenset[str]  # parameters reported back as warnings
    model: str = "some-model"
    stream: bool = False
    request: dict[str, Any] = field(default_factory=lambda: EVERYTHING)
    base_url: str | None = None
    api_key: str | None = "test-key"  # passed to the client (no key in the environment)


RENDERS = [
    Render(
        "azure-openai",
        "https://res.openai.azure.com/openai/deployments/my-gpt-4o/chat/completions?api-version=2024-10-21",
        "api-key",
        {"model": "my-gpt-4o", "max_tokens": 64, "seed": 7, "user": "end-user-1", "top_logprobs": 2},
        ("max_completion_tokens", "reasoning_effort", "prompt_cache_key", "top_k"),
        frozenset({"reasoning_effort", "prompt_cache_key", "provider_specific.top_k"}),
        model="my-gpt-4o",
        base_url="https://res.openai.azure.com/",
    ),
    Render(
        "azure-openai",
        "https://res.openai.azure.com/openai/deployments/o3-mini/chat/completions?api-version=2024-10-21",
        "api-key",
        {"max_tokens": 64, "stream": True, "stream_options": {"include_usage": True}},
        ("max_completion_tokens",),
        frozenset({"reasoning_effort", "prompt_cache_key", "provider_specific.top_k"}),
        model="o3-mini",  # a deployment name: OpenAI's reasoning-model override must not apply
        stream=True,
        base_url="https://res.openai.azure.com",
    ),
    Render(
        "groq",
        "https://api.groq.com/openai/v1/chat/completions",
        "authorization",
        {"max_completion_tokens": 64, "seed": 7, "user": "end-user-1", "reasoning_effort": "low"},
        ("logprobs", "top_logprobs", "logit_bias", "prompt_cache_key", "top_k"),
        frozenset({"logprobs", "top_logprobs", "logit_bias", "prompt_cache_key", "provider_specific.top_k"}),
    ),
    Render(
        "mistral",
        "https://api.mistral.ai/v1/chat/completions",
        "authorization",
        {"max_tokens": 64, "random_seed": 7, "stream": True, "reasoning_effort": "high"},  # Mistral's high | none
        ("seed", "max_completion_tokens", "stream_options", "user", "logit_bias", "logprobs", "top_logprobs"),
        frozenset({"user", "logit_bias", "logprobs", "top_logprobs", "prompt_cache_key", "provider_specific.top_k"}),
        stream=True,  # Mistral rejects stream_options: the stream body must not carry OpenAI's default
    ),
    Render(
        "deepseek",
        "https://api.deepseek.com/chat/completions",
        "authorization",
        {"max_tokens": 64, "logprobs": True, "top_logprobs": 2},
        ("seed", "user", "logit_bias", "reasoning_effort", "max_completion_tokens"),
        frozenset({"seed", "user", "logit_bias", "prompt_cache_key", "reasoning_effort", "provider_specific.top_k"}),
        model="deepseek-chat",
    ),
    Render(
        "deepseek",
        "https://api.deepseek.com/chat/completions",
        "authorization",
        {"max_tokens": 64},
        ("temperature", "logprobs", "top_logprobs"),
        frozenset({"temperature", "logprobs", "top_logprobs"}),
        model="deepseek-reasoner",
        request={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 64, "temperature": 0.2,
                 "logprobs": True, "top_logprobs": 2},
    ),
    Render(
        "xai",
        "https://api.x.ai/v1/chat/completions",
        "authorization",
        {"max_completion_tokens": 64, "seed": 7, "logit_bias": {"50256": -100.0}, "reasoning_effort": "low"},
        ("prompt_cache_key", "top_k"),
        frozenset({"prompt_cache_key", "provider_specific.top_k"}),
        model="grok-3-mini",
    ),
    Render(
        "xai",
        "https://api.x.ai/v1/chat/completions",
        "authorization",
        {"temperature": 0.5},
        ("stop", "presence_penalty", "reasoning_effort"),
        frozenset({"stop", "presence_penalty", "reasoning_effort"}),
        model="grok-4-0709",
        request={"messages": [{"role": "user", "content": "hi"}], "temperature": 0.5, "stop": ["END"],
                 "presence_penalty": 0.5, "reasoning_effort": "high"},
    ),
    Render(
        "xai",
        "https://api.x.ai/v1/chat/completions",
        "authorization",
        {"stop": ["END"], "presence_penalty": 0.5},
        ("reasoning_effort",),
        frozenset({"reasoning_effort"}),
        model="grok-3",
        request={"messages": [{"role": "user", "content": "hi"}], "stop": ["END"], "presence_penalty": 0.5,
                 "reasoning_effort": "high"},
    ),
    Render(
        "together",
        "https://api.together.xyz/v1/chat/completions",
        "authorization",
        {"max_tokens": 64, "logprobs": 2, "top_k": 5, "seed": 7},
        ("top_logprobs", "user", "max_completion_tokens"),
        frozenset({"logprobs", "user", "prompt_cache_key"}),  # logprobs: top_logprobs says how many instead
    ),
    Render(
        "together",
        "https://api.together.xyz/v1/chat/completions",
        "authorization",
        {"logprobs": 1},
        ("top_logprobs",),
        frozenset(),
        model="meta-llama/Llama-3.3-70B-Instruct-Turbo",
        request={"messages": [{"role": "user", "content": "hi"}], "logprobs": True},
    ),
    Render(
        "fireworks",
        "https://api.fireworks.ai/inference/v1/chat/completions",
        "authorization",
        {"max_tokens": 64, "top_k": 5, "user": "end-user-1", "logit_bias": {"50256": -100.0}},
        ("max_completion_tokens", "prompt_cache_key"),
        frozenset({"prompt_cache_key"}),
        model="accounts/fireworks/models/llama-v3p1-8b-instruct",
    ),
    Render(
        "openrouter",
        "https://openrouter.ai/api/v1/chat/completions",
        "authorization",
        {"max_tokens": 64, "top_k": 5, "reasoning": {"effort": "low"}, "seed": 7},
        ("reasoning_effort", "max_completion_tokens", "prompt_cache_key"),
        frozenset({"prompt_cache_key"}),
        model="openai/o3-mini",  # vendor/model names: OpenAI's reasoning override must not apply
    ),
    Render(
        "ollama",
        "http://localhost:11434/v1/chat/completions",
        None,
        {"max_tokens": 64, "seed": 7, "stream_options": {"include_usage": True}},
        ("user", "logit_bias", "max_completion_tokens", "tool_choice"),
        frozenset({"user", "logit_bias", "prompt_cache_key", "provider_specific.top_k"}),
        model="llama3.2",
        stream=True,
        api_key=None,
    ),
    Render(
        "vllm",
        "http://localhost:8000/v1/chat/completions",
        None,
        {"max_completion_tokens": 64, "top_k": 5, "logit_bias": {"50256": -100.0}},
        ("user", "prompt_cache_key"),
        frozenset({"user", "prompt_cache_key"}),
        model="Qwen/Qwen3-8B",
        api_key=None,  # a server started without --api-key
    ),
    Render(
        "vllm",
        "http://localhost:8000/v1/chat/completions",
        "authorization",  # a key given (or VLLM_API_KEY set): bearer, for a server started with --api-key
        {"model": "Qwen/Qwen3-8B"},
        (),
        frozenset(),
        model="Qwen/Qwen3-8B",
        request={"messages": [{"role": "user", "content": "hi"}]},
    ),
]


def _id(row: Render) -> str:
    return f"{row.provider}:{row.model}{':stream' if row.stream else ''}{'' if row.api_key else ':no-key'}"


@pytest.mark.parametrize("row", RENDERS, ids=[_id(r) for r in RENDERS])
def test_render(row: Render) -> None:
    plan = load_plan(row.provider)
    request = ChatCompletionRequest.coerce({"model": row.model, **row.request})
    wire, warnings = plan.encode(request, stream=row.stream, base_url=row.base_url)
    auth = select_auth(plan.auth, row.api_key, environ={})
    credentials = resolve_credentials(auth, row.api_key, environ={})
    signed = scheme_for(auth).apply(wire, auth, credentials)

    assert signed.url == row.url
    assert signed.method == "POST"
    added = {k.lower() for k in signed.headers} - {k.lower() for k in wire.headers}
    assert added == ({row.auth_header} if row.auth_header else set())
    body = json.loads(wire.body)
    assert {k: body.get(k) for k in row.sent} == row.sent
    assert [k for k in row.absent if k in body] == []
    assert {w.param for w in warnings} == row.warned


def test_every_pack_provider_is_rendered() -> None:
    assert {r.provider for r in RENDERS} == set(PACK)


@pytest.mark.parametrize("provider", PACK)
def test_pack_spec_is_short_and_extends_openai(provider: str) -> None:
    path = ROOT / "specs" / "providers" / f"{provider}.yaml"
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 30
    plan = load_plan(provider)
    assert plan.revision >= 1
    assert plan.display_name != provider and plan.api_version
    assert "extends: openai" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("provider", PACK)
def test_pack_spec_reads_its_own_base_url_variable(provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inheriting OPENAI_BASE_URL would send this provider's key to wherever OpenAI's override points."""
    monkeypatch.setenv("OPENAI_BASE_URL", "https://wrong.example/v1")
    plan = load_plan(provider)
    assert "OPENAI_BASE_URL" not in plan.base_url_env
    assert "OPENAI_API_KEY" not in plan.auth.env


def test_azure_without_endpoint_is_a_mapping_error() -> None:
    from vllora_llm.engine.errors import MappingError

    plan = load_plan("azure-openai")
    with pytest.raises(MappingError, match="no base URL"):
        plan.encode(ChatCompletionRequest.coerce({"model": "d", "messages": [{"role": "user", "content": "x"}]}))


def test_azure_endpoint_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://env-res.openai.azure.com/")
    wire, _ = load_plan("azure-openai").encode(
        ChatCompletionRequest.coerce({"model": "d 1", "messages": [{"role": "user", "content": "x"}]})
    )
    assert wire.url == "https://env-res.openai.azure.com/openai/deployments/d%201/chat/completions?api-version=2024-10-21"


# ---- streams ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stream:
    recording: str
    provider: str
    text: str | None = None  # the whole text (or, with text_ends, its ending)
    text_ends: bool = False
    reasoning_starts: str | None = None
    tool_calls: tuple[tuple[str, str | None], ...] = ()  # (name, arguments)
    finish: str | None = None
    error: str | None = None  # a StreamError raised mid-stream: its message must contain this
    error_type: str | None = None


STREAMS = [
    # No pack spec for these two proxies: the generic OpenAI-compatible base decodes them.
    Stream("anthropic_openai_compat_tool_call.sse", "openai", "Reading it.",
           tool_calls=(("read_file", '{"path": "a.txt"}'),), finish="tool_calls"),
    Stream("crusoe_stream_text.sse", "openai", "1, 2, 3, 4, 5", finish="stop"),
    Stream("azure_openai_model_router_content_filter.chunks.jsonl", "azure-openai", "Capital of Denmark.",
           finish="stop"),
    Stream("deepseek_reasoner_reasoning_content.chunks.jsonl", "deepseek",
           'The word "strawberry" contains three "r"s.',
           reasoning_starts='We need to count the number of the letter "r"', finish="stop"),
    Stream("deepseek_tool_call.chunks.jsonl", "deepseek",
           reasoning_starts="The user is asking for the weather in San Francisco.",
           tool_calls=(("weather", '{"location": "San Francisco"}'),), finish="tool_calls"),
    Stream("groq_reasoning.chunks.jsonl", "groq", "**Final Answer**: $\\boxed{3}$", text_ends=True,
           reasoning_starts="Okay, let me try to figure out how many times", finish="stop"),
    Stream("groq_tool_call.chunks.jsonl", "groq", tool_calls=(("weather", "{}"),), finish="tool_calls"),
    Stream("groq_stream_event_error_tool_use_failed.sse", "groq", error="Tool call validation failed",
           error_type="invalid_request_error"),
    Stream("mistral_api_incremental_tool_call.chunks.jsonl", "mistral",
           tool_calls=(("webSearchTool", '{"query": "current Berlin weather"}'),), finish="tool_calls"),
    Stream("openrouter_meta_tool_stream_variant_d_null_args.sse", "openrouter",
           tool_calls=(("llm_version", "{}"),), finish="tool_calls"),
    Stream("openrouter_novita_tool_stream_variant_a.sse", "openrouter", tool_calls=(("llm_version", "{}"),)),
    Stream("openrouter_novita_tool_stream_variant_b.sse", "openrouter", tool_calls=(("llm_version", "{}"),)),
    Stream("openrouter_novita_tool_stream_variant_c.sse", "openrouter", tool_calls=(("llm_version", "{}"),),
           finish="tool_calls"),
    Stream("openrouter_stream_comments_then_midstream_error.sse", "openrouter", error="Token limit reached",
           error_type="400"),
    Stream("openrouter_stream_reasoning.sse", "openrouter", "2 + 2 = 4",
           reasoning_starts="This is a simple arithmetic question.", finish="stop"),
    Stream("xai_grok3_mini_reasoning_tool_call.chunks.jsonl", "xai",
           reasoning_starts="First, the user is asking about the weather in San Francisco.",
           tool_calls=(("weather", '{"location":"San Francisco"}'),), finish="tool_calls"),
    Stream("xai_text.chunks.jsonl", "xai", "Grok", finish="stop",
           reasoning_starts="First, the user said: \"Say a single word.\""),
]


def wire_body(path: Path) -> bytes:
    raw = path.read_bytes()
    if path.name.endswith(".chunks.jsonl"):
        events = [b"data: " + line + b"\n\n" for line in raw.splitlines() if line.strip()]
        return b"".join(events) + b"data: [DONE]\n\n"
    return raw


def decode(provider: str, body: bytes, aggregator: StreamAggregator, piece: int = 0) -> None:
    parser = SSEParser()
    decoder = load_plan(provider).stream_decoder()
    pieces = [body[i : i + piece] for i in range(0, len(body), piece)] if piece else [body]
    for chunk in pieces:
        for event in parser.feed(chunk):
            for out in decoder.feed(event):
                aggregator.add(out)
    for event in parser.close():
        for out in decoder.feed(event):
            aggregator.add(out)
    decoder.close()


@pytest.mark.parametrize("row", STREAMS, ids=[f"{r.provider}:{r.recording}" for r in STREAMS])
@pytest.mark.parametrize("piece", [0, 7], ids=["whole", "7-byte-reads"])
def test_stream(row: Stream, piece: int) -> None:
    aggregator = StreamAggregator()
    body = wire_body(RECORDINGS / row.recording)
    if row.error is not None:
        with pytest.raises(StreamError, match=row.error) as raised:
            decode(row.provider, body, aggregator, piece)
        assert raised.value.error_type == row.error_type
        assert raised.value.provider == row.provider
        return
    decode(row.provider, body, aggregator, piece)
    choice = aggregator.result().choices[0]
    message = choice.message
    text = message.content.as_string() if message.content is not None else None
    if row.text_ends:
        assert text is not None and row.text is not None and text.endswith(row.text)
    else:
        assert text == row.text
    if row.reasoning_starts is None:
        assert message.reasoning is None
    else:
        assert message.reasoning is not None and message.reasoning.startswith(row.reasoning_starts)
    calls = tuple((c.function.name, c.function.arguments) for c in message.tool_calls or ())
    assert calls == row.tool_calls
    assert choice.finish_reason == row.finish


def test_every_recording_is_decoded() -> None:
    on_disk = {p.name for p in RECORDINGS.iterdir() if p.name.endswith((".sse", ".chunks.jsonl"))}
    assert on_disk == {r.recording for r in STREAMS}


@pytest.mark.parametrize(
    ("recording", "provider"),
    [("deepseek_reasoner_reasoning_content.chunks.jsonl", "deepseek"), ("xai_text.chunks.jsonl", "xai")],
)
def test_reasoning_content_is_decoded_as_reasoning(recording: str, provider: str) -> None:
    aggregator = StreamAggregator()
    decode(provider, wire_body(RECORDINGS / recording), aggregator)
    assert aggregator.result().choices[0].message.reasoning


def test_groq_drops_the_message_name_it_rejects() -> None:
    request = ChatCompletionRequest.coerce(
        {"model": "llama-3.3-70b-versatile", "messages": [{"role": "user", "content": "hi", "name": "ann"}]}
    )
    wire, _ = load_plan("groq").encode(request)
    assert json.loads(wire.body)["messages"] == [{"role": "user", "content": "hi"}]
    wire, _ = load_plan("openai").encode(request)
    assert json.loads(wire.body)["messages"] == [{"role": "user", "content": "hi", "name": "ann"}]


@pytest.mark.parametrize("provider", ["groq", "xai", "openrouter"])
def test_reasoning_in_the_history_goes_back_as_each_provider_takes_it(provider: str) -> None:
    """Groq answers 400 to reasoning fields on assistant turns and xAI reads none: both get the text only;
    OpenRouter asks for `reasoning_details` back exactly as received (its "preserving reasoning blocks")."""
    details = [{"type": "reasoning.text", "text": "t", "signature": "s", "format": "f", "index": 0}]
    request = ChatCompletionRequest.coerce({"model": "m", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "yo", "reasoning": "t", "reasoning_details": details},
        {"role": "user", "content": "again"}]})
    wire, _ = load_plan(provider).encode(request)
    assistant = json.loads(wire.body)["messages"][1]
    expected = {"role": "assistant", "content": "yo"}
    assert assistant == ({**expected, "reasoning_details": details} if provider == "openrouter" else expected)
