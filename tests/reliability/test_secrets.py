"""The key never shows: not in an exception's text, repr, args, body or traceback, not in a log record (DEBUG
included), not in a warning, even when the provider echoes it back. Each row is one way a provider can
echo it; the error must still be the right class with its body parsed, only the key replaced."""

from __future__ import annotations

import json
import logging
import traceback
import warnings
from dataclasses import dataclass
from urllib.parse import quote

import pytest

from vllora_llm.engine.errors import AuthenticationError, LLMError, ProviderError, RateLimitError, StreamError
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
