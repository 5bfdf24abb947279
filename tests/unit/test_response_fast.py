"""The template-mode response decoder's generated `decode_response` (`lower_decode.lower_response`) reads
every body shape as the spec says: every recorded response body of the template-mode providers, the inline
bodies of their response cases and a set of hand-made shapes are decoded twice, once by the plan and once by
`ReferenceResponse` (tests/unit/_reference_response.py: the spec read through plain getters and templates, one
step at a time, each part's piece built as a dict and then walked into the message), and the results (or
errors) compared."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
import yaml

from vllora_llm.engine.errors import ProviderError
from vllora_llm.engine.gateway import enc_hook
from vllora_llm.engine.registry import load_plan

from ._reference_response import ReferenceResponse

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT / "tests" / "recordings"
CASES = ROOT / "tests" / "conformance" / "responses"
PROVIDERS = ("anthropic", "gemini", "bedrock")
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _decoders(provider: str) -> tuple[Any, Any]:
    """(the plan's decoder, the reference decoder of its spec (tests/unit/_reference_response.py))."""
    plan = load_plan(provider)
    return SimpleNamespace(decode=plan.decode_body), ReferenceResponse(plan.spec["response"], provider)


def _outcome(decoder: Any, body: bytes) -> Any:
    try:
        result = decoder.decode(body)
    except Exception as exc:  # the error itself is what is compared
        return ("error", type(exc), str(exc), getattr(exc, "provider", None), getattr(exc, "error_type", None),
                getattr(exc, "body", None))
    return ("ok", msgspec.to_builtins(result, enc_hook=enc_hook), repr(result), result)


def _compare(provider: str, body: bytes) -> Any:
    fast, general = _decoders(provider)
    got, expected = _outcome(fast, body), _outcome(general, body)
    assert got == expected, body[:300]
    return got


def _recorded() -> list[Any]:
    out = []
    for provider in PROVIDERS:
        for path in sorted((RECORDINGS / provider).glob("*.json")):
            if not path.name.endswith((".request.json", ".status.json")):
                out.append(pytest.param(provider, path, id=f"{provider}/{path.name}"))
    return out or [pytest.param("", None, id="(none)")]


@pytest.mark.parametrize(("provider", "path"), _recorded())
def test_recordings(provider: str, path: Path | None) -> None:
    if path is None:
        pytest.skip("no recordings")
    _compare(provider, path.read_bytes())


def _case_bodies() -> list[Any]:
    out = []
    for provider in PROVIDERS:
        cases = yaml.load((CASES / f"{provider}.yaml").read_text(encoding="utf-8"), Loader=LOADER) or []
        spec_tests = ROOT / "specs" / "providers" / f"{provider}.tests.yaml"  # (their inline cases live there)
        cases += (yaml.load(spec_tests.read_text(encoding="utf-8"), Loader=LOADER) or {}).get("responses") or []
        for case in cases:
            if "body" in case:
                raw = case["body"]
                body = raw.encode() if isinstance(raw, str) else json.dumps(raw).encode()
                out.append(pytest.param(provider, body, id=f"{provider}:{case['id']}"))
    return out


@pytest.mark.parametrize(("provider", "body"), _case_bodies())
def test_case_bodies(provider: str, body: bytes) -> None:
    _compare(provider, body)


# ---- hand-made shapes -----------------------------------------------------------------------------------------

_TEXT = "Hello! How can I help?"


def _anthropic(**top: Any) -> dict[str, Any]:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": [{"type": "text", "text": _TEXT}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 24, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                      "output_tokens": 17}, **top}


def _gemini(**candidate: Any) -> dict[str, Any]:
    return {"candidates": [{"content": {"parts": [{"text": _TEXT}], "role": "model"}, "index": 0,
                            "finishReason": "STOP", **candidate}],
            "usageMetadata": {"promptTokenCount": 24, "totalTokenCount": 41, "candidatesTokenCount": 17,
                              "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 24}]},
            "modelVersion": "m", "responseId": "r"}


def _bedrock(**top: Any) -> dict[str, Any]:
    return {"metrics": {"latencyMs": 412}, "output": {"message": {"content": [{"text": _TEXT}], "role": "assistant"}},
            "stopReason": "end_turn", "usage": {"inputTokens": 24, "outputTokens": 17, "totalTokens": 41}, **top}


def _parts(provider: str, parts: Any) -> dict[str, Any]:
    if provider == "anthropic":
        return _anthropic(content=parts)
    if provider == "gemini":
        return _gemini(content={"parts": parts, "role": "model"})
    return _bedrock(output={"message": {"content": parts, "role": "assistant"}})


_USUAL = {"anthropic": _anthropic, "gemini": _gemini, "bedrock": _bedrock}

_NOT_JSON: list[bytes] = [b"", b"{not json", b'{"a": 1} x', b'{"model": 1e400}', b'{"model": "\xff"}', b'\xff{}',
                          b"[1,]", b'{"x": [1,]}', b'{"x": {"a" 1}}']
_READ_KEY = {"anthropic": b"model", "gemini": b"modelVersion", "bedrock": b"model"}
"""A top-level key each spec reads (a number out of range or bad UTF-8 there is not JSON the mapping can read)."""
_NOT_OBJECTS: list[Any] = [None, [], [1, 2], "text", 3, True, {}]

_COMMON_PARTS: list[Any] = [
    [], None, {}, "text", [1], ["a"], [None], [[]], {"text": "a"},
    [{}], [{"text": ""}], [{"text": None}], [{"text": 5}], [{"text": ["a"]}], [{"text": {"a": 1}}],
]

_ANTHROPIC_PARTS: list[Any] = [
    [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
    [{"type": "text"}],
    [{"type": "text", "text": "a", "citations": []}],
    [{"type": 5, "text": "a"}],
    [{"type": None, "text": "a"}],
    [{"type": ["text"], "text": "a"}],
    [{"type": "unknown", "text": "a"}],
    [{"type": "thinking", "thinking": "hm", "signature": "c2ln"}],
    [{"type": "thinking", "thinking": "hm", "signature": "c2ln"}, {"type": "text", "text": "a"}],
    [{"type": "redacted_thinking", "data": "ZGF0YQ=="}],
    [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"x": 1}}],
    [{"type": "tool_use", "id": "", "name": "f", "input": {}}],
    [{"type": "tool_use", "name": "f"}],
    [{"type": "tool_use", "id": "a", "name": "f", "input": {}}, {"type": "tool_use", "id": "b", "name": "g",
                                                               "input": {"y": [1]}}],
    [{"type": "text", "text": "a"}, {"type": "tool_use", "id": "t", "name": "json_response", "input": {"a": 1}}],
    [{"type": "tool_use", "name": "json_response"}, {"type": "tool_use", "name": "f", "input": {}}],
    [{"type": "tool_use", "id": 5, "name": "f", "input": {}}],
    [{"type": "tool_use", "id": "a", "name": ["f"], "input": {}}],
    [{"type": "thinking", "thinking": 5}],
    [{"type": "server_tool_use", "id": "s", "name": "web_search", "input": {"q": "x"}},
     {"type": "web_search_tool_result", "tool_use_id": "s", "content": [{"type": "web_search_result", "url": "u"}]},
     {"type": "text", "text": "a", "citations": [{"type": "web_search_result_location", "url": "u"}]}],
    [{"type": "text", "text": "a", "citations": [[1], None, {"a": 1}]},
     {"type": "text", "text": "b", "citations": "x"}],
    [[{"type": "x_tool_result", "citations": [1]}], {"type": "text", "text": "b", "citations": None}, [[{"x": 1}]]],
    [{"type": ["x_tool_result"]}, {"type": "y_tool_result"}, "x_tool_result", {"type": "text", "citations": []}],
    [{"type": "thinking", "thinking": "a"}, {"type": "thinking", "thinking": "b", "signature": "c"},
     {"type": "redacted_thinking", "data": "d"}, {"type": "text", "text": "x"}],
]

_GEMINI_PARTS: list[Any] = [
    [{"text": "a"}, {"text": "b"}],
    [{"text": "a", "thoughtSignature": "c2ln"}],
    [{"text": "a", "thought": True}],
    [{"thought": True}],
    [{"thoughtSignature": "c2ln"}],
    [{"text": ""}, {"thoughtSignature": "c2ln"}],
    [{"functionCall": {"name": "f", "args": {"x": 1}}}],
    [{"functionCall": {"name": "f", "args": {}, "id": "c1"}, "thoughtSignature": "c2ln"}],
    [{"functionCall": {"name": "f"}}],
    [{"functionCall": {"name": "f", "partialArgs": [{"x": 1}]}}],
    [{"functionCall": {"name": "f", "args": {}}}, {"functionCall": {"name": "g", "args": {"y": 2}}}],
    [{"functionCall": None}],
    [{"functionCall": {"name": 5, "args": {}}}],
    [{"functionCall": {"name": "f", "args": {}, "id": ["x"]}}],
    [{"text": "a", "thought": True, "thoughtSignature": 5}],
    [{"text": "a", "thoughtSignature": 5}],
    [{"executableCode": {"code": "1"}}],
    [{"codeExecutionResult": {"output": "1"}}],
    [{"inlineData": {"mimeType": "image/png", "data": "AA=="}}],
    [{"unknownPart": 1}],
    [{"text": "a", "unknownPart": 1}],
]

_BEDROCK_PARTS: list[Any] = [
    [{"text": "a"}, {"text": "b"}],
    [{"text": "a", "extra": 1}],
    [{"reasoningContent": {"reasoningText": {"text": "hm", "signature": "c2ln"}}}],
    [{"reasoningContent": {"redactedContent": "ZGF0YQ=="}}],
    [{"reasoningContent": {"reasoningText": {"text": "hm"}}}, {"text": "a"}],
    [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {"x": 1}}}],
    [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}, {"toolUse": {"name": "g"}}],
    [{"toolUse": None}],
    [{"unknownPart": 1}],
    [{"text": "a"}, {"toolUse": {"toolUseId": "t1", "name": "json_response", "input": {"x": 1}}}],
    [{"toolUse": {"toolUseId": 1, "name": "f"}}],
    [{"reasoningContent": {"reasoningText": {"text": 1}}}],
]

