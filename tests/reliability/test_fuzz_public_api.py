"""Fuzzing the public API with hostile caller input: every call either reaches the server (exactly one request
arrives, whatever the answer) or fails with a typed `LLMError` before any I/O (the server sees nothing).
Never a raw exception (UnicodeEncodeError, RecursionError, aiohttp's ValueError), never a connection opened
for a request that could not be sent. Inputs mix what issue 16 found: surrogates, deep JSON, CR/LF in
headers and keys, odd base URLs and model ids, over the four wire formats."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.errors import ConnectionError, InvalidRequestError, LLMError
from vllora_llm.testing import LocalProviderServer

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

HOSTILE_TEXT = st.text(alphabet=st.characters(codec=None, categories=None), max_size=8) | st.sampled_from(
    ["\ud800", "a\udfffb", "\r\n", "\x00", "..", ".", "", "a/b", "%2e%2e", "é"])
MODELS = st.sampled_from(["gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.0-flash",
                          "anthropic.claude-3-5-sonnet-20240620-v1:0", ".", "..", "", "a/../b", "x\ud800"])


def deep(levels: int) -> Any:
    value: Any = "leaf"
    for i in range(levels):
        value = {"k": value} if i % 2 else [value]
    return value


EXTRA = st.none() | st.builds(lambda n: {"x": deep(n)}, st.sampled_from([1, 5, 99, 101, 3000]))
HEADERS = st.none() | st.dictionaries(st.sampled_from(["x-trace", "x-api-key", "X-Bad Name", "x-t"]),
                                      HOSTILE_TEXT, max_size=2)
BASE_PATHS = st.sampled_from(["", "/v 1", "\t", "user:pass-word-1@", "ftp", "nohost"])
KEYS = st.sampled_from(["sk-fuzz-key-0001", "x", "sk-abc\r\ndef-0001", "k\ud800k-long-key"])
PROVIDERS = st.sampled_from(["openai", "anthropic", "gemini", "bedrock"])


def base_url(server: LocalProviderServer, provider: str, variant: str) -> str:
    real = server.base_url_for(provider)
    if variant == "ftp":
        return real.replace("http://", "ftp://")
    if variant == "nohost":
        return "http:///v1"
    if variant.endswith("@"):
        return real.replace("http://", f"http://{variant}")
    return real + variant


REQUESTS = st.fixed_dictionaries(
    {"model": MODELS, "messages": st.lists(st.fixed_dictionaries({"role": st.just("user"), "content": HOSTILE_TEXT}),
                                          min_size=1, max_size=2)},
    optional={"extra_body": EXTRA, "logit_bias": st.dictionaries(HOSTILE_TEXT, st.just(1.0), max_size=2),
              "user": HOSTILE_TEXT, "stop": HOSTILE_TEXT},
)


async def call(server: LocalProviderServer, provider: str, variant: str, key: str, headers: Any,
               request: dict[str, Any], stream: bool) -> None:
    before = len(server.requests)
    options: dict[str, Any] = {"region": "us-east-1"} if provider == "bedrock" else {}
    try:
        async with VlloraLLMClient.from_provider(provider, api_key=key, base_url=base_url(server, provider, variant),
                                                 headers=headers, max_retries=0, **options) as client:
            if stream:
                async for _ in client.completions().create_stream(request):
                    pass
            else:
                await client.completions().create(request)
    except LLMError as err:
        assert not isinstance(err, ConnectionError), repr(err)  # every URL that passes the checks is the server's
        sent = len(server.requests) - before
        if isinstance(err, InvalidRequestError) and err.status is None:
            assert sent == 0, (repr(err), sent)  # refused locally: before any I/O
        else:
            assert sent == 1, (repr(err), sent)  # the server answered with an error
        assert "sk-fuzz-key-0001" not in str(err)
        return
    assert len(server.requests) - before == 1


@SETTINGS
@given(provider=PROVIDERS, variant=BASE_PATHS, key=KEYS, headers=HEADERS, request=REQUESTS, stream=st.booleans())
def test_fuzzed_calls_are_sent_or_refused_before_io(
    threaded_server: LocalProviderServer, provider: str, variant: str, key: str, headers: Any,
    request: dict[str, Any], stream: bool,
) -> None:
    asyncio.run(call(threaded_server, provider, variant, key, headers, request, stream))
