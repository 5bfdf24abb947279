"""Routing through `VlloraLLMClient.from_config`: gateway-style models.yaml, fallbacks, cost, provider/model ids."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.gateway import PromptTokensDetails, Usage
from vllora_llm.engine.routing import Price, cost_of, load_routing
from vllora_llm.error import InvalidRequestError, SpecError, StreamError
from vllora_llm.testing import Fault, LocalProviderServer

DATA = Path(__file__).resolve().parents[1] / "data" / "models.yaml"
REQUEST = {"model": "primary", "messages": [{"role": "user", "content": "route me"}]}


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTE_PRIMARY_KEY", "sk-primary")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-default")


def test_the_gateway_file_reads_as_it_is() -> None:
    config = load_routing(str(DATA))
    assert list(config.entries) == ["primary", "backup"]
    primary = config.entries["primary"]
    assert primary.inference_provider.model_name == "gpt-4.1-mini"
    assert primary.price == Price(per_input_token=0.4, per_output_token=1.6, per_cached_input_token=0.1)
    assert [e.model for e in config.chain("primary")] == ["primary", "backup"]


async def test_a_route_answers_with_its_key_and_its_price(routes_file: Callable[..., Path], keys: None) -> None:
    async with LocalProviderServer() as server:
        async with VlloraLLMClient.from_config(routes_file(server)) as client:
            response = await client.completions().create(REQUEST)
        sent = server.last_request
    assert sent.json["model"] == "gpt-4.1-mini"
    assert sent.headers["authorization"] == "Bearer sk-primary"
    assert response.provider == "openai" and response.model == "gpt-4.1-mini"
    usage = response.usage
    assert usage is not None and usage.prompt_tokens > 0
    expected = (usage.prompt_tokens * 0.4 + usage.completion_tokens * 1.6) / 1_000_000
    assert usage.cost == pytest.approx(expected)


async def test_a_503_moves_to_the_fallback_which_gets_its_defaults(
    routes_file: Callable[..., Path], keys: None
) -> None:
    async with LocalProviderServer() as server:
        server.faults.push(Fault(status=503, times=1))
        async with VlloraLLMClient.from_config(routes_file(server), max_retries=0) as client:
            response = await client.completions().create(REQUEST)
        models = [r.json["model"] for r in server.requests]
        fallback_body = server.last_request.json
    assert models == ["gpt-4.1-mini", "gpt-4.1-nano"]
    assert response.model == "gpt-4.1-nano"
    assert fallback_body["temperature"] == 0.25  # the backup entry's default parameter
    assert response.usage is not None
    assert response.usage.cost == pytest.approx(
        (response.usage.prompt_tokens * 0.1 + response.usage.completion_tokens * 0.4) / 1_000_000
    )


async def test_a_non_retryable_error_does_not_fall_back_unless_named(
    routes_file: Callable[..., Path], keys: None
) -> None:
    async with LocalProviderServer() as server:
        server.faults.push(Fault(status=400, times=1))
        async with VlloraLLMClient.from_config(routes_file(server), max_retries=0) as client:
            with pytest.raises(InvalidRequestError):
                await client.completions().create(REQUEST)
        assert len(server.requests) == 1
        server.reset()
        server.faults.push(Fault(status=400, times=1))
        named = routes_file(server, primary={"fallback_on": ["InvalidRequestError"]})
        async with VlloraLLMClient.from_config(named, max_retries=0) as client:
            response = await client.completions().create(REQUEST)
    assert response.model == "gpt-4.1-nano"


async def test_streams_fall_back_before_the_first_chunk_and_price_the_usage_chunk(
    routes_file: Callable[..., Path], keys: None
) -> None:
    async with LocalProviderServer() as server:
        server.faults.push(Fault(status=503, times=1))
        async with VlloraLLMClient.from_config(routes_file(server), max_retries=0) as client:
            stream = client.completions().create_stream(REQUEST)
            chunks = [chunk async for chunk in stream]
    usage = next(c.usage for c in chunks if c.usage is not None)
    assert usage.cost == pytest.approx((usage.prompt_tokens * 0.1 + usage.completion_tokens * 0.4) / 1_000_000)
    assert "nano" in (stream.aggregate().model or "")


async def test_no_fallback_once_a_chunk_reached_the_caller(routes_file: Callable[..., Path], keys: None) -> None:
    async with LocalProviderServer() as server:
        server.faults.push(Fault(cut_after_chunks=2, times=1))
        async with VlloraLLMClient.from_config(routes_file(server), max_retries=0) as client:
            with pytest.raises(StreamError):
                async for _ in client.completions().create_stream(REQUEST):
                    pass
        assert len(server.requests) == 1


async def test_provider_model_ids_need_no_config(monkeypatch: pytest.MonkeyPatch) -> None:
    async with LocalProviderServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
        async with VlloraLLMClient.from_config() as client:
            response = await client.completions().create(
                {"model": "openai/gpt-4.1", "messages": [{"role": "user", "content": "hi"}]}
            )
            with pytest.raises(SpecError, match=r"no route for model 'gpt-4\.1'"):
                await client.completions().create({"model": "gpt-4.1", "messages": [{"role": "user", "content": "x"}]})
        assert server.last_request.json["model"] == "gpt-4.1"
    assert response.provider == "openai"


def test_cost_prices_cached_and_written_tokens_on_their_own() -> None:
    usage = Usage(
        prompt_tokens=1000,
        completion_tokens=100,
        total_tokens=1100,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=600, cache_creation_tokens=100),
    )
    price = Price(
        per_input_token=3.0, per_output_token=15.0, per_cached_input_token=0.3, per_cached_input_write_token=3.75
    )
    assert cost_of(usage, price) == pytest.approx((300 * 3.0 + 600 * 0.3 + 100 * 3.75 + 100 * 15.0) / 1e6)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "- model: a\n  inference_provider: {provider: openai}\n",
            "models.yaml:2:3 [ERROR] SPEC011 [0].inference_provider: missing required key 'model_name'",
        ),
        (
            "- model: a\n  inference_provider: {provider: openai, model_name: m}\n  colour: red\n",
            "models.yaml:3:3 [ERROR] SPEC010 [0].colour: unknown key 'colour'",
        ),
        (
            "- model: a\n  inference_provider: {provider: openai, model_name: m}\n  fallbacks: [zz]\n",
            "models.yaml:3:15 [ERROR] SPEC042 [0].fallbacks[0]: fallback 'zz' is not a model in this file",
        ),
        (
            "- model: a\n  inference_provider: {provider: openai, model_name: m}\n"
            "- model: a\n  inference_provider: {provider: openai, model_name: n}\n",
            "models.yaml:3:10 [ERROR] SPEC041 [1].model: model 'a' is listed twice",
        ),
    ],
)
def test_bad_routing_files_say_what_and_where(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as caught:
        load_routing(str(path), "models.yaml")
    assert expected in str(caught.value)


def test_every_problem_of_a_routing_file_is_reported_in_one_run(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(
        "- model: primary\n"
        "  inference_provider: {provider: openai, model_name: gpt-4.1-mini}\n"
        "  price: {per_input_token: 0.4, per_output_tokens: 1.6}\n"
        "  fallbacks: [backup, spare]\n"
        "- model: backup\n"
        "  inference_provider: {provider: antropic, model_name: claude-sonnet-4-5}\n"
    )
    with pytest.raises(SpecError) as caught:
        VlloraLLMClient.from_config(path)
    text = str(caught.value)
    assert "3 error(s)" in text
    assert f"{path}:3:33 [ERROR] SPEC010 [0].price.per_output_tokens: unknown key 'per_output_tokens'" in text
    assert f"{path}:4:23 [ERROR] SPEC042 [0].fallbacks[1]: fallback 'spare' is not a model in this file" in text
    assert (f"{path}:6:34 [ERROR] SPEC043 [1].inference_provider.provider: no provider spec named 'antropic' "
            "(hint: did you mean 'anthropic'?)") in text


def test_a_route_may_name_a_spec_of_the_search_path(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "boxed.yaml").write_text(
        "apiVersion: vllora.dev/v1\nkind: ProviderSpec\nmetadata: {name: boxed, revision: 1}\nextends: openai\n"
        "endpoint: {base_url_env: BOXED_BASE_URL}\nauth: {scheme: bearer, env: BOXED_API_KEY}\n"
    )
    path = tmp_path / "models.yaml"
    path.write_text("- model: local\n  inference_provider: {provider: boxed, model_name: llama}\n")
    with pytest.raises(SpecError, match=r"SPEC043 .*no provider spec named 'boxed'"):
        load_routing(str(path))
    config = load_routing(str(path), spec_path=[tmp_path / "specs"])
    assert config.entries["local"].inference_provider.provider == "boxed"


async def test_a_misspelt_provider_in_a_model_id_gets_a_suggestion() -> None:
    async with VlloraLLMClient.from_config() as client:
        with pytest.raises(SpecError, match=r"no provider spec named 'antropic'; did you mean 'anthropic'\?"):
            await client.completions().create({"model": "antropic/claude-x", "messages": [{"role": "user",
                                                                                          "content": "hi"}]})