_PARTS = {"anthropic": _ANTHROPIC_PARTS, "gemini": _GEMINI_PARTS, "bedrock": _BEDROCK_PARTS}

_USAGES: list[Any] = [None, {}, [], "x", 5, {"unknown": 1}]
_USAGE_KEYS = {
    "anthropic": ("usage", ["input_tokens", "output_tokens", "cache_read_input_tokens",
                            "cache_creation_input_tokens"]),
    "gemini": ("usageMetadata", ["promptTokenCount", "candidatesTokenCount", "totalTokenCount",
                                 "thoughtsTokenCount", "cachedContentTokenCount", "toolUsePromptTokenCount"]),
    "bedrock": ("usage", ["inputTokens", "outputTokens", "totalTokens", "cacheReadInputTokens",
                          "cacheWriteInputTokens"]),
}
_COUNTS: list[Any] = [0, 7, 2.5, 3.0, True, False, None, "5", [1], -1, 10**30]

_TOP_VALUES: list[Any] = [None, 7, 1.5, True, "", "x", [], ["a"], {"a": 1}]
_REASONS: list[Any] = [None, "", "stop", "STOP", "end_turn", "tool_use", "max_tokens", "MAX_TOKENS", "SAFETY",
                       "UNKNOWN_NEW", 5, True, ["x"], {"a": 1}]


