"""A status that suggests a wrong URL (404, 405) names the call — method and full URL, keys redacted — and
the provider's base-URL convention, which is data in its spec (`endpoint.base_url_hint`).

The classic mistake: OpenAI's base URL without `/v1` (`http://host` instead of `http://host/v1`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.registry import builtin_dir, load_plan
from vllora_llm.error import InvalidRequestError, NotFoundError, ProviderError
from vllora_llm.testing import LocalProviderServer

REQUEST = {"model": "m-1", "messages": [{"role": "user", "content": "hi"}]}
OPENAI_HINT = "hint: the base URL includes the API version (…/v1)"


async def test_openai_without_v1_names_the_url_and_the_convention() -> None:
    async with LocalProviderServer() as server, VlloraLLMClient.from_provider(
        "openai", api_key="sk-wrong-url-0123456789", base_url=server.url, max_retries=0
    ) as client:
        with pytest.raises(NotFoundError) as whole:
            await client.completions().create(REQUEST)
        with pytest.raises(NotFoundError) as streamed:
            await client.completions().create_stream(REQUEST)
    for caught in (whole, streamed):
        text = str(caught.value)
        assert text.startswith("openai 404: ")
        assert f"(POST {server.url}/chat/completions; {OPENAI_HINT}" in text
        assert text.endswith("; the default base URL is https://api.openai.com/v1)")
        assert "sk-wrong-url" not in text


async def test_anthropic_with_v1_names_the_doubled_path() -> None:
    async with LocalProviderServer() as server, VlloraLLMClient.from_provider(
        "anthropic", api_key="sk-ant-0123456789", base_url=server.url + "/v1", max_retries=0
    ) as client:
        with pytest.raises(NotFoundError) as caught:
            await client.completions().create(REQUEST)
    text = str(caught.value)
    assert f"(POST {server.url}/v1/v1/messages; hint: the base URL is the bare origin" in text
    assert "the default base URL is https://api.anthropic.com" in text


QUERY_KEY = "qk-0123456789-secret"


@pytest.fixture
async def not_found_server() -> AsyncIterator[TestServer]:
    async def not_here(request: web.Request) -> web.Response:
        status = 405 if request.path.startswith("/method/") else 404
        return web.json_response({"error": {"message": f"no route {request.path_qs}", "type": "not_found"}},
                                 status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", not_here)
    async with TestServer(app, host="127.0.0.1") as server:
        yield server


@pytest.fixture
def query_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "querykey.yaml").write_text(
        "apiVersion: vllora.dev/v1\nkind: ProviderSpec\nmetadata: {name: querykey, revision: 1}\nextends: openai\n"
        "endpoint:\n  base_url_env: QUERYKEY_BASE_URL\n"
        "  base_url_hint: 'the base URL ends in /api (https://querykey.example/api)'\n"
        "auth: {scheme: query, name: key, env: QUERYKEY_API_KEY}\n"
    )
    monkeypatch.setenv("VLLORA_SPEC_PATH", str(tmp_path))
    return "querykey"


async def test_a_key_in_the_query_is_redacted_from_the_url(
    not_found_server: TestServer, query_spec: str
) -> None:
    base = str(not_found_server.make_url("/wrong"))
    async with VlloraLLMClient.from_provider(query_spec, api_key=QUERY_KEY, base_url=base, max_retries=0) as client:
        with pytest.raises(NotFoundError) as caught:
            await client.completions().create(REQUEST)
    text = str(caught.value)
    assert f"(POST {base}/chat/completions?key=[REDACTED]; hint: the base URL ends in /api " in text
    assert QUERY_KEY not in text + repr(caught.value) + str(caught.value.body)
    assert caught.value.body == {"error": {"message": "no route /wrong/chat/completions?key=[REDACTED]",
                                           "type": "not_found"}}


async def test_a_405_names_the_url_too(not_found_server: TestServer) -> None:
    base = str(not_found_server.make_url("/method"))
    async with VlloraLLMClient.from_provider("openai", api_key="sk-405-0123456789", base_url=base,
                                             max_retries=0) as client:
        with pytest.raises(InvalidRequestError) as caught:
            await client.completions().create(REQUEST)
    assert caught.value.status == 405
    assert f"(POST {base}/chat/completions; {OPENAI_HINT}" in str(caught.value)


async def test_a_400_is_not_about_the_url() -> None:
    from vllora_llm.testing import Fault

    async with LocalProviderServer() as server, VlloraLLMClient.from_provider(
        "openai", api_key="sk-400-0123456789", base_url=server.openai_base_url, max_retries=0
    ) as client:
        server.faults.push(Fault(status=400, times=1))
        with pytest.raises(ProviderError) as caught:
            await client.completions().create(REQUEST)
    assert caught.value.status == 400 and "(POST " not in str(caught.value)


SHIPPED = sorted(p.stem for p in builtin_dir().glob("*.yaml") if not p.stem.endswith(".tests"))


@pytest.mark.parametrize("provider", SHIPPED)
def test_every_shipped_spec_states_its_base_url_convention(provider: str) -> None:
    hint = load_plan(provider).base_url_hint
    assert hint and hint.startswith("the base URL ")
