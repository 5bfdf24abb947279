"""Provider answers whose fields have the wrong JSON type: every recorded response and stream event of every
shipped spec (its `.tests.yaml` cases and the conformance cases over tests/recordings/; embeddings and images
shaped as the local server's wire modules answer), with one value anywhere in it (a leaf, an object, a list,
the whole event) replaced by a value of another JSON type (string, number, bool, null, list, object), decodes
into a valid result (one that converts back into its own type) or raises a typed `LLMError` naming the
provider - never a bare msgspec.ValidationError, TypeError, KeyError, AttributeError or ValueError.

Decoded through the paths the client uses: the plan's response decoder, the runtime's framer and the plan's
stream decoder (SSE, AWS event-stream), each operation's decoder, the native Responses event decoder; and
over real HTTP (the local provider server on 127.0.0.1 replaying the damaged body) for a whole response and a
stream of each wire format."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.errors import LLMError, StreamError
from vllora_llm.engine.frames import Frame
from vllora_llm.engine.gateway import enc_hook
from vllora_llm.engine.gateway_ops import OPERATION_TYPES
from vllora_llm.engine.plan import Plan
from vllora_llm.engine.registry import builtin_dir, discover, load_plan
from vllora_llm.engine.responses_native import ResponsesEventDecoder
from vllora_llm.runtime.eventstream import encode_message
from vllora_llm.runtime.instance import FRAMERS
from vllora_llm.runtime.limits import Limits
from vllora_llm.runtime.sse import SSEEvent
from vllora_llm.testing import LocalProviderServer
from vllora_llm.tools.protocol_tests import Case, load_case_list, load_spec_tests, response_input, stream_frames
from vllora_llm.tools.testing.faults import replay
from vllora_llm.tools.testing.wire_operations import PNG_BASE64, vector

TESTS = Path(__file__).resolve().parents[1]
NAMES = sorted(discover())
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# ---- the corpus: recorded answers, per spec ------------------------------------------------------------------


@functools.cache
def plan(name: str) -> Plan:
    return load_plan(name)


@functools.cache
def all_cases() -> tuple[Case, ...]:
    cases: list[Case] = []
    for path in sorted(builtin_dir().glob("*.tests.yaml")):
        cases += load_spec_tests(path, path.name[: -len(".tests.yaml")])
    for kind in ("responses", "streams"):
        for path in sorted((TESTS / "conformance" / kind).glob("*.yaml")):
            cases += load_case_list(path, kind, path.stem, recordings=TESTS / "recordings", label=path.name)
    return tuple(cases)


def cases_for(name: str, kind: str) -> list[Case]:
    """The spec's own cases of `kind`; a spec with none (an OpenAI-compatible one) reads OpenAI's."""
    own = [c for c in all_cases() if c.kind == kind and c.provider == name]
    return own or [c for c in all_cases() if c.kind == kind and c.provider == "openai"]


def as_json(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


@functools.cache
def bodies(name: str) -> tuple[Any, ...]:
    """The spec's recorded 2xx response bodies, as JSON."""
    out = []
    for case in cases_for(name, "responses"):
        status, _, body = response_input(case)
        if status < 300 and isinstance(data := as_json(body), (dict, list)):
            out.append(data)
    return tuple(out)


Event = tuple[str, str, Any, str | None]
"""A frame as the test rebuilds it: name, kind, payload (JSON, or the text when it is not JSON), message."""


@functools.cache
def streams(name: str) -> tuple[tuple[Event, ...], ...]:
    """The spec's recorded streams, each as its frames (payloads decoded when they are JSON)."""
    out = []
    for case in cases_for(name, "streams"):
        try:
            frames = stream_frames(case, plan=plan(name))
        except LLMError:
            continue  # a recording of a broken framing
        events: list[Event] = []
        for frame in frames:
            payload = frame.payload.decode() if isinstance(frame.payload, bytes) else frame.payload
            data = as_json(payload) if payload.strip() else None
            events.append((frame.name, frame.kind, payload if data is None else data, frame.message))
        if any(not isinstance(e[2], str) for e in events):
            out.append(tuple(events))
    return tuple(out)


def wire(name: str, events: list[Event]) -> bytes:
    """The stream's bytes in the spec's framing (SSE, or AWS event-stream messages)."""
    raw = bytearray()
    aws = plan(name).framing == "aws_event_stream"
    for event_name, kind, payload, message in events:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        if aws:
            header = plan(name).event_header or ":event-type"
            headers = ({":message-type": "event", header: event_name, ":content-type": "application/json"}
                       if kind == "data" else {":message-type": "exception", ":exception-type": event_name}
                       if kind == "exception" else
                       {":message-type": "error", ":error-code": event_name, ":error-message": message or ""})
            raw += encode_message(headers, text.encode())
        else:
            if event_name and event_name != "message":
                raw += f"event: {event_name}\n".encode()
            raw += b"".join(b"data: " + line.encode() + b"\n" for line in text.split("\n")) + b"\n"
    return bytes(raw)