def _shapes(provider: str) -> list[Any]:
    usual = _USUAL[provider]
    shapes: list[Any] = [usual(), *_NOT_OBJECTS]
    shapes += [_parts(provider, parts) for parts in _COMMON_PARTS + _PARTS[provider]]
    usage_key, count_keys = _USAGE_KEYS[provider]
    shapes += [{**usual(), usage_key: usage} for usage in _USAGES]
    shapes.append({k: v for k, v in usual().items() if k != usage_key})
    for key in count_keys:
        shapes += [{**usual(), usage_key: {**usual()[usage_key], key: count}} for count in _COUNTS]
    shapes.append({**usual(), usage_key: {**usual()[usage_key], "output_tokens_details": {"thinking_tokens": 4}}})
    if provider == "gemini":
        shapes += [_gemini(finishReason=reason) for reason in _REASONS]
        shapes += [_gemini(index=index) for index in (None, 3, -1, True, 1.0, "1", [0])]
        contents: list[Any] = [None, {}, [], "x", {"parts": None, "role": "model"}]
        shapes += [_gemini(content=content) for content in contents]
        shapes += [{**_gemini(), "responseId": value} for value in _TOP_VALUES]
        shapes += [{**_gemini(), "modelVersion": value} for value in _TOP_VALUES]
        two = _gemini()["candidates"][0]
        candidates: list[Any] = [[], None, {}, "x", [1], [None], [[]], [two, two], [two, 1], {"a": two},
                                 [two, {**two, "index": 1, "finishReason": "MAX_TOKENS"}]]
        shapes += [{**_gemini(), "candidates": value} for value in candidates]
        shapes += [_gemini(finishReason="STOP", content={"parts": [{"functionCall": {"name": "f", "args": {}}}]})]
        blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}}
        shapes += [{**blocked, "candidates": []}, blocked, {**blocked, "candidates": None},
                   {"candidates": [], "promptFeedback": {"blockReason": ""}},
                   {"candidates": [], "promptFeedback": {}}, {"candidates": [], "promptFeedback": "x"},
                   {**blocked, "candidates": [two]}]
    else:
        reason_key = "stop_reason" if provider == "anthropic" else "stopReason"
        shapes += [{**usual(), reason_key: reason} for reason in _REASONS]
        shapes.append({k: v for k, v in usual().items() if k != reason_key})
        shapes += [{**usual(), "id": value} for value in _TOP_VALUES]
        shapes += [{**usual(), "model": value} for value in _TOP_VALUES]
        shapes += [{**usual(), "index": value} for value in (3, None, "1")]
        if provider == "bedrock":
            outputs: list[Any] = [None, {}, [], "x", {"message": None}, {"message": {"content": None}}, {"message": []}]
            shapes += [_bedrock(output=output) for output in outputs]
        shapes.append({**usual(), reason_key: "tool_use", **({"content": _ANTHROPIC_PARTS[10]}
                                                              if provider == "anthropic" else {})})
    return shapes


