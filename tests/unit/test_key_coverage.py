"""Every key the spec schema accepts is read: a spec using it compiles differently from one without it.

The keys are walked from the JSON Schema itself (`specs/schema/provider-spec.v*.json`), so a key added to
the schema without a row here fails `test_every_schema_key_has_a_row`; a row whose two specs come out the same
(rendered requests, decoded responses and streams, errors, plan attributes, generated docs) fails
`test_the_key_changes_what_the_spec_does`. A key nothing reads is a key where a typo validates clean: it is
implemented or removed from the schema, never left. Each row is (key, patch with it, patch without it) over a
small template-mode spec (`TOY`); a patch maps a `/`-separated path to a value (`DEL` removes it).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from vllora_llm.engine.errors import LLMError, SpecError
from vllora_llm.engine.frames import Frame
from vllora_llm.engine.gateway import ChatCompletionRequest
from vllora_llm.engine.gateway_ops import CreateEmbeddingRequest, CreateImageRequest
from vllora_llm.engine.plan import Plan
from vllora_llm.engine.registry import discover, resolve
from vllora_llm.engine.responses_types import CreateResponse
from vllora_llm.engine.spec.diagnostics import Diagnostics
from vllora_llm.tools import spec_docs
from vllora_llm.tools.matrix import column_for, render_json

DEL = object()

TOY: dict[str, Any] = {
    "apiVersion": "vllora.dev/v1",
    "kind": "ProviderSpec",
    "metadata": {"name": "toy", "revision": 1, "api_version": "2030"},
    "endpoint": {"base_url": "http://toy.test", "chat": {"path": "/chat"}, "stream": {"path": "/stream"}},
    "auth": {"scheme": "bearer", "env": "TOY_KEY"},
    "params": {"model": {}, "max_tokens": {}, "temperature": {}, "top_p": {}, "stop": {}, "tools": {},
               "tool_choice": {}, "user": {}},
    "messages": {"mode": "template", "roles": {"system": "system", "user": "user", "assistant": "assistant",
                                               "tool": "tool"}, "parts": {
        "text": {"type": "text", "text": "$text"},
        "image_url": {"type": "image", "url": "$image_url.url"},
        "tool_call": {"type": "call", "id": "$id", "name": "$function.name"},
        "tool_result": {"type": "result", "id": "$tool_call_id", "content": "$content"},
        "reasoning": {"type": "thought", "text": "$text", "sig": "$signature"}}},
    "response": {"mode": "template", "id": "id", "model": "model", "choices": "choices", "parts": "content",
                 "kind_by": {"field": "type"}, "kinds": {"text": {"text": "$text"}},
                 "finish_reason": {"from": "stop", "map": {"done": "stop"}}, "usage": {"prompt_tokens": "$usage.in"}},
    "stream": {"framing": "sse", "mode": "events", "event_type": {"from": "field", "name": "type"},
               "terminal": "event", "events": {"delta": {"text": "$text"}, "end": {"finish": "$stop", "end": True}}},
    "errors": {"message": "error.message", "type": "error.type"},
}
"""A small spec in template mode; rows patch it."""

PASSTHROUGH = {"messages": {"mode": "passthrough"}, "response": {"mode": "passthrough"},
               "stream": {"framing": "sse", "mode": "passthrough", "done_data": "[DONE]"}}
"""A patch making TOY an OpenAI-shaped spec (for the passthrough keys)."""

RICH = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "look", "cache_control": {"type": "ephemeral"}},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}}]},
        {"role": "assistant", "content": "ok", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}],
         "reasoning_details": [{"type": "thinking", "text": "hmm", "signature": "sig"},
                               {"type": "thinking", "signature": "only"}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "system", "content": "later"},
        {"role": "user", "content": "thanks"},
    ],
    "max_tokens": 5, "temperature": 1.5, "top_p": 0.9, "stop": "X", "user": "u1",
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "tool_choice": "auto",
}
"""One request that touches every part kind the toy renders and most parameters."""

RESPONSE = {"id": "r1", "model": "mm", "choices": [{"index": 0, "content": [{"type": "text", "text": "hi"}],
                                                     "stop": "done", "message": {"role": "assistant", "content": "hi"},
                                                     "finish_reason": "stop"}],
            "usage": {"in": 3, "prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
            "object": "chat.completion", "created": 1}
EVENTS = [{"type": "delta", "text": "he", "choices": [{"index": 0, "delta": {"content": "he"}}]},
          {"type": "end", "stop": "done", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
ERRORS = [(429, {"x-req": "q1", "retry-after": "3"}, {"error": {"message": "slow", "type": "rate", "code": "c"},
                                                      "rid": "b1", "wait": "7s"}),
          (529, {"x-kind": "Overloaded:extra"}, {"error": {"message": "busy", "type": "overloaded"}}),
          (418, {}, {"error": {"message": "teapot", "type": "Teapot"}})]


def _caught(run: Callable[[], Any]) -> Any:
    try:
        return run()
    except (LLMError, SpecError) as exc:
        return ("raises", type(exc).__name__, str(exc))


def wire(plan: Plan, request: dict[str, Any] = RICH, *, stream: bool = False, model: str = "m") -> Any:
    def run() -> Any:
        encoded, warnings = plan.encode(ChatCompletionRequest.coerce({**request, "model": model}), stream=stream)
        return (encoded.method, encoded.url, encoded.headers, json.loads(encoded.body),
                [(w.param, w.code, w.message) for w in warnings])

    return _caught(run)


def reply(plan: Plan, body: Any = RESPONSE) -> Any:
    return _caught(lambda: plan.decode(200, {}, json.dumps(body).encode()).to_dict())


def chunks(plan: Plan, events: list[Any] = EVENTS) -> Any:
    def run() -> Any:
        decoder = plan.stream_decoder()
        out = [c for e in events
               for c in decoder.feed(Frame(name="", payload=e if isinstance(e, str) else json.dumps(e)))]
        out += decoder.close()
        return [c.to_dict() for c in out]

    return _caught(run)


def fail(plan: Plan) -> Any:
    out = []
    for status, headers, body in ERRORS:
        error = plan.error(status, headers, json.dumps(body).encode())
        out.append((type(error).__name__, str(error), getattr(error, "retry_after", None),
                    getattr(error, "request_id", None), getattr(error, "retryable", None)))
    return out


def attrs(plan: Plan) -> Any:
    return (plan.name, plan.display_name, plan.revision, plan.api_version, plan.otel_provider_name,
            plan.default_base_url, plan.base_url_hint, plan.base_url_env, plan.placeholders, plan.auth,
            plan.framing, plan.stray_lines, plan.event_header, plan.propagate_trace_context,
            _caught(lambda: plan.bind({}, {}).resolve_base_url()))


def operations(plan: Plan) -> Any:
    out = []
    requests = {"embeddings": CreateEmbeddingRequest.coerce({"model": "e-1", "input": ["a", "b"], "dimensions": 4}),
                "images": CreateImageRequest.coerce({"prompt": "p", "model": "i-1", "n": 2, "size": "9x9"})}
    bodies = {"embeddings": {"data": [{"embedding": [1.0], "index": 0}], "model": "e", "vectors": [[1.0]],
                             "usage": {"prompt_tokens": 1, "total_tokens": 1}},
              "images": {"created": 1, "data": [{"b64_json": "AA"}], "images": ["AA"], "bad": "why"}}
    requests["responses"] = CreateResponse.coerce({"model": "r-1", "input": "hi", "temperature": 0.5})
    bodies["responses"] = {"id": "resp_1", "object": "response", "created_at": 1, "model": "r", "status": "completed",
                           "output": []}
    for name, request in requests.items():
        def run(name: str = name, request: Any = request) -> Any:
            operation = plan.operation(name)
            wires, warnings = operation.encode(request, base_url="http://toy.test")
            if name == "responses":
                streamed, _ = operation.encode(request, base_url="http://toy.test", stream=True)
                wires += streamed
            decoded = _caught(lambda: operation.decode(request.model, 200, {}, json.dumps(bodies[name]).encode()))
            error = operation.error(request.model, 429, {}, b'{"error": {"message": "m", "type": "t"}, "msg": "x"}')
            return ([(w.method, w.url, json.loads(w.body)) for w in wires], [w.message for w in warnings],
                    getattr(decoded, "to_dict", lambda: decoded)(), str(error), operation.concurrency(request.model))

        out.append(_caught(run))
    return out


def prompt_cache(merged: dict[str, Any]) -> Any:
    """The prompt-cache operation's choices: minimum per model, the split, every call it renders, what it reads
    back, and which errors it takes for a gone or too small cache."""
    import msgspec

    from vllora_llm.engine.errors import InvalidRequestError
    from vllora_llm.engine.prompt_cache import compile_prompt_cache

    def run() -> Any:
        plan = compile_prompt_cache(merged, "toy")
        if plan is None:
            return None
        full = {"turns": [{"p": [1]}, {"p": [2]}, {"p": [3]}], "sys": "s"}
        split = plan.split("m", full, {"turns": [{"p": [1]}, {"p": [2]}], "sys": "s"})
        straddle = plan.split("m", {"turns": [{"p": [1]}, {"p": [2, 3]}]}, {"turns": [{"p": [1]}, {"p": [2]}]})
        if split is None:
            return ("no split", straddle)
        wires = [plan.create("http://t", "m", split, 60), plan.get("http://t", "caches/1"),
                 plan.delete("http://t", "caches/1"), plan.list_page("http://t", "tok")]
        resource = {"name": "caches/1", "model": "m", "displayName": "d", "items": [{"name": "caches/2"}],
                    "next": "n2"}
        errors = [InvalidRequestError("the cache is gone", status=404), InvalidRequestError("too small", status=400)]
        return (plan.minimum("m"), plan.minimum("big-1"), straddle and straddle.rest, split.cached, split.rest,
                split.size_estimate,
                plan.using(split.rest, "caches/1"),
                [(w.method, w.url, w.body) for w in wires],
                msgspec.to_builtins(plan.decode_resource(200, {}, json.dumps(resource).encode())),
                msgspec.to_builtins(plan.decode_page(200, {}, json.dumps(resource).encode())),
                [(plan.gone(e), plan.too_small(e)) for e in errors],
                str(plan.error(429, {}, b'{"error": {"message": "slow"}, "msg": "x"}')), plan.default_ttl)

    return _caught(run)


LIST_REPLY = {"id": "r2", "model": "mm", "object": "chat.completion", "created": 1, "choices": [
    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "t"}, {"type": "text", "text": "hi"}]}}]}
"""A passthrough-shaped answer whose content is a list of typed chunks (`response.content_parts`)."""
INDEXLESS = [{"id": "s", "model": "mm", "object": "chat.completion.chunk", "created": 1, "choices": [
    {"index": 0, "delta": {"tool_calls": [
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]}}]}, "[DONE]"]
"""Parallel tool calls streamed without `index` (`stream.tool_call_index`)."""


def everything(plan: Plan, merged: dict[str, Any]) -> Any:
    """What a spec does, as one comparable value."""
    versions = {name: (wire(versioned), attrs(versioned)) for name in merged.get("versions") or {}
                for versioned in [Plan(merged, api_version=str(name))]}
    return {
        "versions": versions, "prompt_cache": prompt_cache(merged),
        "wire": wire(plan), "stream": wire(plan, stream=True), "big": wire(plan, model="big-1"),
        "huge": wire(plan, model="big-huge"), "reply": reply(plan), "chunks": chunks(plan), "errors": fail(plan),
        "attrs": attrs(plan), "operations": operations(plan),
        "list_reply": reply(plan, LIST_REPLY), "indexless": chunks(plan, INDEXLESS),
        "docs": spec_docs.render(plan.name, merged), "matrix": render_json([column_for(plan.name, None, merged)]),
    }


def patched(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for path, value in patch.items():
        keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split("/")]
        node = out
        for key in keys[:-1]:
            node = node[key] if isinstance(node, list) else node.setdefault(key, {})
        if value is DEL:
            node.pop(keys[-1], None) if isinstance(node, dict) else node.pop(keys[-1])
        else:
            node[keys[-1]] = copy.deepcopy(value)
    return out


def build(data: dict[str, Any], folder: Path) -> tuple[Plan, dict[str, Any]]:
    """Validate `data` as a spec file (every diagnostic is a failure) and compile it."""
    name = data["metadata"]["name"]
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    diags = Diagnostics()
    merged = resolve(name, discover([folder]), diags)
    problems = [d for d in diags.items if d.severity == "ERROR"]
    assert not problems, "\n".join(map(str, problems))
    assert merged is not None
    return Plan(merged), merged


# ---- the rows ------------------------------------------------------------------------------------------------

PS = "params/"
MS = "messages/"
OV = {"match": ["big-*"]}
EMB = {"endpoint": {"path": "/embed"}, "params": {"model": {}, "input": {}}}
IMG = {"endpoint": {"path": "/images"}, "params": {"prompt": {}, "n": {}}}
TOKEN = {"scheme": "bearer", "env": "K"}
CALL = {"tool_call": {"id": "x", "name": "$text"}}
SYS = {"later": "user", "to": "sys"}

TWO_LAYERS = [{**OV, "params": {"top_p": None}}, {"match": ["big-h*"], "params": {"temperature": None}}]
"""v1 uses the last matching layer only; v2 merges every matching one, in order."""

ROWS: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = [
    # top level and metadata
    ("apiVersion", {"overrides": TWO_LAYERS}, {"overrides": TWO_LAYERS, "apiVersion": "vllora.dev/v2"}),
    ("kind", {}, None),
    ("metadata.name", {}, {"metadata/name": "toy2"}),
    ("metadata.display_name", {"metadata/display_name": "Toy"}, {}),
    ("metadata.api_version", {}, {"metadata/api_version": "2031"}),
    ("metadata.revision", {}, {"metadata/revision": 2}),
    ("metadata.description", {"metadata/description": "A toy."}, {}),
    ("metadata.docs_url", {"metadata/docs_url": "https://toy.test/docs"}, {}),
    ("metadata.matrix_note", {"metadata/matrix_note": "a note"}, {}),
    ("metadata.otel_provider_name", {"metadata/otel_provider_name": "toy.ai"}, {}),
    ("extends", {"extends": "openai"}, {}),
    ("versions", {"versions": {"9": {"headers": {"x-v": "9"}}}}, {}),
    ("#version_patch.note", {"versions": {"9": {"note": "the 2031 API"}}}, {"versions": {"9": {}}}),
    ("headers", {"headers": {"x-v": "{api_version}"}}, {}),
    # endpoint
    ("#endpoint_block.base_url", {}, {"endpoint/base_url": "http://other.test"}),
    ("#endpoint_block.base_url_env", {"endpoint/base_url_env": "TOY_URL"}, {}),
    ("#endpoint_block.base_url_hint", {"endpoint/base_url_hint": "no /v1"}, {}),
    ("#endpoint_block.propagate_trace_context", {"endpoint/propagate_trace_context": True}, {}),
    ("#endpoint_block.placeholders", {"endpoint/base_url": "http://{r}.test", "endpoint/placeholders": {"r": {}}},
     {"endpoint/base_url": "http://r.test"}),
    ("#endpoint_block.placeholders.*.default", {"endpoint/base_url": "http://{r}.test",
                                                "endpoint/placeholders": {"r": {"default": "eu"}}},
     {"endpoint/base_url": "http://{r}.test", "endpoint/placeholders": {"r": {}}}),
    ("#endpoint_block.placeholders.*.env", {"endpoint/base_url": "http://{r}.test",
                                            "endpoint/placeholders": {"r": {"env": "TOY_R"}}},
     {"endpoint/base_url": "http://{r}.test", "endpoint/placeholders": {"r": {}}}),
    ("#endpoint_block.chat", {}, {"endpoint/chat/path": "/other"}),
    ("#endpoint_block.chat.path", {}, {"endpoint/chat/path": "/other"}),
    ("#endpoint_block.chat.method", {"endpoint/chat/method": "PUT"}, {}),
    ("#endpoint_block.chat.query", {"endpoint/chat/query": {"a": "b"}}, {}),
    ("#endpoint_block.chat.body", {"endpoint/chat/body": {"a": "b"}}, {}),
    ("#endpoint_block.stream", {}, {"endpoint/stream": DEL}),
    ("#endpoint_block.stream.path", {}, {"endpoint/stream/path": "/other"}),
    ("#endpoint_block.stream.method", {"endpoint/stream/method": "PUT"}, {}),
    ("#endpoint_block.stream.query", {"endpoint/stream/query": {"alt": "sse"}}, {}),
    ("#endpoint_block.stream.body", {"endpoint/stream/body": {"stream": True}}, {}),
    # auth
    ("auth.scheme", {}, {"auth/scheme": "none"}),
    ("auth.name", {"auth": {"scheme": "header", "name": "x-key", "env": "K"}},
     {"auth": {"scheme": "header", "name": "y-key", "env": "K"}}),
    ("auth.prefix", {"auth/prefix": "Token "}, {}),
    ("auth.env", {}, {"auth/env": "OTHER_KEY"}),
    ("auth.signing_name", {"auth": {"scheme": "aws_sigv4", "signing_name": "svc"}}, {"auth": {"scheme": "aws_sigv4"}}),
    ("auth.signing_region", {"auth": {"scheme": "aws_sigv4", "signing_region": "eu"}},
     {"auth": {"scheme": "aws_sigv4"}}),
    ("auth.package_extra", {"auth": {"scheme": "aws_sigv4", "package_extra": "bedrock"}},
     {"auth": {"scheme": "aws_sigv4"}}),
    ("auth.api_key", {"auth/api_key": TOKEN}, {}),
    ("auth.api_key.scheme", {"auth/api_key": TOKEN}, {"auth/api_key": {**TOKEN, "scheme": "query", "name": "k"}}),
    ("auth.api_key.name", {"auth/api_key": {**TOKEN, "scheme": "header", "name": "a"}},
     {"auth/api_key": {**TOKEN, "scheme": "header", "name": "b"}}),
    ("auth.api_key.prefix", {"auth/api_key": {**TOKEN, "prefix": "P "}}, {"auth/api_key": TOKEN}),
    ("auth.api_key.env", {"auth/api_key": TOKEN}, {"auth/api_key": {**TOKEN, "env": "J"}}),
    # policy, params
    ("#policy.unsupported", {"policy": {"unsupported": "error"}}, {}),
    ("#params.*.to", {PS + "user/to": "meta.user"}, {}),
    ("#params.*.default", {PS + "seed": {"default": 7}}, {}),
    ("#params.*.default_warn", {PS + "seed": {"default": 7, "default_warn": True}}, {PS + "seed": {"default": 7}}),
    ("#params.*.range", {PS + "temperature/range": {"max": 1}}, {}),
    ("#params.*.range.min", {PS + "temperature/range": {"min": 2}}, {PS + "temperature/range": {}}),
    ("#params.*.range.max", {PS + "temperature/range": {"max": 1}}, {PS + "temperature/range": {}}),
    ("#params.*.range.action", {PS + "temperature/range": {"max": 1, "action": "error"}},
     {PS + "temperature/range": {"max": 1}}),
    ("#params.*.map", {PS + "tool_choice/map": {"auto": "AUTO"}}, {}),
    ("#params.*.template", {PS + "user/template": {"id": "$"}}, {}),
    ("#params.*.each", {PS + "tools/each": {"n": "$function.name"}}, {}),
    ("#params.*.transform", {PS + "stop/transform": "as_list"}, {}),
    ("#params.*.transform.name", {PS + "stop/transform": {"name": "as_list"}},
     {PS + "stop/transform": {"name": "omit"}}),
    ("#params.*.transform.args", {PS + "user/transform": {"name": "wrap", "args": {"key": "a"}}},
     {PS + "user/transform": {"name": "wrap", "args": {"key": "b"}}}),
    ("#params.*.unsupported", {PS + "top_p": {"unsupported": "error"}}, {}),
    ("#params.*.allow", {PS + "n": {"unsupported": True, "allow": [1]}}, {PS + "n": {"unsupported": True}}),
    ("#params.*.note", {PS + "n": {"unsupported": True, "note": "why"}}, {PS + "n": {"unsupported": True}}),
    ("#params.*.conflicts_with", {PS + "top_p/conflicts_with": ["temperature"]}, {}),
    ("#params.*.conflicts_with.[].param", {PS + "top_p/conflicts_with": [{"param": "temperature"}]},
     {PS + "top_p/conflicts_with": [{"param": "user"}]}),
    ("#params.*.conflicts_with.[].values", {PS + "top_p/conflicts_with": [{"param": "user", "values": ["u1"]}]},
     {PS + "top_p/conflicts_with": [{"param": "user", "values": ["u2"]}]}),
    ("#params.*.conflicts_with.[].except", {PS + "top_p/conflicts_with": [{"param": "user", "except": ["u1"]}]},
     {PS + "top_p/conflicts_with": [{"param": "user"}]}),
    ("#params.*.unless", {PS + "top_p/unless": "temperature"}, {}),
    ("#params.*.requires", {PS + "top_p/requires": ["seed"]}, {}),
    ("#params.*.omit_when", {PS + "tools/omit_when": {"tool_choice": "auto"}}, {}),
    # messages
    ("#messages.mode", {}, {MS + "mode": "passthrough"}),
    ("#messages.to", {MS + "to": "turns"}, {}),
    ("#messages.roles", {MS + "roles": {"user": "human", "assistant": "ai", "tool": "user", "system": "user"}}, {}),
    ("#messages.merge_consecutive_roles", {MS + "merge_consecutive_roles": True,
                                           MS + "roles": {"user": "user", "assistant": "assistant", "tool": "user"}},
     {MS + "roles": {"user": "user", "assistant": "assistant", "tool": "user"}}),
    ("#messages.first_role", {MS + "first_role": "assistant"}, {}),
    ("#messages.turn", {MS + "turn": {"who": "$role", "blocks": "$parts"}}, {}),
    ("#messages.order", {MS + "order": ["tool_call", "*"]}, {}),
    ("#messages.parts.text", {}, {MS + "parts/text": {"t": "$text"}}),
    ("#messages.parts.image_url", {}, {MS + "parts/image_url": {"u": "$image_url.url"}}),
    ("#messages.parts.tool_call", {}, {MS + "parts/tool_call": {"c": "$id"}}),
    ("#messages.parts.tool_result", {}, {MS + "parts/tool_result": {"r": "$content"}}),
    ("#messages.parts.reasoning", {}, {MS + "parts/reasoning": {"r": "$text"}}),
    ("#messages.parts.input_audio", {MS + "parts/input_audio": {"a": "$input_audio.data"}}, {}),
    ("#messages.parts.file", {MS + "parts/file": {"f": "$file.file_data"}}, {}),
    ("#messages.parts.redacted_reasoning", {MS + "parts/redacted_reasoning": {"d": "$data"}}, {}),
    ("#messages.parts.refusal", {MS + "parts/refusal": {"r": "$text"}}, {}),
    ("#messages.system", {MS + "system": SYS}, {}),
    ("#messages.system.to", {MS + "system": SYS}, {MS + "system": {**SYS, "to": "instructions"}}),
    ("#messages.system.format", {MS + "system": {**SYS, "format": "parts"}}, {MS + "system": SYS}),
    ("#messages.system.take", {MS + "system": {**SYS, "take": "all"}}, {MS + "system": SYS}),
    ("#messages.system.later", {MS + "system": {"to": "sys", "later": "user"}}, {MS + "system": {"to": "sys"}}),
    ("#messages.system.roles", {MS + "system": {**SYS, "roles": ["developer"]}}, {MS + "system": SYS}),
    ("#messages.system.template", {MS + "system": {**SYS, "format": "parts", "template": {"p": "$parts"}}},
     {MS + "system": {"to": "sys", "format": "parts"}}),
    ("#messages.tool_results", {MS + "tool_results": {"require_call": True}}, {}),
    ("#messages.tool_results.require_call", {MS + "tool_results": {"require_call": True}},
     {MS + "tool_results": {"require_call": False}}),
    ("#messages.cache_points", {MS + "cache_points": {"template": {"cache": "$cache_control.type"}}}, {}),
    ("#messages.cache_points.template", {MS + "cache_points": {"template": {"cache": "$cache_control.type"}}}, {}),
    ("#messages.signature_only_reasoning", {MS + "signature_only_reasoning": {"attach_as": "sig"}}, {}),
    ("#messages.signature_only_reasoning.attach_as", {MS + "signature_only_reasoning": {"attach_as": "sig"}},
     {MS + "signature_only_reasoning": {"attach_as": "signature"}}),
    ("#messages.drop_fields", {**PASSTHROUGH, MS + "drop_fields": ["tool_calls"]}, PASSTHROUGH),
    ("#messages.rename_fields", {**PASSTHROUGH, MS + "rename_fields": {"tool_calls": "calls"}}, PASSTHROUGH),
    # response
    ("response.mode", {}, {"response/mode": "passthrough"}),
    ("response.id", {}, {"response/id": DEL}),
    ("response.model", {}, {"response/model": DEL}),
    ("response.choices", {}, {"response/choices": DEL}),
    ("response.index", {"response/index": "index"}, {}),
    ("response.parts", {}, {"response/parts": "message.content"}),
    ("response.kind_by", {}, {"response/kind_by": DEL}),
    ("response.kind_by.field", {}, {"response/kind_by": {"field": "kind"}}),
    ("response.kind_by.present", {"response/kind_by": {"present": [["text", "text"]]}},
     {"response/kind_by": {"present": [["missing", "text"]]}}),
    ("response.kinds", {}, {"response/kinds": {}}),
    ("response.finish_reason", {}, {"response/finish_reason": DEL}),
    ("response.finish_reason.from", {}, {"response/finish_reason/from": "finish"}),
    ("response.finish_reason.map", {}, {"response/finish_reason/map": {}}),
    ("response.finish_reason.default", {"response/finish_reason/default": "error",
                                        "response/finish_reason/map": {}}, {"response/finish_reason/map": {}}),
    ("response.finish_reason.tool_calls_when_calls", {"response/finish_reason/tool_calls_when_calls": True,
                                                      "response/kinds/text": CALL}, {"response/kinds/text": CALL}),
    ("response.usage", {}, {"response/usage": DEL}),
    ("response.blocked", {"response/blocked": {"when": "id"}, "response/choices": "none"},
     {"response/choices": "none"}),
    ("response.blocked.when", {"response/blocked": {"when": "id"}, "response/choices": "none"},
     {"response/blocked": {"when": "model"}, "response/choices": "none"}),
    # stream
    ("stream.framing", {}, {"stream/framing": "aws_event_stream"}),
    ("stream.mode", {}, {"stream/mode": "passthrough"}),
    ("stream.done_data", {**PASSTHROUGH, "stream/done_data": "[END]"}, PASSTHROUGH),
    ("stream.terminal", {}, {"stream/terminal": "eof"}),
    ("stream.stray_lines", {"stream/stray_lines": "as_data"}, {}),
    ("stream.event_type", {}, {"stream/event_type": DEL}),
    ("stream.event_type.from", {}, {"stream/event_type/from": "sse_event"}),
    ("stream.event_type.name", {}, {"stream/event_type/name": "kind"}),
    ("stream.events", {}, {"stream/events/delta": "ignore"}),
    ("stream.error_when", {"stream": {"framing": "sse", "mode": "whole_response", "error_when": "id"}},
     {"stream": {"framing": "sse", "mode": "whole_response"}}),
    # errors
    ("errors.message", {}, {"errors/message": "msg"}),
    ("errors.type", {}, {"errors/type": "kind"}),
    ("errors.code", {"errors/code": "error.type"}, {"errors/code": "error.missing"}),
    ("errors.request_id_header", {"errors/request_id_header": "x-req"}, {}),
    ("errors.request_id", {"errors/request_id": "rid"}, {}),
    ("errors.type_header", {"errors/type_header": "x-kind"}, {}),
    ("errors.retry_after", {"errors/retry_after": {"from": "wait", "transform": "duration_seconds"}},
     {"errors/retry_after": {"from": "nowhere", "transform": "duration_seconds"}}),
    ("errors.retry_after.from", {"errors/retry_after": {"from": "wait", "transform": "duration_seconds"}},
     {"errors/retry_after": {"from": "rid", "transform": "duration_seconds"}}),
    ("errors.retry_after.transform", {"errors/retry_after": {"from": "wait", "transform": "duration_seconds"}},
     {"errors/retry_after": {"from": "wait"}}),
    ("errors.retry_after.transform.name", {"errors/retry_after": {"from": "wait",
                                                                  "transform": {"name": "duration_seconds"}}},
     {"errors/retry_after": {"from": "wait", "transform": {"name": "json_dumps"}}}),
    ("errors.retry_after.transform.args", {"errors/retry_after": {"from": "wait",
                                                                  "transform": {"name": "join", "args": {"sep": "a"}}}},
     {"errors/retry_after": {"from": "error", "transform": {"name": "join", "args": {"sep": "b"}}}}),
    ("errors.status", {"errors/status": {"418": "RateLimitError"}}, {}),
    ("errors.types", {"errors/types": {"Teapot": "RateLimitError"}}, {}),
    ("#error_class.class", {"errors/status": {"418": {"class": "RateLimitError"}}},
     {"errors/status": {"418": {"class": "NotFoundError"}}}),
    ("#error_class.retryable", {"errors/status": {"418": {"class": "ProviderError", "retryable": True}}},
     {"errors/status": {"418": {"class": "ProviderError"}}}),
    ("errors.retryable_status", {"errors/retryable_status": [418]}, {}),
    # adjust
    ("#adjust.[].at", {"adjust": [{"at": "meta", "transform": {"name": "fill_defaults",
                                                               "args": {"defaults": {"x": 1}}}}]},
     {"adjust": [{"transform": {"name": "fill_defaults", "args": {"defaults": {"x": 1}}}}]}),
    ("#adjust.[].transform", {"adjust": [{"at": "stop", "transform": "as_list"}]}, {}),
    ("#adjust.[].transform.name", {"adjust": [{"at": "stop", "transform": {"name": "as_list"}}]},
     {"adjust": [{"at": "stop", "transform": {"name": "omit"}}]}),
    ("#adjust.[].transform.args",
     {"adjust": [{"transform": {"name": "fill_defaults", "args": {"defaults": {"x": 1}}}}]},
     {"adjust": [{"transform": {"name": "fill_defaults", "args": {"defaults": {"x": 2}}}}]}),
    # overrides (model "big-1" matches; "big-huge" matches two layers)
    ("overrides.[].match", {"overrides": [{**OV, "params": {"top_p": None}}]},
     {"overrides": [{"match": ["small-*"], "params": {"top_p": None}}]}),
    ("overrides.[].endpoint", {"overrides": [{**OV, "endpoint": {"chat": {"path": "/big"}}}]}, {}),
    ("overrides.[].headers", {"overrides": [{**OV, "headers": {"x-big": "1"}}]}, {}),
    ("overrides.[].policy", {"overrides": [{**OV, "policy": {"unsupported": "error"}}], PS + "seed": None},
     {PS + "seed": None}),
    ("overrides.[].params", {"overrides": [{**OV, "params": {"top_p": None}}]}, {}),
    ("overrides.[].messages", {"overrides": [{**OV, "messages": {"roles": {"user": "human", "assistant": "ai",
                                                                           "tool": "user", "system": "user"}}}]}, {}),
    ("overrides.[].adjust", {"overrides": [{**OV, "adjust": [{"at": "stop", "transform": "as_list"}]}]}, {}),
    # operations
    ("operations.embeddings", {"operations": {"embeddings": EMB}}, {}),
    ("operations.images", {"operations": {"images": IMG}}, {}),
    ("#operation.endpoint", {"operations": {"images": IMG}}, {"operations": {"images": {**IMG, "endpoint": {
        "path": "/other"}}}}),
    ("#op_endpoint.path", {"operations": {"images": IMG}}, {"operations": {"images": {**IMG, "endpoint": {
        "path": "/other"}}}}),
    ("#op_endpoint.method", {"operations": {"images": {**IMG, "endpoint": {"path": "/i", "method": "PUT"}}}},
     {"operations": {"images": {**IMG, "endpoint": {"path": "/i"}}}}),
    ("#op_endpoint.query", {"operations": {"images": {**IMG, "endpoint": {"path": "/i", "query": {"a": "b"}}}}},
     {"operations": {"images": {**IMG, "endpoint": {"path": "/i"}}}}),
    ("#op_endpoint.body", {"operations": {"images": {**IMG, "endpoint": {"path": "/i", "body": {"a": "b"}}}}},
     {"operations": {"images": {**IMG, "endpoint": {"path": "/i"}}}}),
    ("#operation.policy", {"operations": {"images": {**IMG, "policy": {"unsupported": "error"}}}},
     {"operations": {"images": IMG}}),
    ("#operation.params", {"operations": {"images": IMG}}, {"operations": {"images": {**IMG, "params": {}}}}),
    ("#operation.request", {"operations": {"images": {**IMG, "request": {"p": "$prompt"}}}},
     {"operations": {"images": IMG}}),
    ("#operation.fan_out", {"operations": {"embeddings": {**EMB, "fan_out": {"over": "input"}}}},
     {"operations": {"embeddings": EMB}}),
    ("#operation.fan_out.over", {"operations": {"embeddings": {**EMB, "fan_out": {"over": "input"}}}},
     {"operations": {"embeddings": {**EMB, "fan_out": {"over": "model"}}}}),
    ("#operation.fan_out.concurrency", {"operations": {"embeddings": {**EMB, "fan_out": {"over": "input",
                                                                                      "concurrency": 2}}}},
     {"operations": {"embeddings": {**EMB, "fan_out": {"over": "input"}}}}),
    ("#operation.response", {"operations": {"images": {**IMG, "response": {"data": "images"}}}},
     {"operations": {"images": IMG}}),
    ("#op_response.mode", {"operations": {"images": {**IMG, "response": {"mode": "passthrough"}}}},
     {"operations": {"images": {**IMG, "response": {"mode": "template"}}}}),
    ("#op_response.data", {"operations": {"images": {**IMG, "response": {"data": "images"}}}},
     {"operations": {"images": IMG}}),
    ("#op_response.item", {"operations": {"images": {**IMG, "response": {"data": "images", "item": {"url": "$"}}}}},
     {"operations": {"images": {**IMG, "response": {"data": "images"}}}}),
    ("#op_response.fields", {"operations": {"images": {**IMG, "response": {"fields": {"created": 5}}}}},
     {"operations": {"images": IMG}}),
    ("#op_response.error_when", {"operations": {"images": {**IMG, "response": {"error_when": "bad"}}}},
     {"operations": {"images": IMG}}),
    ("#operation.errors", {"operations": {"images": {**IMG, "errors": {"message": "msg"}}}},
     {"operations": {"images": IMG}}),
    ("#operation.overrides", {"operations": {"images": {**IMG, "overrides": [{"match": ["i-*"], "params": {
        "n": None}}]}}}, {"operations": {"images": IMG}}),
    ("#operation.overrides.[].match", {"operations": {"images": {**IMG, "overrides": [{"match": ["i-*"], "params": {
        "n": None}}]}}}, {"operations": {"images": {**IMG, "overrides": [{"match": ["j-*"], "params": {"n": None}}]}}}),
    ("#operation.overrides.[].endpoint", {"operations": {"images": {**IMG, "overrides": [
        {"match": ["i-*"], "endpoint": {"path": "/j"}}]}}}, {"operations": {"images": IMG}}),
    ("#operation.overrides.[].policy", {"operations": {"images": {**IMG, "params": {"prompt": {}}, "overrides": [
        {"match": ["i-*"], "policy": {"unsupported": "error"}}]}}},
     {"operations": {"images": {**IMG, "params": {"prompt": {}}}}}),
    ("#operation.overrides.[].params", {"operations": {"images": {**IMG, "overrides": [{"match": ["i-*"], "params": {
        "n": None}}]}}}, {"operations": {"images": IMG}}),
    ("#operation.overrides.[].request", {"operations": {"images": {**IMG, "overrides": [
        {"match": ["i-*"], "request": {"q": "$prompt"}}]}}}, {"operations": {"images": IMG}}),
    ("#operation.overrides.[].fan_out", {"operations": {"embeddings": {**EMB, "overrides": [
        {"match": ["e-*"], "fan_out": {"over": "input"}}]}}}, {"operations": {"embeddings": EMB}}),
    ("#operation.overrides.[].fan_out.over", {"operations": {"embeddings": {**EMB, "overrides": [
        {"match": ["e-*"], "fan_out": {"over": "input"}}]}}}, {"operations": {"embeddings": {**EMB, "overrides": [
            {"match": ["e-*"], "fan_out": {"over": "model"}}]}}}),
    ("#operation.overrides.[].fan_out.concurrency", {"operations": {"embeddings": {**EMB, "overrides": [
        {"match": ["e-*"], "fan_out": {"over": "input", "concurrency": 3}}]}}}, {"operations": {"embeddings": {
            **EMB, "overrides": [{"match": ["e-*"], "fan_out": {"over": "input"}}]}}}),
    ("#operation.overrides.[].response", {"operations": {"images": {**IMG, "overrides": [
        {"match": ["i-*"], "response": {"data": "images"}}]}}}, {"operations": {"images": IMG}}),
    ("#operation.overrides.[].errors", {"operations": {"images": {**IMG, "overrides": [
        {"match": ["i-*"], "errors": {"message": "msg"}}]}}}, {"operations": {"images": IMG}}),
]

PC: dict[str, Any] = {"prefix": {"list": "turns"}, "reference": "cache",
                      "create": {"endpoint": {"path": "/caches"},
                                 "request": {"model": "$model", "turns": "$prefix.turns"}},
                      "get": {"path": "/{name}"}, "delete": {"path": "/{name}"},
                      "list": {"endpoint": {"path": "/caches"}}}
"""A prompt-cache operation; its rows patch it (`pc(...)`)."""


def pc(**changes: Any) -> dict[str, Any]:
    return {"operations": {"prompt_cache": {**PC, **changes}}}


RSP = {"endpoint": {"path": "/responses"}, "stream": {"path": "/responses", "body": {"stream": True}},
       "params": {"model": {}, "input": {}, "temperature": {}}}
RSP_LAYER = {"match": ["r-*"], "params": {"temperature": {"unsupported": True}}}
THOUGHT = {"type": "thinking", "thinking": [{"type": "text", "text": "$text"}]}
PARTS = {"kind_by": {"field": "type"}, "kinds": {"text": {"text": "$text"},
                                              "thinking": {"reasoning": {"type": "thinking", "text": "$thinking"}}}}
CALL_KIND = {"tool_call": {"id": "x", "name": "$text", "arguments": "{}"}}

PC_ROWS: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = [
    ("operations.prompt_cache", pc(), {}),
    ("#prompt_cache_operation.prefix", pc(), pc(prefix={"list": "sys"})),
    ("#prompt_cache_operation.prefix.list", pc(), pc(prefix={"list": "other"})),
    ("#prompt_cache_operation.prefix.parts", pc(prefix={"list": "turns", "parts": "p"}), pc()),
    ("#prompt_cache_operation.prefix.keys", pc(prefix={"list": "turns", "keys": ["sys"]}), pc()),
    ("#prompt_cache_operation.reference", pc(), pc(reference="cachedContent")),
    ("#prompt_cache_operation.default_ttl", pc(default_ttl=60), pc()),
    ("#prompt_cache_operation.min_tokens", pc(min_tokens=100), pc()),
    ("#prompt_cache_operation.chars_per_token", pc(chars_per_token=2), pc()),
    ("#prompt_cache_operation.overrides", pc(overrides=[{"match": ["big-*"], "min_tokens": 5}]), pc()),
    ("#prompt_cache_operation.overrides.[].match", pc(overrides=[{"match": ["big-*"], "min_tokens": 5}]),
     pc(overrides=[{"match": ["small-*"], "min_tokens": 5}])),
    ("#prompt_cache_operation.overrides.[].min_tokens", pc(overrides=[{"match": ["big-*"], "min_tokens": 5}]),
     pc(overrides=[{"match": ["big-*"]}])),
    ("#prompt_cache_operation.create", pc(), pc(create={"endpoint": {"path": "/other"}, "request": {}})),
    ("#prompt_cache_operation.create.endpoint", pc(), pc(create={**PC["create"], "endpoint": {"path": "/x"}})),
    ("#prompt_cache_operation.create.endpoint.path", pc(), pc(create={**PC["create"], "endpoint": {"path": "/x"}})),
    ("#prompt_cache_operation.create.endpoint.method", pc(create={**PC["create"], "endpoint": {
        "path": "/caches", "method": "PATCH"}}), pc()),
    ("#prompt_cache_operation.create.endpoint.query", pc(create={**PC["create"], "endpoint": {
        "path": "/caches", "query": {"a": "b"}}}), pc()),
    ("#prompt_cache_operation.create.request", pc(), pc(create={**PC["create"], "request": {"m": "$model"}})),
    ("#prompt_cache_operation.get", pc(), pc(get={"path": "/x/{name}"})),
    ("#prompt_cache_operation.get.path", pc(), pc(get={"path": "/x/{name}"})),
    ("#prompt_cache_operation.get.method", pc(get={"path": "/{name}", "method": "POST"}), pc()),
    ("#prompt_cache_operation.get.query", pc(get={"path": "/{name}", "query": {"a": "b"}}), pc()),
    ("#prompt_cache_operation.delete", pc(), pc(delete={"path": "/x/{name}"})),
    ("#prompt_cache_operation.delete.path", pc(), pc(delete={"path": "/x/{name}"})),
    ("#prompt_cache_operation.delete.method", pc(delete={"path": "/{name}", "method": "POST"}), pc()),
    ("#prompt_cache_operation.delete.query", pc(delete={"path": "/{name}", "query": {"a": "b"}}), pc()),
    ("#prompt_cache_operation.list", pc(), pc(list={"endpoint": {"path": "/x"}})),
    ("#prompt_cache_operation.list.endpoint", pc(), pc(list={"endpoint": {"path": "/x"}})),
    ("#prompt_cache_operation.list.endpoint.path", pc(), pc(list={"endpoint": {"path": "/x"}})),
    ("#prompt_cache_operation.list.endpoint.method", pc(list={"endpoint": {"path": "/caches", "method": "POST"}}),
     pc()),
    ("#prompt_cache_operation.list.endpoint.query", pc(list={"endpoint": {"path": "/caches", "query": {"a": "b"}}}),
     pc()),
    ("#prompt_cache_operation.list.items", pc(list={**PC["list"], "items": "caches"}), pc()),
    ("#prompt_cache_operation.list.next_page", pc(list={**PC["list"], "next_page": "next"}), pc()),
    ("#prompt_cache_operation.list.page_param", pc(list={**PC["list"], "page_param": "page"}), pc()),
    ("#prompt_cache_operation.resource", pc(resource={"name": "$name", "model": "$model"}), pc()),
    ("#prompt_cache_operation.gone", pc(gone={"status": [404]}), pc()),
    ("#prompt_cache_operation.gone.status", pc(gone={"status": [404]}), pc(gone={"status": [410]})),
    ("#prompt_cache_operation.gone.message", pc(gone={"status": [404], "message": "gone"}),
     pc(gone={"status": [404], "message": "never"})),
    ("#prompt_cache_operation.too_small", pc(too_small={"status": [400]}), pc()),
    ("#prompt_cache_operation.too_small.status", pc(too_small={"status": [400]}), pc(too_small={"status": [401]})),
    ("#prompt_cache_operation.too_small.message", pc(too_small={"status": [400], "message": "small"}),
     pc(too_small={"status": [400], "message": "never"})),
    ("#prompt_cache_operation.errors", pc(errors={"message": "msg"}), pc()),
    ("response.extras", {"response/extras": {"where": "$model"}}, {}),
    # the natively served Responses operation
    ("operations.responses", {"operations": {"responses": RSP}}, {}),
    ("#streamed_operation.stream", {"operations": {"responses": RSP}},
     {"operations": {"responses": {**RSP, "stream": {"path": "/other"}}}}),
    ("#streamed_operation.request", {"operations": {"responses": {**RSP, "request": {"m": "$model"}}}},
     {"operations": {"responses": RSP}}),
    ("#streamed_operation.errors", {"operations": {"responses": {**RSP, "errors": {"message": "msg"}}}},
     {"operations": {"responses": RSP}}),
    ("#streamed_operation.overrides", {"operations": {"responses": {**RSP, "overrides": [RSP_LAYER]}}},
     {"operations": {"responses": RSP}}),
    ("#streamed_operation.overrides.[].match", {"operations": {"responses": {**RSP, "overrides": [RSP_LAYER]}}},
     {"operations": {"responses": {**RSP, "overrides": [{**RSP_LAYER, "match": ["x-*"]}]}}}),
    ("#streamed_operation.overrides.[].stream",
     {"operations": {"responses": {**RSP, "overrides": [{"match": ["r-*"], "stream": {"path": "/r2"}}]}}},
     {"operations": {"responses": RSP}}),
    ("#streamed_operation.overrides.[].request",
     {"operations": {"responses": {**RSP, "overrides": [{"match": ["r-*"], "request": {"m": "$model"}}]}}},
     {"operations": {"responses": RSP}}),
    ("#streamed_operation.overrides.[].errors",
     {"operations": {"responses": {**RSP, "overrides": [{"match": ["r-*"], "errors": {"message": "msg"}}]}}},
     {"operations": {"responses": RSP}}),
    # reasoning as content chunks, answer tools, index-less streamed calls (the thinking work of #22)
    ("#messages.reasoning_as_content", {**PASSTHROUGH, MS + "reasoning_as_content": {"template": THOUGHT}},
     PASSTHROUGH),
    ("#messages.reasoning_as_content.template",
     {**PASSTHROUGH, MS + "reasoning_as_content": {"template": THOUGHT}},
     {**PASSTHROUGH, MS + "reasoning_as_content": {"template": {"type": "other"}}}),
    ("response.content_parts", {**PASSTHROUGH, "response/content_parts": PARTS}, PASSTHROUGH),
    ("response.content_parts.kind_by", {**PASSTHROUGH, "response/content_parts": PARTS},
     {**PASSTHROUGH, "response/content_parts": {**PARTS, "kind_by": {"field": "kind"}}}),
    ("response.content_parts.kind_by.field", {**PASSTHROUGH, "response/content_parts": PARTS},
     {**PASSTHROUGH, "response/content_parts": {**PARTS, "kind_by": {"field": "kind"}}}),
    ("response.content_parts.kinds", {**PASSTHROUGH, "response/content_parts": PARTS},
     {**PASSTHROUGH, "response/content_parts": {**PARTS, "kinds": {"text": {"text": "$text"}}}}),
    ("response.answer_tools", {"response/kinds/text": CALL_KIND, "response/answer_tools": ["hi"]},
     {"response/kinds/text": CALL_KIND}),
    ("response.finish_reason.stop_without_calls",
     {"response/finish_reason/map": {"done": "tool_calls"}, "response/finish_reason/stop_without_calls": True},
     {"response/finish_reason/map": {"done": "tool_calls"}}),
    ("stream.tool_call_index", {**PASSTHROUGH, "stream/tool_call_index": "by_id"}, PASSTHROUGH),
    ("stream.extras", {"stream/extras": {"seen": "$type"}}, {}),
]
"""The prompt-cache operation's keys and the `extras` templates (which keep provider-specific fields)."""

