"""The key never shows: not in an exception's text, repr, args, body or traceback, not in a log record (DEBUG
included), not in a warning, even when the provider echoes it back. Each row is one way a provider can
echo it; the error must still be the right class with its body parsed, only the key replaced."""

from __future__ import annotations

import base64
import json
import logging
import traceback
import warnings
from dataclasses import dataclass
from urllib.parse import quote

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.errors import (
    AuthenticationError,
    ConnectionError,
    LLMError,
    ProviderError,
    RateLimitError,
    StreamError,
)
from vllora_llm.runtime.auth import redact
from vllora_llm.testing import Fault, LocalProviderServer, replay

from ._support import KEY, REQUEST, client_for

ENCODED = quote(KEY, safe="")
SECRET_FORMS = (KEY, ENCODED, "SECRET")
SSE = "text/event-stream; charset=utf-8"
CHUNK = (b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
         b'"delta":{"content":"Hi"},"finish_reason":null}]}\n\n')
ECHO = {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error",
                  "param": {"authorization": f"Bearer {KEY}", "seen": [KEY, ENCODED]}, "code": "invalid_api_key"}}


@dataclass(frozen=True)
class Row:
    id: str
    faults: tuple[Fault, ...]
    stream: bool
    cls: type[LLMError]
    parsed_body: bool
    """The error body stays structured (a dict) after redaction."""


ROWS = [
    Row("json-error-body", (Fault(status=401, body=ECHO),), False, AuthenticationError, True),
    Row("json-error-body-stream", (Fault(status=401, body=ECHO),), True, AuthenticationError, True),
    Row("html-page-retried", (Fault(status=502, body=f"<html>bad key {KEY}</html>", content_type="text/html",
                                    times=3),), False, ProviderError, False),
    Row("error-event-mid-stream", (replay(CHUNK + b"data: " + json.dumps(ECHO).encode() + b"\n\n",
                                          content_type=SSE, chunk_size=len(CHUNK), drip_s=0.02),),
        True, StreamError, True),
    Row("malformed-200-body", (Fault(status=200, body=f'{{"echo": "{KEY}", "choices": ['),), False, ProviderError,
        False),
    Row("429-then-401", (Fault(status=429, headers={"retry-after-ms": "1"}, body=ECHO), Fault(status=401, body=ECHO)),
        False, AuthenticationError, True),
    Row("429-retry-after-too-long", (Fault(status=429, headers={"retry-after": "999"}, body=ECHO),), False,
        RateLimitError, True),
]


def leaks(text: str) -> list[str]:
    return [form for form in SECRET_FORMS if form in text]


def texts_of(err: LLMError) -> list[str]:
    return [str(err), repr(err), err.message, repr(err.args), repr(err.body), repr(vars(err)),
            "".join(traceback.format_exception(err))]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