# ---- one value replaced by another JSON type -----------------------------------------------------------------

KINDS = {
    "string": st.sampled_from(["", "x", "1", "true", "null", "{}"]),
    "number": st.sampled_from([0, 1, -1, 2.5, 2**63, -(2**70)]),
    "bool": st.booleans(),
    "null": st.none(),
    "list": st.sampled_from([[], [1], ["x"], [{}], [None], [[]]]),
    "object": st.sampled_from([{}, {"x": 1}, {"type": "text"}, {"text": 1}]),
}


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else "object"


def paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*at, index))


def replaced(value: Any, at: tuple[Any, ...], new: Any) -> Any:
    if not at:
        return new
    copy = json.loads(json.dumps(value))
    node = copy
    for key in at[:-1]:
        node = node[key]
    node[at[-1]] = new
    return copy


@st.composite
def swap(draw: st.DrawFn, value: Any) -> Any:
    """`value` with one node (anywhere, the root too) replaced by a value of another JSON type."""
    at = draw(st.sampled_from(list(paths(value))))
    node = value
    for key in at:
        node = node[key]
    kind = draw(st.sampled_from(sorted(set(KINDS) - {kind_of(node)})))
    return replaced(value, at, draw(KINDS[kind]))


@st.composite
def damaged_stream(draw: st.DrawFn, name: str) -> list[Event]:
    events = list(draw(st.sampled_from(streams(name))))
    where = draw(st.sampled_from([i for i, e in enumerate(events) if not isinstance(e[2], str)]))
    event_name, kind, payload, message = events[where]
    events[where] = (event_name, kind, draw(swap(payload)), message)
    return events


# ---- what counts as a result ---------------------------------------------------------------------------------


def valid(result: Any) -> None:
    """A result is valid when it converts back into its own type (every field of its declared type)."""
    msgspec.convert(msgspec.to_builtins(result, enc_hook=enc_hook), type(result))


def typed(error: LLMError, name: str) -> None:
    assert error.provider == name or str(error).startswith(name), repr(error)


def decode_stream(p: Plan, raw: bytes) -> list[Any]:
    """The runtime's framer, then the plan's stream decoder (one read, then end of input)."""
    framer = FRAMERS[p.framing](p, Limits())
    decoder = p.stream_decoder()
    out: list[Any] = []
    decoder.feed_all(framer.feed(raw), out)
    decoder.feed_all(framer.close(), out)
    out += decoder.close()
    return out


# ---- chat: whole responses and streams, every spec -----------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in NAMES if bodies(n)])
def test_a_response_with_a_field_of_another_type_decodes_or_is_typed(name: str) -> None:
    @SETTINGS
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        body = data.draw(swap(data.draw(st.sampled_from(bodies(name)))))
        try:
            result = plan(name).decode(200, {}, json.dumps(body).encode())
        except LLMError as err:
            typed(err, name)
            return
        valid(result)

    check()


@pytest.mark.parametrize("name", [n for n in NAMES if streams(n)])
def test_a_stream_event_with_a_field_of_another_type_decodes_or_is_typed(name: str) -> None:
    @SETTINGS
    @given(events=damaged_stream(name))
    def check(events: list[Event]) -> None:
        try:
            chunks = decode_stream(plan(name), wire(name, events))
        except LLMError as err:
            typed(err, name)
            return
        for chunk in chunks:
            valid(chunk)

    check()


def test_a_thought_field_of_another_type_in_a_gemini_stream_is_a_stream_error_naming_the_event() -> None:
    """The reported case: a `thoughtSignature` that is a number used to raise msgspec's own ValidationError."""
    event = {"candidates": [{"content": {"role": "model", "parts": [
        {"text": "Let me think", "thought": True, "thoughtSignature": 7}]}, "index": 0}]}
    with pytest.raises(StreamError) as caught:
        plan("gemini").stream_decoder().feed(SSEEvent("message", json.dumps(event)))
    assert caught.value.provider == "gemini"
    assert "Expected `str | null`, got `int`" in str(caught.value) and "thoughtSignature" in str(caught.value)


# ---- embeddings, images (the local server's answers) and native Responses ------------------------------------

OPERATION_BODIES: dict[tuple[str, str, str], Any] = {
    ("openai", "embeddings", "text-embedding-3-small"): {
        "object": "list", "data": [{"object": "embedding", "index": 0, "embedding": vector("a", 4)}],
        "model": "text-embedding-3-small", "usage": {"prompt_tokens": 1, "total_tokens": 1}},
    ("openai", "images", "gpt-image-1"): {
        "created": 1, "data": [{"b64_json": PNG_BASE64, "revised_prompt": "a cat"}],
        "usage": {"input_tokens": 2, "output_tokens": 272, "total_tokens": 274,
                  "input_tokens_details": {"text_tokens": 2, "image_tokens": 0}}},
    ("gemini", "embeddings", "gemini-embedding-001"): {"embeddings": [{"values": vector("a", 4)}]},
    ("gemini", "images", "imagen-4.0-generate-001"): {
        "predictions": [{"bytesBase64Encoded": PNG_BASE64, "mimeType": "image/png"}]},
    ("bedrock", "embeddings", "amazon.titan-embed-text-v2:0"): {
        "embedding": vector("a", 4), "inputTextTokenCount": 1},
    ("bedrock", "embeddings", "cohere.embed-english-v3"): {
        "id": "local-1", "response_type": "embeddings_floats", "texts": ["a"], "embeddings": [vector("a", 4)]},
    ("bedrock", "images", "amazon.nova-canvas-v1:0"): {"images": [PNG_BASE64], "error": None},
    ("bedrock", "images", "stability.sd3-5-large-v1:0"): {"seeds": [1], "finish_reasons": [None],
                                                          "images": [PNG_BASE64]},
}


