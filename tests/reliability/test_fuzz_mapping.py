"""Request mapping never fails in an untyped way: for generated unified requests, every shipped spec either
renders a wire request (whose body is JSON) or raises `MappingError` / `InvalidRequestError`, and never
changes the request it was given. A second property feeds loosely-typed dicts through `coerce` first, as a
caller's JSON would arrive."""

from __future__ import annotations

import functools
import json
import math
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vllora_llm.engine.errors import InvalidRequestError
from vllora_llm.engine.gateway import ChatCompletionRequest
from vllora_llm.engine.plan import Plan
from vllora_llm.engine.registry import discover, load_plan
from vllora_llm.engine.wire import WireRequest

BASE_URL = "http://127.0.0.1:9/v1"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def plans() -> tuple[Plan, ...]:
    return tuple(load_plan(name) for name in sorted(discover()))


# ---- strategies: unified requests in OpenAI's JSON shape ------------------------------------------------------

TEXT = st.text(max_size=12)
SCALAR = st.none() | st.booleans() | st.integers(-1000, 1000) | st.floats(allow_nan=False, allow_infinity=False) | TEXT
JSON = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                    max_leaves=10)
CALL_IDS = st.sampled_from(["call_1", "call_2", "call_3", ""])
URLS = st.sampled_from([
    "https://example.com/cat.png", "data:image/png;base64,iVBORw0KGgo=", "data:application/pdf;base64,JVBERi0=",
    "gs://bucket/cat.jpg", "s3://bucket/key.png", "data:,", "https://x",
])
CACHE = st.none() | st.fixed_dictionaries({"type": st.just("ephemeral")},
                                          optional={"ttl": st.sampled_from(["5m", "1h"])})


def optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


PARTS = st.one_of(
    st.builds(lambda text, cache: {"type": "text", "text": text, **({"cache_control": cache} if cache else {})},
              TEXT, CACHE),
    st.builds(lambda url, detail: {"type": "image_url", "image_url": {"url": url, **detail}},
              URLS, optional(detail=st.sampled_from(["low", "high", "auto"]))),
    st.builds(lambda data, fmt: {"type": "input_audio", "input_audio": {"data": data, "format": fmt}},
              st.sampled_from(["UklGRg==", ""]), st.sampled_from(["wav", "mp3", "flac"])),
    st.builds(lambda f: {"type": "file", "file": f}, optional(
        file_data=st.sampled_from(["data:application/pdf;base64,JVBERi0=", "JVBERi0="]),
        file_id=st.sampled_from(["file-1"]), filename=st.sampled_from(["a.pdf", "doc [1].pdf"]))),
)
CONTENT = st.none() | TEXT | st.lists(PARTS, max_size=3)
ARGUMENTS = st.sampled_from(['{"city": "Paris"}', "{}", "", "not json", "[1, 2]", '{"a": {"b": [1]}}'])
TOOL_CALL = st.builds(lambda i, name, args: {"id": i, "type": "function", "function": {"name": name,
                                                                                        "arguments": args}},
                      CALL_IDS, st.sampled_from(["get_weather", "f", ""]), ARGUMENTS)
REASONING = st.builds(lambda kind, extra: {"type": kind, **extra}, st.sampled_from(["thinking", "redacted_thinking"]),
                      optional(text=TEXT, signature=st.sampled_from(["sig", ""]), data=st.sampled_from(["xyz"])))
SAID = st.one_of(
    st.builds(lambda role, content, extra: {"role": role, "content": content, **extra},
              st.sampled_from(["system", "developer", "user", "user"]), CONTENT,
              optional(name=st.sampled_from(["ann"]))),
    st.builds(lambda content, extra: {"role": "assistant", "content": content, **extra}, CONTENT, optional(
        tool_calls=st.lists(TOOL_CALL, max_size=2), reasoning_details=st.lists(REASONING, max_size=2),
        refusal=TEXT, reasoning=TEXT)),
)
RESULT = st.one_of(  # a tool result, which may answer no call
    st.builds(lambda call_id, content, extra: {"role": "tool", "tool_call_id": call_id, "content": content, **extra},
              CALL_IDS, CONTENT, optional(is_error=st.booleans(), name=st.sampled_from(["get_weather"]))),
    st.builds(lambda content: {"role": "function", "name": "get_weather", "content": content}, CONTENT),
)
MESSAGE = st.one_of(SAID, SAID, SAID, RESULT)
# A conversation that often makes sense (a call, then its result), and sometimes does not.
CONVERSATION = st.one_of(
    st.lists(MESSAGE, min_size=1, max_size=6),
    st.builds(lambda first, call, rest: [first, {"role": "assistant", "content": None, "tool_calls": [call]},
                                         {"role": "tool", "tool_call_id": call["id"], "content": "18C"}, *rest],
              MESSAGE, TOOL_CALL, st.lists(MESSAGE, max_size=2)),
)
SCHEMA = st.recursive(
    st.builds(lambda t, extra: {"type": t, **extra}, st.sampled_from(["string", "integer", "number", "boolean",
                                                                      "null", ["string", "null"]]),
              optional(description=TEXT, enum=st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=2),
                       format=st.sampled_from(["date-time", "email"]))),
    lambda inner: st.one_of(
        st.builds(lambda props, extra: {"type": "object", "properties": props, "required": sorted(props)[:1],
                                        **extra},
                  st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
                  optional(additionalProperties=st.booleans(), **{"$schema": st.just("http://json-schema.org/x")})),
        st.builds(lambda items: {"type": "array", "items": items}, inner),
        st.builds(lambda options: {"anyOf": options}, st.lists(inner, min_size=1, max_size=2)),
        st.builds(lambda d: {"$ref": "#/$defs/d", "$defs": {"d": d}}, inner),
    ),
    max_leaves=6,
)
TOOLS = st.lists(st.builds(lambda name, params, extra: {"type": "function", "function": {
    "name": name, **({"parameters": params} if params is not None else {}), **extra}},
    st.sampled_from(["get_weather", "f"]), st.none() | SCHEMA, optional(description=TEXT, strict=st.booleans())),
    max_size=2)