V2 = {"apiVersion": "vllora.dev/v2"}
FILL = {"$op": "fill_defaults", "defaults": {"x": 1}}
V2_ROWS: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = [
    ("#call.$op", {**V2, PS + "stop/transform": {"$op": "as_list"}}, V2),
    ("#adjust.[].$op", {**V2, "adjust": [FILL]}, V2),
    ("#adjust.[].at", {**V2, "adjust": [{"at": "meta", **FILL}]}, {**V2, "adjust": [FILL]}),
]
"""The keys only the v2 schema has (the others are v1's, read the same way)."""


@cache
def schema_keys(version: str = "v1") -> dict[str, str | None]:
    """Every key the schema accepts, named by where it is declared (`#def.key` inside `$defs`), with the
    definition it refers to (whose own keys' rows stand for it) when it is a `$ref`."""
    text = resources.files("vllora_llm.specs").joinpath(f"schema/provider-spec.{version}.json").read_text("utf-8")
    schema = json.loads(text)
    found: dict[str, str | None] = {}
    seen: set[str] = set()

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if ref not in seen:
                seen.add(ref)
                target = schema["$defs"][name] if "/$defs/" in ref else schema["properties"][name]
                walk(target, (f"#{name}",) if "/$defs/" in ref else (name,))
            return
        for branch in (*node.get("oneOf", ()), *node.get("anyOf", ())):
            walk(branch, path)
        for key, child in (node.get("properties") or {}).items():
            ref = child.get("$ref") if isinstance(child, dict) else None
            found[".".join((*path, key))] = "#" + ref.rsplit("/", 1)[-1] if ref and "/$defs/" in ref else None
            walk(child, (*path, key))
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            walk(extra, (*path, "*"))
        if isinstance(node.get("items"), dict):
            walk(node["items"], (*path, "[]"))

    walk(schema, ())
    # an API version's patch is merged over the spec before anything is compiled: its keys are the spec's own
    # (`#version_patch.auth.scheme` is read as `auth.scheme`), beside the rows for `versions` and its `note`
    found = {(key.replace("#version_patch.", "", 1) if key.startswith("#version_patch.") and
              key.replace("#version_patch.", "", 1) in found else key): ref for key, ref in found.items()}
    # v2's override layers take the same keys as the blocks they change (each also taking null, which
    # removes); the layers are merged before the compiler reads anything, so they are those blocks' keys
    layered = {key.replace("#errors_layer.", "errors.").replace("_layer.", ".", 1): ref
               for key, ref in found.items() if "_layer." in key.split(".", 1)[0] + "."}
    return {**{k: v for k, v in found.items() if "_layer." not in k.split(".", 1)[0] + "."}, **layered}


