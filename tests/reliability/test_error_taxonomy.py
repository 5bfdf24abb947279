"""The error taxonomy (DESIGN §6) as a table: status and body → exactly one class, and what the error says.

Each HTTP row is answered by the local provider server and raised through the public API (no retries, so
the first answer is the one classified). Every error must name the provider, the status, the provider's
error type and message and the request id in `str(err)`, and carry `status`, `retry_after`, `retryable` and
the parsed `body`. Stream rows and local rows (raised before any request) cover the remaining classes;
the last test checks that every class of the hierarchy is reached by some row.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.errors import (
    ALL_ERRORS,
    AuthenticationError,
    ConnectionError,
    InvalidRequestError,
    LLMError,
    MappingError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitError,
    SpecError,
    StreamError,
    TimeoutError,
)
from vllora_llm.runtime.transport import Timeouts
from vllora_llm.testing import Fault, LocalProviderServer, replay

from ._support import REQUEST, client_for, write_acme_spec

SSE = "text/event-stream; charset=utf-8"
PARSED = object()
"""`body` default: the row's JSON body, parsed (or its text when it is not JSON)."""


def openai_error(message: str, error_type: str | None, code: str | None = None, param: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": error_type, "param": param, "code": code}}).encode()


@dataclass(frozen=True)
class HttpRow:
    id: str
    status: int
    body: bytes
    cls: type[LLMError]
    error_type: str | None
    message: str
    """Text `str(err)` must contain (the provider's message, or the body preview)."""
    retryable: bool
    headers: tuple[tuple[str, str], ...] = ()
    retry_after: float | None = None
    parsed: Any = PARSED
    provider: str = "openai"
    content_type: str | None = None


HTTP_TABLE: list[HttpRow] = [
    HttpRow("400-invalid-request", 400, openai_error("Invalid value for 'temperature'.", "invalid_request_error",
            "invalid_value", "temperature"), InvalidRequestError, "invalid_request_error",
            "Invalid value for 'temperature'.", False),
    HttpRow("401-bad-key", 401, openai_error("Incorrect API key provided.", "invalid_request_error",
            "invalid_api_key"), AuthenticationError, "invalid_request_error", "Incorrect API key provided.", False),
    HttpRow("403-forbidden", 403, openai_error("Country not supported.", "invalid_request_error",
            "unsupported_country_region_territory"), PermissionDeniedError, "invalid_request_error",
            "Country not supported.", False),
    HttpRow("404-no-model", 404, openai_error("The model `gpt-9` does not exist.", "invalid_request_error",
            "model_not_found"), NotFoundError, "invalid_request_error", "The model `gpt-9` does not exist.", False),
    HttpRow("408-timeout", 408, openai_error("Request timed out.", "timeout"), ProviderError, "timeout",
            "Request timed out.", True),
    HttpRow("409-conflict", 409, openai_error("Conflict.", "conflict"), ProviderError, "conflict", "Conflict.", True),
    HttpRow("413-too-large", 413, openai_error("Request too large.", "invalid_request_error"), InvalidRequestError,
            "invalid_request_error", "Request too large.", False),
    HttpRow("418-other-4xx", 418, openai_error("I'm a teapot.", "teapot"), InvalidRequestError, "teapot",
            "I'm a teapot.", False),
    HttpRow("422-unprocessable", 422, openai_error("Unprocessable.", "invalid_request_error"), InvalidRequestError,
            "invalid_request_error", "Unprocessable.", False),
    HttpRow("429-retry-after", 429, openai_error("Rate limit reached.", "requests", "rate_limit_exceeded"),
            RateLimitError, "requests", "Rate limit reached.", True, headers=(("retry-after", "7"),), retry_after=7),
    HttpRow("429-retry-after-ms", 429, openai_error("Rate limit reached.", "tokens"), RateLimitError, "tokens",
            "Rate limit reached.", True, headers=(("retry-after-ms", "1500"),), retry_after=1.5),
    HttpRow("429-retry-delay-in-body", 429, json.dumps({"error": {"message": "Quota.", "type": "rate_limit_error",
            "retry_delay": "13s"}}).encode(), RateLimitError, "rate_limit_error", "Quota.", True, retry_after=13,
            provider="acme"),
    HttpRow("500-server-error", 500, openai_error("The server had an error.", "server_error"), ProviderError,
            "server_error", "The server had an error.", True),
    HttpRow("502-html-from-a-proxy", 502, b"<html><head><title>502 Bad Gateway</title></head></html>",
            ProviderError, None, "HTTP 502: <html><head><title>502 Bad Gateway", True, content_type="text/html"),
    HttpRow("503-overloaded", 503, openai_error("The engine is currently overloaded.", "server_error"),
            ProviderError, "server_error", "The engine is currently overloaded.", True),
    HttpRow("504-plain-text", 504, b"upstream request timeout", ProviderError, None,
            "HTTP 504: upstream request timeout", True, content_type="text/plain"),
    HttpRow("529-overloaded-by-spec", 529, json.dumps({"error": {"message": "Overloaded", "type":
            "overloaded_error"}}).encode(), ProviderError, "overloaded_error", "Overloaded", True, provider="acme"),
    HttpRow("500-empty-body", 500, b"", ProviderError, None, "HTTP 500", True, parsed=""),
    HttpRow("400-error-in-a-list", 400, json.dumps([{"error": {"message": "Bad list.", "type": "INVALID_ARGUMENT"}}]
            ).encode(), InvalidRequestError, "INVALID_ARGUMENT", "Bad list.", False,
            parsed={"error": {"message": "Bad list.", "type": "INVALID_ARGUMENT"}}),
    HttpRow("400-json-without-message", 400, b'{"detail": "missing field"}', InvalidRequestError, None,
            'HTTP 400: {"detail": "missing field"}', False),
    HttpRow("400-x-should-retry", 400, openai_error("Try again.", "invalid_request_error"), InvalidRequestError,
            "invalid_request_error", "Try again.", True, headers=(("x-should-retry", "true"),)),
    HttpRow("200-not-json", 200, b'{"id": "chatcmpl-1", "choices": [', ProviderError, None,
            "the response body is not valid JSON", False, parsed='{"id": "chatcmpl-1", "choices": ['),
    HttpRow("200-wrong-shape", 200, b'{"choices": "none"}', ProviderError, None,
            "does not have the chat-completion shape", False, parsed='{"choices": "none"}'),
]


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_acme_spec(tmp_path_factory.mktemp("specs"))


def expected_body(row: HttpRow) -> Any:
    if row.parsed is not PARSED:
        return row.parsed
    try:
        return json.loads(row.body)
    except ValueError:
        return row.body.decode()


@pytest.mark.parametrize("row", HTTP_TABLE, ids=[row.id for row in HTTP_TABLE])
async def test_http_error(row: HttpRow, server: LocalProviderServer, spec_dir: Path) -> None:
    server.faults.push(Fault(status=row.status, body=row.body, headers=dict(row.headers),
                             content_type=row.content_type))
    async with client_for(server, provider=row.provider, spec_path=[spec_dir], max_retries=0) as client:
        with pytest.raises(LLMError) as info:
            await client.completions().create(REQUEST)
    err = info.value
    assert type(err) is row.cls
    assert (err.provider, err.status, err.error_type) == (row.provider, row.status, row.error_type)
    assert err.request_id == "req_local_1"
    assert err.retry_after == row.retry_after
    assert err.retryable is row.retryable
    assert err.body == expected_body(row)
    assert err.attempts == 1
    text = str(err)
    head = f"{row.provider} {row.status}" + (f" {row.error_type}" if row.error_type else "")
    assert text.startswith(head + ": "), text
    assert row.message in text
    assert text.endswith("(request id req_local_1)"), text
    assert repr(err) == f"{row.cls.__name__}({text!r})"


async def test_the_same_status_classifies_the_same_when_streaming(server: LocalProviderServer) -> None:
    for row in HTTP_TABLE:
        if row.provider != "openai" or row.status == 200:
            continue
        server.reset()
        server.faults.push(Fault(status=row.status, body=row.body, headers=dict(row.headers),
                                 content_type=row.content_type))
        async with client_for(server, max_retries=0) as client:
            with pytest.raises(LLMError) as info:
                await client.completions().create_stream(REQUEST)
        assert type(info.value) is row.cls, row.id
        assert info.value.body == expected_body(row), row.id


# ---- errors inside a stream -------------------------------------------------------------------------------

CHUNK = (b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
         b'"delta":{"content":"Hi"},"finish_reason":null}]}\n\n')
STREAM_TABLE = [
    ("error-event", CHUNK + b'data: {"error":{"message":"Overloaded.","type":"server_error"}}\n\n',
     "openai server_error: Overloaded.", {"message": "Overloaded.", "type": "server_error"}),
    ("event-not-json", CHUNK + b"data: {not json\n\n", "openai: a stream event is not valid JSON: '{not json'", None),
    ("event-not-a-chunk", b'data: {"choices": 5}\n\n',
     "openai: a stream event is not a chunk (Expected `array`, got `int` - at `$.choices`): '{\"choices\": 5}'", None),
    ("no-terminal-event", CHUNK, "openai: the stream ended before its terminal event (truncated)", None),
]


@pytest.mark.parametrize(("body", "text", "parsed"), [r[1:] for r in STREAM_TABLE], ids=[r[0] for r in STREAM_TABLE])
async def test_stream_error(server: LocalProviderServer, body: bytes, text: str, parsed: Any) -> None:
    server.faults.push(replay(body, content_type=SSE))
    async with client_for(server, max_retries=0) as client:
        with pytest.raises(LLMError) as info:
            async for _ in client.completions().create_stream(REQUEST):
                pass
    assert type(info.value) is StreamError
    assert str(info.value) == text
    assert info.value.body == parsed
    assert info.value.attempts == 1


# ---- errors raised before or instead of an HTTP answer ------------------------------------------------------


async def test_local_invalid_request_names_the_field() -> None:
    client = VlloraLLMClient.from_provider("openai", api_key="k", base_url="http://127.0.0.1:9/v1")
    bad = {"model": "m", "messages": [{"role": "wizard", "content": "hi"}]}
    with pytest.raises(InvalidRequestError) as info:
        await client.completions().create(bad)
    assert type(info.value) is InvalidRequestError
    assert info.value.path == "messages[0].role"
    assert str(info.value) == "messages[0].role: invalid enum value 'wizard'"
    await client.aclose()


async def test_mapping_error_names_the_field(server: LocalProviderServer, spec_dir: Path) -> None:
    async with client_for(server, provider="acme", spec_path=[spec_dir]) as client:  # policy: unsupported → error
        with pytest.raises(MappingError) as info:
            await client.completions().create({**REQUEST, "provider_specific": {"top_k": 5}})
    assert info.value.path == "provider_specific.top_k"
    assert str(info.value) == "acme: provider_specific.top_k: not supported by acme"
    assert server.requests == []  # raised before any request


def test_missing_key_is_an_authentication_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(AuthenticationError) as info:
        VlloraLLMClient.from_provider("openai")
    assert type(info.value) is AuthenticationError and info.value.provider == "openai"


def test_unknown_or_bad_spec_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no provider spec named 'nope'"):
        VlloraLLMClient.from_provider("nope", api_key="k")
    (tmp_path / "broken.yaml").write_text("apiVersion: vllora.dev/v1\nkind: ProviderSpec\nmetadata: {name: broken}\n")
    with pytest.raises(SpecError) as info:
        VlloraLLMClient.from_provider("broken", api_key="k", spec_path=[tmp_path])
    assert info.value.diagnostics


async def test_refused_connection_and_timeout(server: LocalProviderServer) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, never listening: refused
        async with VlloraLLMClient.from_provider(
            "openai", api_key="k", base_url=f"http://127.0.0.1:{s.getsockname()[1]}/v1", max_retries=0
        ) as client:
            with pytest.raises(ConnectionError) as refused:
                await client.completions().create(REQUEST)
    assert type(refused.value) is ConnectionError and refused.value.retryable
    assert str(refused.value).startswith("openai: POST http://127.0.0.1:")
    server.faults.push(Fault(delay_s=2))
    async with client_for(server, max_retries=0, timeout=Timeouts(connect=1, read=0.2, total=1)) as client:
        with pytest.raises(TimeoutError) as slow:
            await client.completions().create(REQUEST)
    assert type(slow.value) is TimeoutError and slow.value.retryable
    assert str(slow.value).endswith("/v1/chat/completions: no data for 0.2 s (read timeout)")


def test_every_class_is_reached_by_a_row() -> None:
    reached = {row.cls for row in HTTP_TABLE} | {
        StreamError, InvalidRequestError, MappingError, AuthenticationError, SpecError, ConnectionError, TimeoutError,
    }
    abstract = {LLMError}  # the base: every error is one of its subclasses, never a bare LLMError
    assert set(ALL_ERRORS) - abstract <= reached, set(ALL_ERRORS) - abstract - reached