def _shape_params() -> list[Any]:
    out = []
    for provider in PROVIDERS:
        for at, shape in enumerate(_shapes(provider)):
            out.append(pytest.param(provider, json.dumps(shape).encode(), id=f"{provider}-{at}"))
        for at, body in enumerate(body.replace(b'"model"', b'"%s"' % _READ_KEY[provider]) for body in _NOT_JSON):
            out.append(pytest.param(provider, body, id=f"{provider}-not-json-{at}"))
    return out


@pytest.mark.parametrize(("provider", "body"), _shape_params())
def test_shapes(provider: str, body: bytes) -> None:
    _compare(provider, body)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_usual_answer(provider: str) -> None:
    """The usual answer, also when its text is not ASCII, is one text message (as the reference reads it)."""
    for body in (_USUAL[provider](), _parts(provider, [{"type": "text", "text": "héllo ✓"} if provider == "anthropic"
                                                       else {"text": "héllo ✓"}])):
        outcome = _compare(provider, json.dumps(body).encode())
        assert outcome[0] == "ok"
        assert outcome[3].choices[0].message.content, outcome


def test_duplicate_keys_read_as_json_reads_them() -> None:
    body = b'{"content": [{"type": "text", "text": "a"}], "content": [{"type": "text", "text": "b"}], "id": 1}'
    assert _compare("anthropic", body)[3].choices[0].message.content == "b"


_USAGE_BLOCKS: list[Any] = [None, 7, "x", [], [1], {}, {"a": 1}, True]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_usage_read_inline_with_each_object_tested_once(provider: str) -> None:
    """`decode_response` reads the usage counts with one type test per object (a view's fields under one test,
    `FunctionBuilder.object_of` for a dict), and its kind templates do not test the part again; on any shape of the
    usage block (and of its nested objects) the counts are what the plan's `read_usage` reads (the parts:
    `test_shapes` above)."""
    import linecache

    from vllora_llm.engine.response import UsageMap, build_usage
    from vllora_llm.engine.transforms import Context

    plan = load_plan(provider)
    spec = plan.spec["response"]
    usage_map = UsageMap(spec.get("usage"))
    usual = msgspec.json.decode(generated_usual_body(provider))
    plan.decode(200, {}, msgspec.json.encode(usual))  # (the generated source is compiled on first use)
    source = "".join(linecache.getlines(plan.decode_body.__code__.co_filename))
    head, tail = source.split("item = data", 1)
    assert source.count("type(data) is ") == 1  # (its top-level values read under one test: a view's or a dict's)
    assert "type(item) is " not in tail.split("item = ", 1)[0]  # (was one test per key read; then an extra may
    # read the body decoded again as plain data, decode_extras._tested)
    assert head.count("type(item) is ") == 1  # (the part's, once: its kinds read it without a test)
    roots = usage_map.roots or ()
    for root in roots:
        counts = usual.get(root)
        shapes = [*_USAGE_BLOCKS, counts]
        if isinstance(counts, dict):
            shapes += [{**counts, key: value} for key in counts for value in (None, "1", 2.5, {"n": 1}, [3], True)]
        for shape in shapes:
            body = {**usual, root: shape}
            got = plan.decode(200, {}, msgspec.json.encode(body)).usage
            assert got == build_usage(usage_map.read(body, Context(provider))), (root, shape)


