"""The Gemini generateContent wire format for the local provider server.

`POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent`, also under `/v1/` (google-genai's
default); streams with `?alt=sse` send one whole GenerateContentResponse per SSE event, events ended with CRLF
as the real API does; without `alt=sse`: one JSON array of them. Shapes follow the recordings in
`tests/recordings/gemini/`: `x-goog-api-key` (or `?key=`), `candidates[{content: {role: model, parts},
finishReason, index}]` (n = `candidateCount`), `functionCall` parts with object `args`, `usageMetadata`, and
`{"error": {code, message, status}}` errors (a 429 carries `google.rpc.RetryInfo`).

Thought signatures are checked the way Gemini 3 checks them: the first function call of each answer (a step:
parallel calls share one) carries a `thoughtSignature`, and for a `gemini-3*` model the first `functionCall` of
each step of the current turn (since the last user message that is not only function responses) sent back
must carry it byte for byte (or the documented `skip_thought_signature_validator` sentinel), else a 400. A
Gemini 3 answer without calls carries its signature on its last part (not validated when it comes back). So a
client that round-trips signatures here round-trips them there.

Thinking: with `generationConfig.thinkingConfig.includeThoughts: true` the answer starts with a thought summary,
a text part marked `thought: true` (streamed as its own events, before the rest), and `usageMetadata` counts it
in `thoughtsTokenCount` (outside `candidatesTokenCount`). Facts used (ai.google.dev thinking and
thought-signature guides; python-genai `Part.thought` / `Part.thought_signature`; the 400 text quoted in public
bug reports): the signature rides on the `functionCall` part; thought parts sent back are accepted and not
read as the user's words; on Gemini 3 a `functionCall` part sent back without its signature is a 400 "Function
call ... is missing a `thought_signature`".
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from aiohttp import web

from vllora_llm.tools.testing import gemini_caches
from vllora_llm.tools.testing.replies import (
    Conversation,
    OutputFormat,
    Reply,
    ToolSpec,
    count_words,
    generate,
    prompt_tokens,
    split_pieces,
    thinking_text,
)
from vllora_llm.tools.testing.responder import Call, JsonReply, StreamReply, Wire, WireError, add_route, json_bytes

FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP"}
SKIP_SIGNATURE = "skip_thought_signature_validator"
MAX_CANDIDATES = 8

_STATUS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
    403: ("PERMISSION_DENIED", "The caller does not have permission."),
    404: ("NOT_FOUND", "Requested entity was not found."),
    408: ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
    409: ("ABORTED", "The operation was aborted."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    500: ("INTERNAL", "An internal error has occurred. Please retry or report it."),
    502: ("UNAVAILABLE", "Bad gateway."),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "The request timed out. Please try again."),
}


def error_body(error: WireError) -> dict[str, Any]:
    """Gemini's error JSON (google.rpc.Status), with per-status defaults; a 429 says when to retry."""
    status, message = _STATUS.get(error.status, ("UNKNOWN", f"HTTP {error.status}"))
    body: dict[str, Any] = {
        "code": error.status,
        "message": error.message or message,
        "status": error.error_type or status,
    }
    if error.status == 429:
        body["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]
    elif error.code is not None:
        body["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": error.code,
                            "domain": "googleapis.com"}]
    return {"error": body}


WIRE = Wire(
    name="gemini",
    error_body=error_body,
    malformed_event=b'data: {"candidates": [{"content": {"role": "model", "parts": [{"text": \r\n\r\n',
)


_MAX_SCHEMA_DEPTH = 64  # deeper schema levels are left as sent (the reply generator stops far above them)
API_VERSIONS = ("v1beta", "v1")
"""Both are served: the library and older SDKs call `v1beta`, google-genai 3.x calls `v1` by default."""


def register(app: web.Application) -> None:
    for version in API_VERSIONS:
        add_route(app, "POST", f"/{version}/models/{{model}}:generateContent", WIRE, generate_content)
        add_route(app, "POST", f"/{version}/models/{{model}}:streamGenerateContent", WIRE, stream_generate_content)