def _row_ids(rows: list[tuple[str, Any, Any]] = ROWS) -> list[str]:
    return [key for key, _, _ in rows]


def test_every_schema_key_has_a_row() -> None:
    keys = schema_keys()
    rows = set(_row_ids(ROWS + PC_ROWS))
    implied = {key for key, ref in keys.items()
               if any(other.startswith(key + ".") or (ref and other.startswith(ref + ".")) for other in rows)}
    missing = sorted(set(keys) - rows - implied)
    assert not missing, f"schema keys with no key-coverage row (read by nothing?): {missing}"
    assert not rows - set(keys), f"rows for keys the schema does not have: {sorted(rows - set(keys))}"
    assert len(rows) == len(ROWS + PC_ROWS), "a key has two rows"


def test_every_v2_schema_key_has_a_row() -> None:
    keys = schema_keys("v2")
    new = {key for key in keys if key not in schema_keys("v1")}
    rows = set(_row_ids(V2_ROWS))
    implied = {key for key in new if any(other.startswith(key + ".") for other in rows)}
    assert new - implied <= rows, f"v2-only keys with no row: {sorted(new - implied - rows)}"


@pytest.mark.parametrize(("key", "with_key", "without_key"), ROWS + PC_ROWS + V2_ROWS,
                         ids=_row_ids(ROWS + PC_ROWS) + [f"v2:{key}" for key in _row_ids(V2_ROWS)])