def generated_usual_body(provider: str) -> bytes:
    from benchmarks.wire import payloads

    return payloads(provider, 4).response


_MADE_UP = {
    "parts": "content",
    "kind_by": {"field": "type"},
    "answer_tools": ["answer"],
    "finish_reason": {"from": "stop", "tool_calls_when_calls": True, "map": {"done": "stop"}},
    "kinds": {
        "whole": "$piece",                                   # a template that is not an object: the piece as given
        "refusal": {"refusal": "$text"},
        "call": {"tool_call": "$call"},                      # a call that is not written as an object
        "object_call": {"tool_call": {"id": "$id", "name": "$name", "arguments": "$arguments"}},
        "thought": {"reasoning": "$detail", "text": "$text"},
        "empty": {},
    },
}
_MADE_UP_PARTS: list[Any] = [
    [{"type": "whole", "piece": {"text": "a"}}, {"type": "whole", "piece": {"tool_call": {"name": "f"}}}],
    [{"type": "whole", "piece": {"tool_call": {"name": "answer", "arguments": "{}"}}}],
    [{"type": "whole", "piece": {"reasoning": {"text": "r"}}}, {"type": "whole", "piece": {"refusal": 5}}],
    [{"type": "whole", "piece": None}, {"type": "whole", "piece": {}}, {"type": "whole"}],
    [{"type": "whole", "piece": "text"}],
    [{"type": "whole", "piece": 5}],
    [{"type": "whole", "piece": {"tool_call": "x"}}],
    [{"type": "refusal", "text": "no"}, {"type": "refusal", "text": " way"}, {"type": "refusal"}],
    [{"type": "call", "call": {"id": "c", "name": "f", "arguments": "{}"}}, {"type": "call", "call": {}}],
    [{"type": "call", "call": {"name": "answer", "arguments": "[1]"}}, {"type": "call", "call": 5}],
    [{"type": "call", "call": {"name": "answer"}}, {"type": "call", "call": {"name": 5}}],
    [{"type": "thought", "detail": {"text": "r"}}, {"type": "thought", "text": "t", "detail": {"signature": "s"}}],
    [{"type": "thought", "detail": {"text": 5}}],
    [{"type": "thought", "detail": 5}],
    [{"type": "empty", "text": "x"}, {"type": "thought"}],
    [{"type": "object_call", "name": "answer"}, {"type": "object_call", "name": "answer", "arguments": 5}],
    [{"type": "object_call", "name": "f"}, {"type": "object_call", "name": "answer", "arguments": "[2]"}],
    [{"type": "object_call", "name": "f", "arguments": 5}],
]


@pytest.mark.parametrize("parts", _MADE_UP_PARTS)
@pytest.mark.parametrize("stop", [None, "done", "other"])
def test_made_up_kinds(parts: Any, stop: Any) -> None:
    """Kinds the shipped specs do not write: a template that is not an object, a call that is not written as an
    object, refusal, a reasoning object beside a text, a kind declaring nothing; and the finish map's rules."""
    from vllora_llm.engine.response import _TemplateResponse

    body = json.dumps({"content": parts, "stop": stop}).encode()
    got = _outcome(_TemplateResponse(_MADE_UP, "made-up"), body)
    assert got == _outcome(ReferenceResponse(_MADE_UP, "made-up"), body)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_field_the_mapping_does_not_read_is_skipped(provider: str) -> None:
    """The body is decoded into views of the fields the mapping reads (lower_decode.py): a field it does not
    read is skipped as JSON (its syntax checked) without being decoded, so a number out of range or bad UTF-8
    there does not fail the answer (as in the streams' views); in a field it reads, it does (above)."""
    plan = load_plan(provider)
    usual = json.dumps(_USUAL[provider]()).encode()
    for junk in (b'1e400', b'"\xff"'):
        body = usual[:-1] + b', "unread_field": ' + junk + b"}"
        assert plan.decode(200, {}, body).choices[0].message.content == _TEXT
    with pytest.raises(ProviderError, match="not valid JSON"):
        plan.decode(200, {}, usual[:-1] + b', "unread_field": [1,]}')
