"""Gemini prompt caching end to end: the real client, over HTTP on 127.0.0.1, against the local server's
cachedContents (which google-genai, the oracle for the wire shapes, also talks to).

A `cache_control` mark makes the prefix (system instruction, tools, the turns up to the mark) one cache,
created once and reused; an expired or deleted cache is recreated once; a prefix below the minimum is sent
uncached with a warning; `usage.prompt_tokens_details.cached_tokens` reports the cached tokens;
`client.caches()` lists and deletes this library's caches.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from vllora_llm.client import SyncVlloraLLMClient, VlloraLLMClient
from vllora_llm.engine.errors import InvalidRequestError, MappingError, PermissionDeniedError
from vllora_llm.engine.registry import load_plan
from vllora_llm.runtime.response_store import InMemoryStore
from vllora_llm.testing import Fault, LocalProviderServer

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings" / "gemini"
KEY = "AIza-test-key-0123"
MODEL = "gemini-2.5-flash"
DOC = "The lighthouse keeper counted ships every evening. " * 200  # 1,600 words: above the minimum (1,024)
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def conversation(question: str, *, doc: str = DOC, ttl: str | None = None) -> dict[str, Any]:
    mark: dict[str, Any] = {"type": "ephemeral"} if ttl is None else {"type": "ephemeral", "ttl": ttl}
    return {"model": MODEL, "tools": [WEATHER], "messages": [
        {"role": "system", "content": "Answer from the document."},
        {"role": "user", "content": [{"type": "text", "text": doc, "cache_control": mark}]},
        {"role": "assistant", "content": "I have read it."},
        {"role": "user", "content": question},
    ]}


@pytest.fixture
async def client(server: LocalProviderServer) -> AsyncIterator[VlloraLLMClient]:
    async with VlloraLLMClient.from_provider("gemini", api_key=KEY, base_url=server.base_url_for("gemini"),
                                             timeout=10, max_retries=0) as c:
        yield c


@pytest.fixture
async def oracle(server: LocalProviderServer) -> AsyncIterator[genai.client.AsyncClient]:
    """google-genai's async client on the same server: the oracle for the cachedContents wire shapes."""
    sdk = genai.Client(api_key=KEY, http_options=genai_types.HttpOptions(base_url=server.url, api_version="v1beta"))
    yield sdk.aio
    await sdk.aio.aclose()


def generate_calls(server: LocalProviderServer) -> list[dict[str, Any]]:
    return [r.json for r in server.requests if r.path.endswith(":generateContent")]