RESPONSE_FORMAT = st.one_of(
    st.just({"type": "text"}), st.just({"type": "json_object"}),
    st.builds(lambda schema, extra: {"type": "json_schema", "json_schema": {"name": "out", "schema": schema, **extra}},
              SCHEMA, optional(strict=st.booleans(), description=TEXT)),
)
TOOL_CHOICE = st.sampled_from(["auto", "none", "required"]) | st.builds(
    lambda name: {"type": "function", "function": {"name": name}}, st.sampled_from(["get_weather", "nope"]))
PROVIDER_SPECIFIC = optional(
    top_k=st.integers(0, 100), cached_content=st.sampled_from(["cachedContents/abc"]),
    thinking=optional(type=st.sampled_from(["enabled", "disabled", "adaptive"]), budget_tokens=st.integers(0, 70000)),
    additional_parameters=st.dictionaries(TEXT, JSON, max_size=2),
)
PARAMS = optional(
    max_tokens=st.integers(1, 100_000), max_completion_tokens=st.integers(1, 100_000),
    temperature=st.floats(0, 2), top_p=st.floats(0, 1), n=st.integers(1, 3),
    stop=TEXT | st.lists(st.sampled_from(["END", " ", "\n", "###", ""]), max_size=5),
    presence_penalty=st.floats(-2, 2), frequency_penalty=st.floats(-2, 2),
    logit_bias=st.dictionaries(st.sampled_from(["50256", "11"]), st.floats(-100, 100), max_size=2),
    logprobs=st.booleans(), top_logprobs=st.integers(0, 20), user=st.sampled_from(["user-1", "a@b.io", ""]),
    seed=st.integers(-(2**31), 2**31), response_format=RESPONSE_FORMAT, prompt_cache_key=TEXT,
    stream_options=optional(include_usage=st.booleans()), tools=TOOLS, tool_choice=TOOL_CHOICE,
    parallel_tool_calls=st.booleans(), reasoning_effort=st.sampled_from(["minimal", "low", "high", "none"]),
    provider_specific=PROVIDER_SPECIFIC, extra_body=st.dictionaries(st.sampled_from(["x_extra", "metadata"]), JSON,
                                                                    max_size=1),
)
MODELS = st.sampled_from(["gpt-4o-mini", "o3-mini", "gpt-5", "claude-sonnet-4-5", "claude-3-7-sonnet-latest",
                          "gemini-2.5-pro", "gemma-3-27b", "anthropic.claude-3-haiku-20240307-v1:0",
                          "meta.llama3-70b", "a/b c?d"])
REQUESTS = st.builds(lambda model, messages, params: {"model": model, "messages": messages, **params},
                     MODELS, CONVERSATION, PARAMS)


# ---- the property -----------------------------------------------------------------------------------------


def encode_everywhere(request: ChatCompletionRequest) -> None:
    """Every plan, whole and streamed: a wire request with a JSON body, or a typed refusal; the request intact."""
    before = msgspec.json.encode(request.to_dict())
    for plan in plans():
        for stream in (False, True):
            try:
                wire, warnings = plan.encode(request, stream=stream, base_url=BASE_URL)
            except InvalidRequestError:  # MappingError included
                continue
            except Exception as exc:
                raise AssertionError(f"{plan.name} (stream={stream}) raised {exc!r} for {request.to_dict()}") from exc
            assert isinstance(wire, WireRequest), plan.name
            body = json.loads(wire.body)
            assert isinstance(body, dict), plan.name
            assert all(isinstance(w.message, str) for w in warnings)
    assert msgspec.json.encode(request.to_dict()) == before, "a plan changed the request it was given"


@SETTINGS
@given(REQUESTS)
def test_generated_requests_map_or_raise_a_typed_error(data: dict[str, Any]) -> None:
    try:
        request = ChatCompletionRequest.coerce(data)
    except InvalidRequestError:
        return  # e.g. an empty tool name: refused as input, which is a typed answer too
    encode_everywhere(request)


LOOSE_KEYS = st.sampled_from(["model", "messages", "temperature", "top_p", "n", "stop", "tools", "tool_choice",
                              "response_format", "max_tokens", "provider_specific", "logit_bias", "seed", "unknown"])
LOOSE = st.dictionaries(LOOSE_KEYS, JSON | st.floats() | st.lists(MESSAGE, max_size=2), max_size=6)


@SETTINGS
@given(st.one_of(LOOSE, REQUESTS.map(lambda r: {**r, "temperature": math.nan}), st.binary(max_size=40),
                 st.text(max_size=40), JSON))
def test_loosely_typed_input_is_refused_with_a_path_or_maps(data: Any) -> None:
    try:
        request = ChatCompletionRequest.coerce(data)
    except InvalidRequestError as err:
        assert str(err).startswith(f"{err.path or '<request>'}: ")
        return
    encode_everywhere(request)