def test_the_key_changes_what_the_spec_does(
    key: str, with_key: dict[str, Any], without_key: dict[str, Any] | None, tmp_path: Path
) -> None:
    if without_key is None:  # a required constant: a spec without it does not load at all
        with pytest.raises(AssertionError, match=r"SPEC003|SPEC011"):
            build(patched(TOY, {key: DEL}), tmp_path)
        return
    first = tmp_path / "a"
    second = tmp_path / "b"
    first.mkdir()
    second.mkdir()
    plan_a, merged_a = build(patched(TOY, with_key), first)
    plan_b, merged_b = build(patched(TOY, without_key), second)
    assert everything(plan_a, merged_a) != everything(plan_b, merged_b), f"{key} changed nothing"



@pytest.mark.parametrize(("patch", "where"), [
    ({"response/created": "created"}, "response.created"),
    ({"response/blocked": {"when": "id", "message": "blocked"}}, "response.blocked.message"),
    ({MS + "tool_results": {"require_call": True, "content": "text"}}, "messages.tool_results.content"),
    ({MS + "tool_results": {"require_call": True, "wrap_key": "output"}}, "messages.tool_results.wrap_key"),
    ({MS + "system": {"to": "sys", "format": "inline"}}, "messages.system.format"),
])
def test_keys_nothing_read_are_rejected(patch: dict[str, Any], where: str, tmp_path: Path) -> None:
    """The keys (and the value) the schema accepted but no code read: now a typo there is an error."""
    with pytest.raises(AssertionError, match=r"SPEC01[04] " + re.escape(where)):
        build(patched(TOY, patch), tmp_path)
