"""The OpenAI chat-completions wire format for the local provider server: `POST /v1/chat/completions`.

Shapes follow the real API as recorded in `tests/recordings/openai/` (error JSON, chunk fields, tool-call
deltas that carry `index` + `id` + name first and argument fragments after, `usage: null` on every chunk when
`stream_options.include_usage` asks for a final usage-only chunk), so a client that works here works there.

DeepSeek's thinking mode, on the same route (DeepSeek is OpenAI-compatible): a request with `thinking: {type:
enabled}`, or for `deepseek-reasoner` (which always thinks) unless `thinking.type` is `disabled`, gets
`reasoning_content` beside `content` (streamed as `delta.reasoning_content` before the content) and
`completion_tokens_details.reasoning_tokens`. Facts used (api-docs.deepseek.com guides/thinking_mode, and the
400 texts quoted in public bug reports, e.g. anomalyco/opencode#9397, #24722): in thinking mode the
`reasoning_content` of every assistant turn that made tool calls must be passed back in all later requests,
else 400 invalid_request_error "Missing `reasoning_content` field in the assistant message at message index N";
on turns without tool calls it is ignored.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from vllora_llm.tools.testing.replies import (
    Conversation,
    OutputFormat,
    Reply,
    ToolSpec,
    count_words,
    generate,
    prompt_tokens,
    split_fragments,
    split_pieces,
    thinking_text,
)
from vllora_llm.tools.testing.responder import Call, JsonReply, StreamReply, Wire, WireError, add_route, json_bytes

CREATED = 1700000000
SYSTEM_FINGERPRINT = "fp_local"
DONE = b"data: [DONE]\n\n"
_BEARER = re.compile(r"Bearer\s+\S+", re.IGNORECASE)

_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Access denied."),
    404: (
        "invalid_request_error",
        "model_not_found",
        "The model does not exist or you do not have access to it.",
    ),
    408: ("timeout", None, "Request timed out."),
    409: ("invalid_request_error", "conflict", "Conflict."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again in 1s."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def error_body(error: WireError) -> dict[str, Any]:
    """OpenAI's error JSON, with per-status defaults for what the error does not say."""
    default_type = "server_error" if error.status >= 500 else "invalid_request_error"
    error_type, code, message = _ERRORS.get(error.status, (default_type, None, f"HTTP {error.status}"))
    if error.error_type is not None:  # a specific error names its own type and code
        error_type, code = error.error_type, error.code
    return {
        "error": {
            "message": error.message or message,
            "type": error_type,
            "param": error.param,
            "code": error.code if error.code is not None else code,
        }
    }


WIRE = Wire(name="openai", error_body=error_body, request_id_header="x-request-id")


def register(app: web.Application) -> None:
    add_route(app, "POST", "/v1/chat/completions", WIRE, chat_completions)
    add_route(app, "POST", "/openai/deployments/{deployment}/chat/completions", WIRE, deployment_chat_completions)


async def deployment_chat_completions(call: Call) -> JsonReply | StreamReply:
    """Azure-style deployments: the key in an `api-key` header and an `api-version` query, same body."""
    if not call.headers.get("api-key", "").strip() or not call.recorded.query.get("api-version"):
        raise WireError(401, "Access denied due to missing api-key or api-version.", error_type="invalid_request_error")
    return await _reply(call)


def is_bearer(authorization: str) -> bool:
    """Whether an `Authorization` header value is `Bearer <key>`."""
    return _BEARER.fullmatch(authorization.strip()) is not None


async def chat_completions(call: Call) -> JsonReply | StreamReply:
    if not is_bearer(call.headers.get("authorization", "")):
        raise WireError(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            error_type="invalid_request_error",
        )
    return await _reply(call)


async def _reply(call: Call) -> JsonReply | StreamReply:
    body = _checked_body(call.json)
    conversation = _conversation(body)
    thinking = _thinking_mode(body)
    if thinking:
        _check_reasoning_passed_back(body["messages"])
    reasoning = thinking_text(conversation) if thinking else None
    n = body.get("n") or 1
    replies = [
        generate(conversation, choice=i, n=n, call_id=f"call_local_{call.sequence}_{i}") for i in range(n)
    ]
    prompt = prompt_tokens(conversation)
    reasoning_tokens = count_words(reasoning) * n if reasoning else 0
    completion = sum(reply.completion_tokens for reply in replies) + reasoning_tokens
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
    }
    head = {"id": f"chatcmpl-local-{call.sequence}", "created": CREATED, "model": body["model"]}
    if body.get("stream") is True:
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        events = _stream_events(head, replies, usage if include_usage else None, call.fault.big_event_bytes,
                                reasoning)
        return StreamReply(events, DONE)
    return JsonReply(
        {
            "id": head["id"],
            "object": "chat.completion",
            "created": CREATED,
            "model": head["model"],
            "choices": [_choice(i, reply, reasoning) for i, reply in enumerate(replies)],
            "usage": usage,
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }
    )


def _checked_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise WireError(400, "We could not parse the JSON body of your request. Send a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise WireError(400, "You must provide a model parameter.", param="model")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise WireError(400, "'messages' must be a non-empty array.", param="messages")
    n = body.get("n")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 128):
        raise WireError(
            400, f"{n!r} is not a valid value for 'n': expected an integer from 1 to 128.", param="n"
        )
    return body


def _thinking_mode(body: dict[str, Any]) -> bool:
    """DeepSeek's thinking mode: asked for with `thinking: {type: enabled}`; `deepseek-reasoner` always thinks."""
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    return kind == "enabled" or (str(body["model"]).startswith("deepseek-reasoner") and kind != "disabled")