def responses_events() -> list[Any]:
    events = []
    for name in ("responses_stream_basic.sse", "responses_stream_function_call.sse"):
        text = (TESTS / "recordings" / "openai" / name).read_text()
        events += [json.loads(line[len("data: "):]) for line in text.splitlines() if line.startswith("data: {")]
    return events


RESPONSES_EVENTS = responses_events()
RESPONSES_BODY = next(e["response"] for e in RESPONSES_EVENTS if e.get("type") == "response.completed")


@pytest.mark.parametrize(("name", "operation", "model"), sorted(OPERATION_BODIES))
def test_an_operation_answer_with_a_field_of_another_type_decodes_or_is_typed(
    name: str, operation: str, model: str,
) -> None:
    op = plan(name).operation(operation)
    assert isinstance(op.decode(model, 200, {}, json.dumps(OPERATION_BODIES[name, operation, model]).encode()),
                      OPERATION_TYPES[operation][1])  # the seed itself is an answer

    @SETTINGS
    @given(body=swap(OPERATION_BODIES[name, operation, model]))
    def check(body: Any) -> None:
        try:
            result = op.decode(model, 200, {}, json.dumps(body).encode())
        except LLMError as err:
            typed(err, name)
            return
        valid(result)

    check()


@SETTINGS
@given(body=swap(RESPONSES_BODY))
def test_a_native_responses_body_with_a_field_of_another_type_decodes_or_is_typed(body: Any) -> None:
    try:
        result = plan("openai").operation("responses").decode("gpt-5", 200, {}, json.dumps(body).encode())
    except LLMError as err:
        typed(err, "openai")
        return
    valid(result)


@settings(SETTINGS, max_examples=150)
@given(data=st.data())
def test_a_native_responses_event_with_a_field_of_another_type_decodes_or_is_typed(data: st.DataObject) -> None:
    event = data.draw(swap(data.draw(st.sampled_from(RESPONSES_EVENTS))))
    try:
        decoded = ResponsesEventDecoder("openai").feed(Frame("message", json.dumps(event)))
    except LLMError as err:
        typed(err, "openai")
        return
    for item in decoded:
        valid(item)


# ---- over real HTTP: the local provider server replays the damaged answer ------------------------------------

HTTP = {"openai": ("gpt-4o-mini", "text/event-stream"), "anthropic": ("claude-sonnet-4-5", "text/event-stream"),
        "gemini": ("gemini-2.5-flash", "text/event-stream"),
        "bedrock": ("anthropic.claude-3-5-sonnet-20240620-v1:0", "application/vnd.amazon.eventstream")}


async def over_http(server: LocalProviderServer, name: str, body: bytes, content_type: str, stream: bool) -> None:
    model = HTTP[name][0]
    server.faults.push(replay(body, content_type=content_type))
    options: dict[str, Any] = {"region": "us-east-1"} if name == "bedrock" else {}
    request = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    try:
        async with VlloraLLMClient.from_provider(name, api_key="local-test-key", base_url=server.base_url_for(name),
                                                 max_retries=0, **options) as client:
            if stream:
                async with client.completions().create_stream(request) as chunks:
                    async for chunk in chunks:
                        valid(chunk)
                    valid(chunks.aggregate())
            else:
                valid(await client.completions().create(request))
    except LLMError as err:
        typed(err, name)
    finally:
        server.faults.clear()


@pytest.mark.parametrize("name", sorted(HTTP))
def test_over_http_a_damaged_answer_is_a_result_or_a_typed_error(
    threaded_server: LocalProviderServer, name: str,
) -> None:
    loop = asyncio.new_event_loop()

    @settings(SETTINGS, max_examples=25)
    @given(data=st.data(), stream=st.booleans())
    def check(data: st.DataObject, stream: bool) -> None:
        if stream:
            raw = wire(name, data.draw(damaged_stream(name)))
            loop.run_until_complete(over_http(threaded_server, name, raw, HTTP[name][1], True))
        else:
            body = data.draw(swap(data.draw(st.sampled_from(bodies(name)))))
            loop.run_until_complete(over_http(threaded_server, name, json.dumps(body).encode(), "application/json",
                                              False))

    try:
        check()
    finally:
        loop.close()