def signature_for(name: str, args: Any) -> str:
    """The thoughtSignature this server gives a function call (opaque in the real API; checkable here)."""
    canonical = json.dumps(args, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(f"vllora-local-call\x00{name}\x00{canonical}".encode()).digest()
    return base64.b64encode(digest).decode()


async def generate_content(call: Call) -> JsonReply | StreamReply:
    return _answer(call, stream=False)


async def stream_generate_content(call: Call) -> JsonReply | StreamReply:
    return _answer(call, stream=True)


def _answer(call: Call, *, stream: bool) -> JsonReply | StreamReply:
    if not (call.headers.get("x-goog-api-key", "").strip() or call.recorded.query.get("key")):
        raise WireError(
            403,
            "Method doesn't allow unregistered callers (callers without established identity). Please use API "
            "Key or other form of API consumer identity to call this API.",
        )
    model = call.request.match_info["model"]
    whole, cached = gemini_caches.expand(call, call.json, model)  # `cachedContent`: its turns come first
    body = _checked_body(whole, model)
    conversation = _conversation(body)
    config = body.get("generationConfig") or {}
    n = config.get("candidateCount") or 1
    replies = [generate(conversation, choice=i, n=n, call_id=f"call_local_{call.sequence}_{i}") for i in range(n)]
    head = {"modelVersion": model, "responseId": f"local-{call.sequence}"}
    prompt = prompt_tokens(conversation)
    thinking = config.get("thinkingConfig")
    thought = thinking_text(conversation) if isinstance(thinking, dict) and True in (
        thinking.get("includeThoughts"), thinking.get("include_thoughts")) else None  # google-genai: snake_case
    if not stream:
        signed = model.startswith("gemini-3")
        return JsonReply({"candidates": [_candidate(i, _thought_parts(thought) + _parts(r, signed),
                                                    FINISH[r.finish_reason]) for i, r in enumerate(replies)],
                          "usageMetadata": _usage(prompt, replies, cached=cached, thought=thought), **head})
    events = _stream_events(head, prompt, replies, cached, thought, signed=model.startswith("gemini-3"))
    if call.recorded.query.get("alt") != "sse":  # without alt=sse the API streams one JSON array
        return JsonReply(events)
    return StreamReply([b"data: " + json_bytes(event) + b"\r\n\r\n" for event in events])


def _invalid(message: str) -> WireError:
    return WireError(400, message)


def _checked_body(body: Any, model: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _invalid("Invalid JSON payload received. Expected an object.")
    if "model" in body:
        raise _invalid('Invalid JSON payload received. Unknown name "model": Cannot find field.')
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise _invalid("* GenerateContentRequest.contents: contents is not specified")
    config = body.get("generationConfig") or {}
    n = config.get("candidateCount")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_CANDIDATES):
        raise _invalid(f"* GenerateContentRequest.generation_config.candidate_count: must be 1 to {MAX_CANDIDATES}")
    turn = _current_turn(contents)
    for i, content in enumerate(contents):
        if not isinstance(content, dict) or content.get("role") not in ("user", "model"):
            raise _invalid(f"* GenerateContentRequest.contents[{i}].role: must be user or model")
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            raise _invalid(f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.")
        first_call = True  # a step's parallel calls: only the first carries the signature
        for j, part in enumerate(parts):
            checked = model.startswith("gemini-3") and i >= turn
            _check_part(part, f"contents[{i}].parts[{j}]", i + 1, checked=checked, required=first_call)
            first_call = first_call and not (isinstance(part, dict) and "functionCall" in part)
    return body


def _current_turn(contents: list[Any]) -> int:
    """Where the current turn starts: the last user content that is not only function responses. Gemini 3
    validates the signatures of this turn's steps only."""
    for i in range(len(contents) - 1, -1, -1):
        content = contents[i]
        parts = content.get("parts") if isinstance(content, dict) else None
        if content.get("role") == "user" and isinstance(parts, list) and any(
                isinstance(p, dict) and "functionResponse" not in p for p in parts):
            return i
    return 0


def _check_part(part: Any, where: str, block: int, *, checked: bool, required: bool) -> None:
    if not isinstance(part, dict):
        raise _invalid(f"* GenerateContentRequest.{where}: must be an object")
    function_call = part.get("functionCall")
    if isinstance(function_call, dict):
        if not isinstance(function_call.get("args", {}), dict):
            raise _invalid(f"* GenerateContentRequest.{where}.function_call.args: must be an object")
        signature = part.get("thoughtSignature")
        if checked and (required or signature is not None) and signature != SKIP_SIGNATURE and signature != \
                signature_for(str(function_call.get("name")), function_call.get("args") or {}):
            raise _invalid(
                f"Unable to submit request because function call `{function_call.get('name')}` in the {block}. "
                "content block is missing a `thought_signature`."
            )
    response = part.get("functionResponse")
    if isinstance(response, dict) and not isinstance(response.get("response"), dict):
        raise _invalid(f"* GenerateContentRequest.{where}.function_response.response: must be an object")


def check_part(part: Any, model: str, where: str, block: int) -> None:
    """What a cache's contents are checked with (`gemini_caches`): a part's shape, and a signature it carries.
    Whether one is missing depends on the turn, so it is checked when the cache is used, on the whole history."""
    _check_part(part, where, block, checked=model.startswith("gemini-3"), required=False)


def _lower_types(schema: Any, depth: int = 0) -> Any:
    """An OpenAPI-dialect schema (`parameters`, `responseSchema`) as JSON Schema, for the reply generator:
    types in lower case, and keywords in camelCase, since proto JSON also accepts the field names that
    google-genai sends (`min_items`, `any_of`, `property_ordering`, …). Property names are kept as they are."""
    if depth > _MAX_SCHEMA_DEPTH:
        return schema
    if isinstance(schema, list):
        return [_lower_types(v, depth + 1) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        name = _camel(key)
        if name == "type" and isinstance(value, str):
            out[name] = value.lower()
        elif name == "properties" and isinstance(value, dict):
            out[name] = {prop: _lower_types(sub, depth + 1) for prop, sub in value.items()}
        elif name in ("enum", "required", "propertyOrdering", "example", "default"):
            out[name] = value
        else:
            out[name] = _lower_types(value, depth + 1)
    return out


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest) if rest and head else key


def _conversation(body: dict[str, Any]) -> Conversation:
    contents = body["contents"]
    texts = [" ".join(p["text"] for p in c["parts"] if isinstance(p.get("text"), str) and not p.get("thought"))
             for c in contents]
    system = body.get("systemInstruction") or {}
    system_text = " ".join(p.get("text", "") for p in system.get("parts") or () if isinstance(p, dict))
    user_texts = [text for c, text in zip(contents, texts, strict=True) if c["role"] == "user" and text]
    last = contents[-1]
    results = [json.dumps(p["functionResponse"].get("response"), separators=(",", ":"))
               for p in last["parts"] if last["role"] == "user" and isinstance(p.get("functionResponse"), dict)]
    tools = tuple(
        ToolSpec(d["name"], _parameters(d))
        for tool in body.get("tools") or () if isinstance(tool, dict)
        for d in tool.get("functionDeclarations") or () if isinstance(d, dict) and isinstance(d.get("name"), str)
    )
    calling = ((body.get("toolConfig") or {}).get("functionCallingConfig") or {})
    mode = calling.get("mode", "AUTO")
    allowed = calling.get("allowedFunctionNames") or []
    config = body.get("generationConfig") or {}
    max_tokens = config.get("maxOutputTokens")
    return Conversation(
        provider="gemini",
        texts=tuple([system_text, *texts] if system_text else texts),
        last_user_text=user_texts[-1] if user_texts else "",
        tools=tools,
        tool_choice="none" if mode == "NONE" else "required" if mode in ("ANY", "VALIDATED") else "auto",
        forced_tool=allowed[0] if mode == "ANY" and allowed else None,
        tool_result="; ".join(results) if results else None,
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        output=_output_format(config),
    )


def _parameters(declaration: dict[str, Any]) -> Any:
    """A function's parameters: `parametersJsonSchema` (google-genai sends it as `parameters_json_schema`, which
    proto JSON accepts too) or the OpenAPI-dialect `parameters`."""
    for key in ("parametersJsonSchema", "parameters_json_schema"):
        if key in declaration:
            return declaration[key]
    return _lower_types(declaration.get("parameters"))


def _output_format(config: dict[str, Any]) -> OutputFormat | None:
    """JSON mode is `responseMimeType: application/json`, with the schema in `responseJsonSchema` (JSON
    Schema) or `responseSchema` (the OpenAPI subset); `text/x.enum` answers one of the schema's enum values."""
    mime = config.get("responseMimeType")
    json_schema, schema = config.get("responseJsonSchema", config.get("response_json_schema")), config.get(
        "responseSchema")
    if json_schema is not None and schema is not None:
        raise _invalid("* GenerateContentRequest.generation_config: response_schema and response_json_schema "
                       "cannot both be set")
    if mime in (None, "text/plain"):
        if json_schema is not None or schema is not None:
            raise _invalid("* GenerateContentRequest.generation_config.response_mime_type: response_mime_type "
                           "must be application/json or text/x.enum when a response schema is set")
        return None
    if mime == "text/x.enum":
        return OutputFormat("enum", _lower_types(schema if schema is not None else json_schema))
    if mime != "application/json":
        raise _invalid(f"* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are "
                       f"`text/plain`, `application/json`, `text/x.enum`, not {mime!r}")
    if json_schema is not None:
        return OutputFormat("json_schema", json_schema)
    if schema is not None:
        return OutputFormat("json_schema", _lower_types(schema))
    return OutputFormat("json_object")


def _thought_parts(thought: str | None) -> list[dict[str, Any]]:
    return [] if thought is None else [{"text": thought, "thought": True}]


def _parts(reply: Reply, signed_text: bool = False) -> list[dict[str, Any]]:
    """A reply's parts: parallel calls with the signature on the first; text, signed when `signed_text`
    (Gemini 3 signs every answer: a reply without calls has it on its last part)."""
    if reply.tool_calls:
        parts = []
        for k, call in enumerate(reply.tool_calls):
            args = json.loads(call.arguments)
            part: dict[str, Any] = {"functionCall": {"name": call.name, "args": args}}
            if k == 0:
                part["thoughtSignature"] = signature_for(call.name, args)
            parts.append(part)
        return parts
    text: dict[str, Any] = {"text": reply.text or ""}
    if signed_text:
        text["thoughtSignature"] = signature_for("", reply.text or "")
    return [text]


def _candidate(index: int, parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": index}
    if finish is not None:
        candidate["finishReason"] = finish
    return candidate


def _usage(
    prompt: int, replies: list[Reply], done: bool = True, cached: int = 0, thought: str | None = None
) -> dict[str, Any]:
    out = sum(reply.completion_tokens for reply in replies) if done else 0
    thoughts = count_words(thought) * len(replies) if done and thought else 0
    usage: dict[str, Any] = {"promptTokenCount": prompt, "totalTokenCount": prompt + out + thoughts}
    if cached:  # (included in promptTokenCount, as the API counts it)
        usage["cachedContentTokenCount"] = cached
    if done:
        usage["candidatesTokenCount"] = out
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return usage


def _stream_events(
    head: dict[str, Any], prompt: int, replies: list[Reply], cached: int = 0, thought: str | None = None, *,
    signed: bool = False,
) -> list[dict[str, Any]]:
    """Thoughts first, then text in word-ish pieces, all candidates side by side; a call arrives whole; the
    last event holds the finish reasons (after an empty text part, as the recordings show, which carries a
    text answer's signature when `signed`) and the final usage."""
    thinking = [[{"text": piece, "thought": True}] for piece in split_pieces(thought)] if thought else []
    per_candidate: list[list[list[dict[str, Any]]]] = []
    for reply in replies:
        if reply.tool_calls:
            per_candidate.append([*thinking, _parts(reply)])
        else:
            text = [[{"text": piece}] for piece in split_pieces(reply.text or "")] or [[{"text": ""}]]
            per_candidate.append([*thinking, *text])
    steps = max(len(pieces) for pieces in per_candidate)
    events = []
    for step in range(steps):
        candidates = [_candidate(i, pieces[step]) for i, pieces in enumerate(per_candidate) if step < len(pieces)]
        events.append({"candidates": candidates, "usageMetadata": _usage(prompt, replies, False, cached), **head})
    last = [_candidate(i, [{"text": ""} if r.tool_calls or not signed else {
        "text": "", "thoughtSignature": signature_for("", r.text or "")}], FINISH[r.finish_reason])
        for i, r in enumerate(replies)]
    events.append({"candidates": last, "usageMetadata": _usage(prompt, replies, cached=cached, thought=thought),
                   **head})
    return events