def _check_reasoning_passed_back(messages: list[Any]) -> None:
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") != "assistant" or not message.get("tool_calls"):
            continue
        if not isinstance(message.get("reasoning_content"), str):
            raise WireError(
                400,
                f"Missing `reasoning_content` field in the assistant message at message index {index}. For more "
                "information, please refer to https://api-docs.deepseek.com/guides/thinking_mode#tool-calls",
                error_type="invalid_request_error", code="invalid_request_error",
            )


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = (part.get("text") for part in content if isinstance(part, dict))
        return " ".join(part for part in parts if isinstance(part, str))
    return ""


def _conversation(body: dict[str, Any]) -> Conversation:
    messages = [m for m in body["messages"] if isinstance(m, dict)]
    texts = tuple(_text(m.get("content")) for m in messages)
    user_texts = [text for m, text in zip(messages, texts, strict=True) if m.get("role") == "user"]
    results: list[str] = []
    for m, text in zip(reversed(messages), reversed(texts), strict=True):
        if m.get("role") not in ("tool", "function"):
            break
        results.insert(0, text)
    tools = tuple(
        ToolSpec(t["function"]["name"], t["function"].get("parameters"))
        for t in body.get("tools") or []
        if isinstance(t, dict)
        and isinstance(t.get("function"), dict)
        and isinstance(t["function"].get("name"), str)
    )
    choice = body.get("tool_choice")
    forced = None
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        forced, choice = choice["function"].get("name"), "required"
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    output = _output_format(body.get("response_format"), texts)
    return Conversation(
        provider="openai",
        texts=texts,
        last_user_text=user_texts[-1] if user_texts else "",
        tools=tools,
        tool_choice=choice if choice in ("none", "required") else "auto",
        forced_tool=forced if isinstance(forced, str) else None,
        tool_result="; ".join(results) if results else None,
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        output=output,
        parallel_tool_calls=body.get("parallel_tool_calls") is not False,
    )


def _output_format(response_format: Any, texts: tuple[str, ...]) -> OutputFormat | None:
    """`response_format` checked as the API checks it: JSON mode needs the word "json" in the messages, a
    JSON schema needs `json_schema.name` and `json_schema.schema`."""
    if not isinstance(response_format, dict) or response_format.get("type") in (None, "text"):
        return None
    kind = response_format["type"]
    if kind == "json_object":
        if not any("json" in text.lower() for text in texts):
            raise WireError(400, "'messages' must contain the word 'json' in some form, to use 'response_format' "
                            "of type 'json_object'.", param="messages")
        return OutputFormat("json_object")
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict):
            raise WireError(400, "Missing required parameter: 'response_format.json_schema'.",
                            param="response_format.json_schema")
        if not isinstance(spec.get("name"), str):
            raise WireError(400, "Missing required parameter: 'response_format.json_schema.name'.",
                            param="response_format.json_schema.name")
        schema = spec.get("schema", {})
        if not isinstance(schema, dict):
            raise WireError(400, "Invalid type for 'response_format.json_schema.schema': expected an object.",
                            param="response_format.json_schema.schema")
        return OutputFormat("json_schema", schema)
    raise WireError(400, f"Invalid value: '{kind}'. Supported values are: 'json_object', 'json_schema', and "
                    "'text'.", param="response_format.type")


def _choice(index: int, reply: Reply, reasoning: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply.tool_calls
        ]
    return {"index": index, "message": message, "logprobs": None, "finish_reason": reply.finish_reason}


def _deltas(reply: Reply, reasoning: str | None = None) -> list[dict[str, Any]]:
    """One choice's deltas before its finish chunk, in the order OpenAI sends them (DeepSeek's reasoning
    first, `content: null` beside it)."""
    thoughts: list[dict[str, Any]] = [
        {"role": "assistant", "content": None, "reasoning_content": piece} if k == 0 else
        {"content": None, "reasoning_content": piece}
        for k, piece in enumerate(split_pieces(reasoning or ""))
    ]
    if not reply.tool_calls:
        first: dict[str, Any] = {"role": "assistant", "content": "", "refusal": None}
        return [*thoughts, first, *({"content": piece} for piece in split_pieces(reply.text or ""))]
    deltas: list[dict[str, Any]] = thoughts
    for index, call in enumerate(reply.tool_calls):
        start = {
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        if index == 0:
            deltas.append({"role": "assistant", "content": None, "tool_calls": [start], "refusal": None})
        else:
            deltas.append({"tool_calls": [start]})
        deltas.extend(
            {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}
            for fragment in split_fragments(call.arguments)
        )
    return deltas


def _stream_events(
    head: dict[str, Any],
    replies: list[Reply],
    usage: dict[str, Any] | None,
    big_event_bytes: int | None,
    reasoning: str | None = None,
) -> list[bytes]:
    include_usage = usage is not None

    def event(choices: list[dict[str, Any]], usage_value: dict[str, Any] | None = None) -> bytes:
        chunk: dict[str, Any] = {
            "id": head["id"],
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": head["model"],
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": choices,
        }
        if include_usage:
            chunk["usage"] = usage_value
        return b"data: " + json_bytes(chunk) + b"\n\n"

    def choice(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}

    per_choice = [_deltas(reply, reasoning) for reply in replies]
    events = [
        event([choice(index, deltas[step])])
        for step in range(max(len(deltas) for deltas in per_choice))
        for index, deltas in enumerate(per_choice)
        if step < len(deltas)
    ]
    if big_event_bytes is not None:
        overhead = len(event([choice(0, {"content": ""})]))
        events.insert(1, event([choice(0, {"content": "x" * max(0, big_event_bytes - overhead)})]))
    events.extend(event([choice(index, {}, reply.finish_reason)]) for index, reply in enumerate(replies))
    if usage is not None:
        events.append(event([], usage))
    return events
