"""The Responses stream under faults, over real HTTP: leaving early closes the connection; a provider's error
event or a cut stream yields `error` and `response.failed` (valid openai SDK events, the items so far) and then
raises the typed error (no `completed` event, nothing stored); what a spec cannot send comes back as a warning on
the response."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from openai.types.responses import Response as SdkResponse
from openai.types.responses import ResponseStreamEvent as SdkEvent
from pydantic import TypeAdapter

from vllora_llm.client import InMemoryResponseStore, SyncVlloraLLMClient, VlloraLLMClient
from vllora_llm.engine.errors import MappingError, StreamError
from vllora_llm.testing import Fault, LocalProviderServer, replay

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings" / "openai"
MIDSTREAM_ERROR = RECORDINGS.parent / "anthropic" / "stream_error_overloaded_midstream_handwritten.sse"
EVENTS: TypeAdapter[Any] = TypeAdapter(SdkEvent)
SSE = "text/event-stream; charset=utf-8"
REQUEST = {"model": "gpt-4o-mini", "input": "hi"}  # on `together`: an OpenAI-shaped chat spec, translated


async def wait_for_disconnect(server: LocalProviderServer, before: int) -> None:
    async with asyncio.timeout(2):
        while server.disconnects == before:
            await asyncio.sleep(0.005)


async def test_leaving_early_closes_the_connection(server: LocalProviderServer) -> None:
    server.faults.push(replay(RECORDINGS / "stream_text_no_usage.sse", content_type=SSE, chunk_size=40, drip_s=0.02))
    async with VlloraLLMClient.from_provider("together", api_key="k-0123456789", base_url=server.openai_base_url) as c:
        async with c.responses().create_stream(REQUEST) as stream:
            async for event in stream:
                if event.type == "response.output_text.delta":
                    break
        await wait_for_disconnect(server, 0)
        assert not stream.done
        with pytest.raises(RuntimeError, match="not ended"):
            _ = stream.response


async def test_cut_stream_is_a_stream_error_and_stores_nothing(server: LocalProviderServer) -> None:
    server.faults.push(Fault(cut_after_chunks=3))
    async with VlloraLLMClient.from_provider("together", api_key="k-0123456789", base_url=server.openai_base_url,
                                             max_retries=0) as client:
        kinds: list[str] = []
        with pytest.raises(StreamError) as raised:
            async for event in client.responses().create_stream(REQUEST):
                kinds.append(event.type)
        assert "response.completed" not in kinds and kinds[-2:] == ["error", "response.failed"]
        assert "connection lost mid-stream" in str(raised.value)
        assert isinstance(client.response_store, InMemoryResponseStore) and len(client.response_store) == 0


async def test_error_event_mid_stream_is_error_then_failed_then_raised(server: LocalProviderServer) -> None:
    """The provider's `overloaded_error` after one text delta: every event a valid openai SDK event, the text
    delta, then `error` and `response.failed` (status failed, the provider's type, the partial message), then
    the typed `StreamError` from the loop; `stream.error` / `stream.response` stay readable; nothing stored."""
    server.faults.push(replay(MIDSTREAM_ERROR, content_type=SSE))
    async with VlloraLLMClient.from_provider("anthropic", api_key="k-0123456789",
                                             base_url=server.base_url_for("anthropic"), max_retries=0) as client:
        events: list[Any] = []
        stream = client.responses().create_stream({"model": "claude-sonnet-4-5", "input": "hi"})
        with pytest.raises(StreamError, match="Overloaded") as raised:
            async for event in stream:
                events.append(event)
        for event in events:
            EVENTS.validate_python(event.to_dict())
        assert [event.sequence_number for event in events] == list(range(len(events)))
        assert [event.type for event in events] == [
            "response.created", "response.in_progress", "response.output_item.added",
            "response.content_part.added", "response.output_text.delta", "error", "response.failed"]
        error, failed = events[-2:]
        assert (error.code, error.message) == ("server_error", str(raised.value))
        response = failed.response
        SdkResponse.model_validate(response.to_dict())
        assert response.status == "failed" and response is stream.response and stream.done
        assert (response.error.code, response.error.type) == ("server_error", "overloaded_error")
        assert "Overloaded" in response.error.message and response.output_text == "Hello"
        assert [(item.type, item.status) for item in response.output] == [("message", "incomplete")]
        assert [warning.param for warning in response.warnings] == ["max_tokens"]  # the spec's, kept
        assert stream.error is raised.value
        async for _ in stream:  # raised once: the stream is over
            pytest.fail("no event after the failure")
        assert len(client.response_store) == 0  # type: ignore[arg-type]


async def test_rate_limit_mid_stream_has_openais_code(server: LocalProviderServer) -> None:
    """A rate-limit error event mid-stream fails the response with OpenAI's `rate_limit_exceeded` code."""
    body = MIDSTREAM_ERROR.read_bytes().replace(b'"overloaded_error","message":"Overloaded"',
                                                b'"rate_limit_error","message":"Rate limited"')
    server.faults.push(replay(body, content_type=SSE))
    async with VlloraLLMClient.from_provider("anthropic", api_key="k-0123456789",
                                             base_url=server.base_url_for("anthropic"), max_retries=0) as client:
        stream = client.responses().create_stream({"model": "claude-sonnet-4-5", "input": "hi"})
        with pytest.raises(StreamError, match="Rate limited"):
            async for _ in stream:
                pass
    error = stream.response.error
    assert error is not None and (error.code, error.type) == ("rate_limit_exceeded", "rate_limit_error")


async def test_unsent_parameters_come_back_as_warnings(server: LocalProviderServer) -> None:
    async with VlloraLLMClient.from_provider("anthropic", api_key="k-0123456789",
                                             base_url=server.base_url_for("anthropic")) as client:
        response = await client.responses().create({"model": "claude-sonnet-4-5", "input": "hi",
                                                    "reasoning": {"effort": "low"}})
    assert "reasoning_effort" in [w.param for w in response.warnings]
    assert "reasoning_effort" not in server.last_request.json


STRICT_SPEC = """\
apiVersion: vllora.dev/v1
kind: ProviderSpec
extends: anthropic
metadata: {name: strictanthropic, revision: 1}
policy: {unsupported: error}
"""
UNSENT = {"truncation": "auto", "reasoning": {"summary": "detailed"}, "text": {"verbosity": "low"},
          "include": ["message.output_text.logprobs", "reasoning.encrypted_content"]}


async def test_responses_only_settings_are_warnings_plain_and_streamed(server: LocalProviderServer) -> None:
    """Settings no chat request carries come back as `unsupported_parameter` warnings (and `logprobs`, which
    `include` asked for, as the spec's own warning), on `create` and on a stream's final response."""
    async with VlloraLLMClient.from_provider("anthropic", api_key="k-0123456789",
                                             base_url=server.base_url_for("anthropic")) as client:
        request = {"model": "claude-sonnet-4-5", "input": "hi", **UNSENT}
        response = await client.responses().create(request)
        async with client.responses().create_stream(request) as stream:
            async for _ in stream:
                pass
    for got in (response, stream.response):
        assert got.output_text.startswith("Hello from the local anthropic server!")
        params = [w.param for w in got.warnings]
        assert params[:3] == ["truncation", "reasoning.summary", "text.verbosity"] and "logprobs" in params
        assert got.truncation == "disabled"
    body = server.last_request.json
    assert not {"truncation", "verbosity", "logprobs", "summary"} & set(body)


async def test_a_strict_spec_refuses_them_before_any_io(server: LocalProviderServer, tmp_path: Path) -> None:
    """Under `policy: {unsupported: error}` the same settings are a `MappingError` naming the field, before any
    request is sent (plain and streamed)."""
    (tmp_path / "strictanthropic.yaml").write_text(STRICT_SPEC)
    async with VlloraLLMClient.from_provider("strictanthropic", api_key="k-0123456789", spec_path=[tmp_path],
                                             base_url=server.base_url_for("anthropic")) as client:
        request = {"model": "claude-sonnet-4-5", "input": "hi", "max_output_tokens": 20, "truncation": "auto"}
        with pytest.raises(MappingError, match="truncation") as raised:
            await client.responses().create(request)
        assert raised.value.path == "truncation"
        with pytest.raises(MappingError, match=r"text\.verbosity"):
            await client.responses().create_stream({**request, "truncation": None, "text": {"verbosity": "low"}})
        assert server.requests == []
        assert (await client.responses().create({**request, "truncation": "disabled"})).status == "completed"


async def test_a_routed_model_is_judged_by_its_first_targets_spec(server: LocalProviderServer, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_KEY", "k-0123456789")
    (tmp_path / "strictanthropic.yaml").write_text(STRICT_SPEC)
    config = tmp_path / "models.yaml"
    config.write_text(f"""
- model: strict
  inference_provider: {{provider: strictanthropic, model_name: claude-sonnet-4-5}}
  base_url: {server.base_url_for("anthropic")}
  api_key_env: LOCAL_KEY
- model: lenient
  inference_provider: {{provider: anthropic, model_name: claude-sonnet-4-5}}
  base_url: {server.base_url_for("anthropic")}
  api_key_env: LOCAL_KEY
""")
    async with VlloraLLMClient.from_config(config, spec_path=[tmp_path]) as client:
        with pytest.raises(MappingError, match="truncation"):
            await client.responses().create({"model": "strict", "input": "hi", "truncation": "auto"})
        response = await client.responses().create({"model": "lenient", "input": "hi", "truncation": "auto"})
    assert "truncation" in [w.param for w in response.warnings] and len(server.requests) == 1


def test_the_sync_facade_yields_the_failure_events_then_raises(threaded_server: LocalProviderServer) -> None:
    threaded_server.faults.push(replay(MIDSTREAM_ERROR, content_type=SSE))
    with SyncVlloraLLMClient.from_provider("anthropic", api_key="k-0123456789", max_retries=0,
                                           base_url=threaded_server.base_url_for("anthropic")) as client:
        kinds: list[str] = []
        with client.responses().create_stream({"model": "claude-sonnet-4-5", "input": "hi"}) as stream, \
                pytest.raises(StreamError, match="Overloaded") as raised:
            for event in stream:
                kinds.append(event.type)
        assert kinds[-2:] == ["error", "response.failed"]
        assert stream.error is raised.value and stream.response.status == "failed"