async def test_the_same_prefix_is_cached_once_and_reused(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    first = await client.completions().create(conversation("Who counted?", ttl="10m"))
    more = await asyncio.gather(*(client.completions().create(conversation(f"Question {i}?")) for i in range(4)))
    assert len(server.gemini_caches.creates) == 1  # five requests, one prefix: one cache
    created = server.gemini_caches.creates[0]
    assert created["model"] == "models/gemini-2.5-flash"
    assert created["ttl"] == "600s"
    assert created["systemInstruction"] == {"parts": [{"text": "Answer from the document."}]}
    assert created["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    assert created["contents"] == [{"role": "user", "parts": [{"text": DOC}]}]
    assert created["displayName"].startswith("vllora-llm:")
    (name,) = server.gemini_caches.caches
    for body in generate_calls(server):  # only what follows the prefix, and the cache's name
        assert body["cachedContent"] == name
        assert "systemInstruction" not in body and "tools" not in body and "toolConfig" not in body
        assert [c["role"] for c in body["contents"]] == ["model", "user"]
    assert first.text().endswith("You said: Who counted?")
    assert [r.text().rsplit(": ", 1)[1] for r in more] == [f"Question {i}?" for i in range(4)]
    assert client.caches().created == 1
    assert first.warnings == []


async def test_cached_tokens_are_reported_plain_and_streamed(client: VlloraLLMClient,
                                                             server: LocalProviderServer) -> None:
    response = await client.completions().create(conversation("Plain?"))
    assert response.usage is not None and response.usage.prompt_tokens_details is not None
    (cache,) = server.gemini_caches.caches.values()
    assert response.usage.prompt_tokens_details.cached_tokens == cache.tokens > 1024
    assert response.usage.prompt_tokens > cache.tokens  # the prompt includes the cached tokens
    async with asyncio.timeout(10), client.completions().create_stream(conversation("Streamed?")) as stream:
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text.endswith("You said: Streamed?")
    usage = stream.aggregate().usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == cache.tokens
    assert len(server.gemini_caches.creates) == 1
    streamed = [r.json for r in server.requests if r.path.endswith(":streamGenerateContent")]
    assert streamed[0]["cachedContent"] == cache.name


async def test_an_expired_cache_is_recreated_once(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    await client.completions().create(conversation("Before?"))
    server.gemini_caches.expire()  # the provider's clock passed the ttl: generateContent answers 403
    after = await client.completions().create(conversation("After?"))
    assert after.text().endswith("You said: After?")
    assert len(server.gemini_caches.creates) == 2
    paths = [r.path.rsplit("/", 1)[-1] for r in server.requests]
    assert paths == ["cachedContents", "gemini-2.5-flash:generateContent",
                     "gemini-2.5-flash:generateContent", "cachedContents", "gemini-2.5-flash:generateContent"]
    first_try, retry = generate_calls(server)[1:]
    assert first_try["cachedContent"] != retry["cachedContent"]
    async with asyncio.timeout(10), client.completions().create_stream(conversation("Streamed?")) as stream:
        async for _ in stream:
            pass
    assert len(server.gemini_caches.creates) == 2  # the new cache is reused


async def test_a_stream_recreates_a_gone_cache(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    await client.completions().create(conversation("One?"))
    server.gemini_caches.expire()
    async with asyncio.timeout(10), client.completions().create_stream(conversation("Two?")) as stream:
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text.endswith("You said: Two?") and stream.warnings == []
    assert len(server.gemini_caches.creates) == 2
    streamed = [r.json["cachedContent"] for r in server.requests if r.path.endswith(":streamGenerateContent")]
    assert len(streamed) == 2 and streamed[1] in server.gemini_caches.caches and streamed[0] != streamed[1]


async def test_concurrent_requests_with_a_new_prefix_create_it_once(client: VlloraLLMClient,
                                                                   server: LocalProviderServer) -> None:
    answers = await asyncio.gather(*(client.completions().create(conversation(f"Q{i}?")) for i in range(3)))
    assert len(server.gemini_caches.creates) == 1 and all(not a.warnings for a in answers)


async def test_the_registry_honours_expiry(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    await client.completions().create(conversation("Now?", ttl="5m"))
    await client.completions().create(conversation("Soon?", ttl="5m"))
    assert len(server.gemini_caches.creates) == 1
    later = time.time() + 300
    caching = client.instance.prompt_cache  # type: ignore[attr-defined]
    caching.clock = lambda: later  # the registry's clock: the server still holds the cache
    server.reset()
    await client.completions().create(conversation("Later?", ttl="5m"))  # expired here: no failed call first
    assert [r.path for r in server.requests] == ["/v1beta/cachedContents",
                                                 "/v1beta/models/gemini-2.5-flash:generateContent"]


async def test_a_short_ttl_is_still_reused(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    for question in ("A?", "B?", "C?"):
        await client.completions().create(conversation(question, ttl="20s"))
    assert len(server.gemini_caches.creates) == 1 and server.gemini_caches.creates[0]["ttl"] == "20s"


async def test_a_bad_ttl_is_refused_before_any_call(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    with pytest.raises(InvalidRequestError, match=r"messages\[1\]\.content\[0\]\.cache_control\.ttl: 'soon'"):
        await client.completions().create(conversation("Q?", ttl="soon"))
    assert server.requests == []


async def test_a_cache_deleted_elsewhere_is_recreated(
    client: VlloraLLMClient, server: LocalProviderServer, oracle: genai.client.AsyncClient
) -> None:
    await client.completions().create(conversation("One?"))
    (name,) = server.gemini_caches.caches
    await oracle.caches.delete(name=name)  # deleted behind the library's back
    again = await client.completions().create(conversation("Two?"))
    assert again.text().endswith("You said: Two?")
    assert len(server.gemini_caches.creates) == 2 and name not in server.gemini_caches.caches


async def test_a_cache_gone_twice_raises(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    await client.completions().create(conversation("One?"))
    gone = {"error": {"code": 403, "message": "CachedContent not found (or permission denied)",
                      "status": "PERMISSION_DENIED"}}
    server.faults.push(Fault(status=403, body=gone), Fault(), Fault(status=403, body=gone))
    with pytest.raises(PermissionDeniedError, match="CachedContent not found"):
        await client.completions().create(conversation("Two?"))
    assert len(server.gemini_caches.creates) == 2  # recreated once, not again


async def test_below_the_minimum_is_sent_uncached_with_a_warning(client: VlloraLLMClient,
                                                                 server: LocalProviderServer) -> None:
    small = await client.completions().create(conversation("Small?", doc="A short note."))
    assert [w.code for w in small.warnings] == ["prompt_cache_too_small"]
    assert "minimum cache size (1024 tokens)" in small.warnings[0].message
    assert server.gemini_caches.creates == [] and all("cachedContent" not in b for b in generate_calls(server))
    assert generate_calls(server)[0]["systemInstruction"] == {"parts": [{"text": "Answer from the document."}]}
    # Estimated large enough (long words), refused by the API's own count (900 words): its 400, remembered.
    wordy = "incomprehensibilities " * 900
    refused = await client.completions().create(conversation("Wordy?", doc=wordy))
    assert [w.code for w in refused.warnings] == ["prompt_cache_too_small"]
    assert "Cached content is too small. total_token_count=" in refused.warnings[0].message
    assert refused.text().endswith("You said: Wordy?")
    creates = [r for r in server.requests if r.path == "/v1beta/cachedContents"]
    again = await client.completions().create(conversation("Wordy again?", doc=wordy))
    assert [w.code for w in again.warnings] == ["prompt_cache_too_small"]
    assert [r for r in server.requests if r.path == "/v1beta/cachedContents"] == creates  # not asked again


async def test_a_model_that_takes_no_cache_is_sent_uncached(client: VlloraLLMClient,
                                                            server: LocalProviderServer) -> None:
    refusal = {"error": {"code": 400, "message": "CachedContent is not supported by this model.",
                         "status": "INVALID_ARGUMENT"}}
    server.faults.push(Fault(status=400, body=refusal))  # the create call
    response = await client.completions().create(conversation("Plain?"))
    assert [w.code for w in response.warnings] == ["prompt_cache_refused"]
    assert "CachedContent is not supported by this model." in response.warnings[0].message
    assert response.text().endswith("You said: Plain?")
    assert "cachedContent" not in generate_calls(server)[0] and server.gemini_caches.creates == []


async def test_a_cache_named_by_the_caller_wins_over_marks(client: VlloraLLMClient,
                                                           server: LocalProviderServer) -> None:
    own = await client.completions().create(conversation("First?"))
    assert own.warnings == []
    (name,) = server.gemini_caches.caches
    request = {"model": MODEL, "provider_specific": {"cached_content": name}, "messages": [
        {"role": "user", "content": "Marked again", "cache_control": {"type": "ephemeral"}},
        {"role": "user", "content": "Next?"}]}
    response = await client.completions().create(request)
    assert [w.code for w in response.warnings] == ["prompt_cache_ignored"]
    assert generate_calls(server)[-1]["cachedContent"] == name and len(server.gemini_caches.creates) == 1


async def test_a_mark_on_the_message_and_on_the_last_turn(client: VlloraLLMClient, server: LocalProviderServer) -> None:
    request = {"model": MODEL, "messages": [
        {"role": "system", "content": DOC, "cache_control": {"type": "ephemeral"}},  # on the message itself
        {"role": "user", "content": "Hi", "cache_control": {"type": "ephemeral", "ttl": "1h"}},  # the last turn
    ]}
    response = await client.completions().create(request)
    assert response.text().endswith("You said: Hi") and response.warnings == []
    (created,) = server.gemini_caches.creates
    assert created["ttl"] == "3600s" and "contents" not in created  # the last turn is sent, not cached
    assert created["systemInstruction"] == {"parts": [{"text": DOC}]}
    assert generate_calls(server)[0]["contents"] == [{"role": "user", "parts": [{"text": "Hi"}]}]


async def test_tool_results_after_the_prefix_keep_their_calls(client: VlloraLLMClient,
                                                              server: LocalProviderServer) -> None:
    request = conversation("What is the weather? Use get_weather for \"Paris\"")
    first = await client.completions().create(request)
    (call,) = first.message().tool_calls or []
    follow = {**request, "messages": [*request["messages"], first.message().to_dict(),
                                      {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]}
    answer = await client.completions().create(follow)
    assert answer.text().endswith("The tool returned: {\"output\":\"sunny\"}")
    assert len(server.gemini_caches.creates) == 1
    last = generate_calls(server)[-1]
    assert last["contents"][-1]["parts"][0]["functionResponse"]["name"] == "get_weather"


async def test_caches_lists_and_deletes_this_librarys_caches(
    client: VlloraLLMClient, server: LocalProviderServer, oracle: genai.client.AsyncClient
) -> None:
    await client.completions().create(conversation("Mine?"))
    other = await oracle.caches.create(model=MODEL, config=genai_types.CreateCachedContentConfig(
        contents=[DOC], display_name="someone else", ttl="300s"))
    mine = await client.caches().list()
    assert [c.display_name[:11] for c in mine if c.display_name] == ["vllora-llm:"]
    assert mine[0].model == "models/gemini-2.5-flash" and mine[0].tokens and mine[0].expire_time
    assert {c.name for c in await client.caches().list(everything=True)} == {mine[0].name, other.name}
    assert (await client.caches().get(mine[0].name)).name == mine[0].name
    await client.caches().delete(mine[0].name)
    assert await client.caches().list() == []
    with pytest.raises(genai_errors.ClientError, match=r"404"):
        await oracle.caches.get(name=mine[0].name)
    server.reset()
    await client.completions().create(conversation("Again?"))  # forgotten: recreated without a failed call
    assert [r.path for r in server.requests] == ["/v1beta/cachedContents",
                                                 "/v1beta/models/gemini-2.5-flash:generateContent"]
    assert await client.caches().delete_all() == 1


async def test_the_store_is_pluggable_and_shared_with_responses(server: LocalProviderServer) -> None:
    store = InMemoryStore()
    async with VlloraLLMClient.from_provider("gemini", api_key=KEY, base_url=server.base_url_for("gemini"),
                                             cache_store=store, response_store=store) as client:
        await client.completions().create(conversation("Stored?"))
        response = await client.responses().create({"model": MODEL, "input": "Hi"})
    (name,) = server.gemini_caches.caches
    entries = [await store.get(k) for k in list(store._entries)]
    assert {"name": name, "expires_at": entries[0]["expires_at"]} == entries[0]
    assert await store.get(response.id) is not None
    async with VlloraLLMClient.from_provider("gemini", api_key=KEY, base_url=server.base_url_for("gemini"),
                                             cache_store=store) as second:
        await second.completions().create(conversation("Shared?"))  # another client, the same registry
    assert len(server.gemini_caches.creates) == 1


def test_the_sync_facade_lists_and_deletes(threaded_server: LocalProviderServer) -> None:
    with SyncVlloraLLMClient.from_provider("gemini", api_key=KEY, base_url=threaded_server.base_url_for("gemini"),
                                           timeout=10) as client:
        client.create(conversation("Sync?"))
        (cache,) = client.caches().list()
        client.caches().delete(cache.name)
        assert client.caches().list() == []


async def test_providers_without_the_operation_say_so(server: LocalProviderServer) -> None:
    async with VlloraLLMClient.from_provider("anthropic", api_key=KEY, base_url=server.base_url_for("anthropic")) as c:
        with pytest.raises(MappingError, match="anthropic has no prompt_cache operation"):
            c.caches()


async def test_the_recorded_create_is_accepted_and_its_answer_decoded(
    server: LocalProviderServer, oracle: genai.client.AsyncClient
) -> None:
    recorded = json.loads((RECORDINGS / "cached_contents_create_response.request.json").read_text())
    created = await oracle.caches.create(model="gemini-2.5-flash", config=genai_types.CreateCachedContentConfig(
        contents=recorded["contents"], system_instruction=recorded["systemInstruction"], ttl=recorded["ttl"]))
    assert created.usage_metadata is not None and created.usage_metadata.total_token_count
    sent = server.last_request.json
    assert set(sent) == set(recorded)  # the SDK's create body has the recording's keys
    answer = await oracle.models.generate_content(
        model=MODEL, contents="Where is the tower?",
        config=genai_types.GenerateContentConfig(cached_content=created.name))
    assert answer.usage_metadata is not None
    assert answer.usage_metadata.cached_content_token_count == created.usage_metadata.total_token_count
    from vllora_llm.engine.prompt_cache import compile_prompt_cache

    plan = compile_prompt_cache(load_plan("gemini").spec, "gemini")
    assert plan is not None
    body = (RECORDINGS / "cached_contents_create_response.json").read_bytes()
    resource = plan.decode_resource(200, {}, body)
    assert (resource.name, resource.tokens, resource.expire_time) == (
        "cachedContents/7lf5him5ev4iemi1yjv2gwli5bhpz3yidzejwllo", 3512, "2026-05-28T14:47:16.701652823Z")