async def test_echoed_key_is_redacted(
    row: Row, server: LocalProviderServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level
    server.faults.push(*row.faults)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with client_for(server) as client:
            with pytest.raises(LLMError) as info:
                if row.stream:
                    async for _ in client.completions().create_stream(REQUEST):
                        pass
                else:
                    await client.completions().create(REQUEST)
    err = info.value
    assert type(err) is row.cls
    for text in texts_of(err):
        assert not leaks(text), text
    assert "[REDACTED]" in repr(err.body) + str(err)
    if row.parsed_body:
        assert isinstance(err.body, dict)
        error = err.body.get("error", err.body)  # a stream's error event carries the inner object
        assert error["message"] == "Incorrect API key provided: [REDACTED]"
        assert error["param"] == {"authorization": "Bearer [REDACTED]", "seen": ["[REDACTED]"] * 2}
    for record in caplog.records:
        assert not leaks(record.getMessage()), record.getMessage()
        assert not leaks(repr(record.args)), record.args
    for warning in caught:
        assert not leaks(str(warning.message)), warning.message
    assert server.last_request.headers["authorization"] == f"Bearer {KEY}"  # it was sent, where it belongs


async def test_key_not_in_reprs_warnings_or_debug_logs_of_a_good_call(
    server: LocalProviderServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with client_for(server) as client:
            response = await client.completions().create({**REQUEST, "n": 2, "provider_specific": {"top_k": 3}})
            stream = await client.completions().create_stream({**REQUEST, "n": 2})
            async for _ in stream:
                pass
            objects = [client, client.instance, client.instance.transport, client.instance.plan,
                       client.instance._credentials]
            for obj in objects:
                assert not leaks(repr(obj)), repr(obj)
    assert [w.param for w in response.warnings] == ["n", "provider_specific.top_k"]
    for warning in [*response.warnings, *stream.response.warnings]:
        assert not leaks(warning.message)
    assert not [w for w in caught if leaks(str(w.message))]
    assert any("chat/completions" in r.getMessage() for r in caplog.records)  # DEBUG logging was on
    for record in caplog.records:
        assert not leaks(record.getMessage())


# ---- every field an error shows, every form of the key (issue 16 finding 3, issue 15 item 4) ----------------

B64 = base64.b64encode(KEY.encode()).decode()
B64_BASIC = base64.b64encode(f"user:{KEY}".encode()).decode()  # the key at another byte alignment
FIELD_ROWS = [
    ("key-in-error-type", Fault(status=400, body={"error": {"type": KEY, "message": "bad"}}), False),
    ("key-in-error-code", Fault(status=400, body={"error": {"code": f"{KEY}", "message": "bad"}}), False),
    ("key-in-request-id", Fault(status=400, headers={"x-request-id": f"req_{KEY}"}, body={"error": {
        "message": "bad"}}), False),
    ("key-glued-to-text", Fault(status=400, body={"error": {"message": f"abc{KEY}xyz", "type": f"t{KEY}"}}), False),
    ("key-base64", Fault(status=400, body={"error": {"message": f"got {B64} and Basic {B64_BASIC}"}}), False),
    ("key-in-stream-error-event-type", replay(CHUNK + b'data: {"error": {"type": "' + KEY.encode()
                                              + b'", "message": "boom"}}\n\n', content_type=SSE), True),
    ("message-preview-cut-mid-key", Fault(status=502, body="x" * 290 + KEY + "y" * 50, content_type="text/html",
                                          times=3), False),
    ("body-preview-cut-mid-key", Fault(status=502, body="x" * 1990 + KEY + "y" * 50, content_type="text/html",
                                       times=3), False),
    ("bad-2xx-preview-cut-mid-key", Fault(status=200, body="{" + "x" * 190 + KEY), False),
]


def fragments(secret: str) -> list[str]:
    """Every 6-character piece of `secret`: none may show (a preview cut must not leave half a key)."""
    return [secret[i:i + 6] for i in range(len(secret) - 5)]


@pytest.mark.parametrize(("fault", "stream"), [(f, s) for _, f, s in FIELD_ROWS], ids=[r[0] for r in FIELD_ROWS])
async def test_no_error_field_shows_the_key(fault: Fault, stream: bool, server: LocalProviderServer) -> None:
    server.faults.push(fault)
    async with client_for(server) as client:
        with pytest.raises(LLMError) as info:
            if stream:
                async for _ in client.completions().create_stream(REQUEST):
                    pass
            else:
                await client.completions().create(REQUEST)
    err = info.value
    shown = "\n".join([*texts_of(err), repr(err.to_dict()) if hasattr(err, "to_dict") else ""])
    for piece in [*fragments(KEY), B64[4:-4], ENCODED]:
        assert piece not in shown, (piece, shown[:3000])
    assert "[REDACTED]" in shown


async def test_a_json_escaped_key_is_redacted(server: LocalProviderServer) -> None:
    key = 'sk-"quoted\\key-0123'
    escaped = json.dumps(key)[1:-1]
    body = json.dumps({"error": {"message": f"bad key {key}", "echo": f'{{"api_key": "{escaped}"}}'}})
    assert escaped in body and json.dumps(escaped)[1:-1] in body  # the text holds it escaped, and twice
    server.faults.push(Fault(status=401, body=body))
    async with VlloraLLMClient.from_provider("openai", api_key=key, base_url=server.openai_base_url,
                                             max_retries=0) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.completions().create(REQUEST)
    shown = "\n".join(texts_of(info.value))
    assert key not in shown and escaped not in shown and "quoted" not in shown, shown


@pytest.mark.parametrize("key", ["x", "test"])
async def test_keys_shorter_than_8_characters_are_not_redacted(key: str, server: LocalProviderServer) -> None:
    """Redacting "x" or "test" everywhere garbled messages (`ma[REDACTED]_tokens`); such keys protect nothing."""
    async with VlloraLLMClient.from_provider("anthropic", api_key=key,
                                             base_url=server.base_url_for("anthropic")) as client:
        response = await client.completions().create({"model": "magistral-medium-latest", "messages": [
            {"role": "user", "content": "hi"}]})
    warnings = [w.message for w in response.warnings]
    assert any(m.startswith("max_tokens was not set") for m in warnings), warnings
    assert not any("[REDACTED]" in m for m in warnings)
    assert redact("magistral-medium-latest max_tokens", [key]) == "magistral-medium-latest max_tokens"
    assert redact(f"a{'k' * 8}b", ["k" * 8]) == "a[REDACTED]b"  # 8 characters: redacted, even glued


async def test_a_url_password_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    """A base URL with `user:password@` (allowed where the key travels in its own header) is masked in the
    ConnectionError, its traceback, the DEBUG request line and the client's repr, however short."""
    caplog.set_level(logging.DEBUG)
    for password in ("pw", "a-longer-password-1"):
        url = f"http://proxy-user:{password}@127.0.0.1:9"
        async with VlloraLLMClient.from_provider("anthropic", api_key=KEY, base_url=url, max_retries=0) as client:
            with pytest.raises(ConnectionError) as info:
                await client.completions().create({**REQUEST, "max_tokens": 5})
            shown = "\n".join([*texts_of(info.value), repr(client), repr(client.instance)])
        logs = "\n".join(r.getMessage() for r in caplog.records)
        assert f":{password}@" not in shown + logs, shown
        assert "proxy-user:[REDACTED]@127.0.0.1" in str(info.value)
        assert "proxy-user:[REDACTED]@" in logs  # the DEBUG line was written, masked


async def test_header_values_marked_secret_are_redacted(server: LocalProviderServer) -> None:
    token = "custom-token-value-42"
    echo = {"error": {"message": f"bad token {token}; api key header {KEY}-x", "type": "invalid"}}
    server.faults.push(Fault(status=401, body=echo))
    async with VlloraLLMClient.from_provider(
        "openai", api_key="k" * 20, base_url=server.openai_base_url, max_retries=0,
        headers={"x-tenant-token": token, "x-api-key": f"{KEY}-x"}, secret_headers=["X-Tenant-Token"],
    ) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.completions().create(REQUEST)
    shown = "\n".join(texts_of(info.value))
    assert token not in shown and f"{KEY}-x" not in shown
    assert server.last_request.headers["x-tenant-token"] == token  # still sent
