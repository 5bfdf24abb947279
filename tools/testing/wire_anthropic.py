"""The Anthropic Messages wire format for the local provider server: `POST /v1/messages`.

Shapes follow the real API as recorded in `tests/recordings/anthropic/`: `x-api-key` (or the `Authorization:
Bearer` the official SDK 2.x sends) and `anthropic-version` (any) headers, `{"type": "error", "error": {type,
message}}` errors with a `request-id` header, content blocks (`text`, `tool_use` with an object `input`, `thinking`
with a `signature`), and streams of typed SSE events (`message_start`, `content_block_start|delta|stop`,
`message_delta`, `message_stop`, `ping`).

Thinking is checked the way the API checks it: a thinking block sent back must carry the signature this
server gave it (byte for byte), a `redacted_thinking` block its `data`, and with thinking on, a final assistant
turn holding `tool_use` must start with its thinking block. So a client that round-trips thinking here
round-trips it there. The documented test prompt (`REDACTED_TRIGGER`) gets a `redacted_thinking` block.
"""

from __future__ import annotations

import base64
import hashlib
import json
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

API_VERSION = "2023-06-01"
_BEARER = re.compile(r"\s*Bearer\s+\S+\s*", re.IGNORECASE)
"""The official SDK 2.x sends its key as `Authorization: Bearer`; `x-api-key` is the documented header."""
MIN_THINKING_BUDGET = 1024
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}

_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    408: ("timeout_error", "Request timed out."),
    409: ("invalid_request_error", "Conflict."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit."),
    500: ("api_error", "Internal server error."),
    502: ("api_error", "Bad gateway."),
    503: ("api_error", "Service unavailable."),
    529: ("overloaded_error", "Overloaded"),
}


def error_body(error: WireError) -> dict[str, Any]:
    """Anthropic's error JSON, with per-status defaults for what the error does not say."""
    default_type = "api_error" if error.status >= 500 else "invalid_request_error"
    error_type, message = _ERRORS.get(error.status, (default_type, f"HTTP {error.status}"))
    return {"type": "error", "error": {"type": error.error_type or error_type, "message": error.message or message}}


WIRE = Wire(
    name="anthropic",
    error_body=error_body,
    request_id_header="request-id",
    malformed_event=b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, \n\n',
)


def register(app: web.Application) -> None:
    add_route(app, "POST", "/v1/messages", WIRE, messages)


def signature_for(thinking: str) -> str:
    """The signature this server gives a thinking text (the real API's is opaque; ours is checkable)."""
    digest = hashlib.sha256(b"vllora-local-thinking\x00" + thinking.encode()).digest()
    return base64.b64encode(digest).decode()


REDACTED_TRIGGER = (
    "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_46C9A13E193C177646C7398A98432ECCCE4C1253D5E2D82641AC0E52CC2876CB"
)
"""The test prompt Anthropic documents for redacted thinking (extended-thinking guide): a last user message
holding it gets a `redacted_thinking` block (Bedrock: `reasoningContent.redactedContent`) instead of thinking."""


def redacted_for(thinking: str) -> str:
    """The opaque `data` of a redacted thinking block: here the signed text, so a copy sent back is checkable."""
    return base64.b64encode(json.dumps([thinking, signature_for(thinking)]).encode()).decode()


def redacted_ok(data: Any) -> bool:
    """Whether `data` is a redacted block this server made, unmodified."""
    try:
        text, signature = json.loads(base64.b64decode(str(data), validate=True))
    except (ValueError, TypeError):
        return False
    return isinstance(text, str) and signature == signature_for(text)


async def messages(call: Call) -> JsonReply | StreamReply:
    if not (call.headers.get("x-api-key", "").strip() or _BEARER.fullmatch(call.headers.get("authorization", ""))):
        raise WireError(401, "x-api-key header is required", error_type="authentication_error")
    if not call.headers.get("anthropic-version"):  # any version: SDK 2.x sends newer ones than 2023-06-01
        raise WireError(400, "anthropic-version: header is required")
    body = _checked_body(call.json)
    conversation = _conversation(body)
    thinking = _thinking_text(body, conversation)
    reply = generate(conversation, call_id=f"toolu_local_{call.sequence}_0")
    blocks = _blocks(reply, thinking)
    stop_reason, stop_sequence = STOP_REASONS[reply.finish_reason], None
    blocks, stop_sequence = _apply_stop_sequences(blocks, body.get("stop_sequences"))
    if stop_sequence is not None:
        stop_reason = "stop_sequence"
    usage = {
        "input_tokens": prompt_tokens(conversation),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": reply.completion_tokens + (count_words(thinking) if thinking else 0),
    }
    message = {
        "id": f"msg_local_{call.sequence}",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage,
    }
    if body.get("stream") is True:
        events, done = _stream_events(message, call.fault.big_event_bytes)
        return StreamReply(events, done)
    return JsonReply(message)


# ---- the request ----------------------------------------------------------------------------------------------


def _invalid(message: str) -> WireError:
    return WireError(400, message, error_type="invalid_request_error")


def _checked_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _invalid("There was an issue with your request body: it must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise _invalid("model: Field required")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 0:
        problem = "Field required" if max_tokens is None else "Input should be a valid integer"
        raise _invalid(f"max_tokens: {problem}")
    turns = body.get("messages")
    if not isinstance(turns, list) or not turns:
        raise _invalid("messages: Field required" if turns is None else "messages: at least one message is required")
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant"):
            raise _invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if isinstance(turn.get("content"), list):
            for j, block in enumerate(turn["content"]):
                _check_block(block, f"messages.{i}.content.{j}")
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < MIN_THINKING_BUDGET:
            raise _invalid(f"thinking.enabled.budget_tokens: Input should be greater than or equal to "
                           f"{MIN_THINKING_BUDGET}")
        if budget >= max_tokens:
            raise _invalid("`max_tokens` must be greater than `thinking.budget_tokens`.")
    if _thinking_on(body):
        _check_final_turn_starts_with_thinking(turns)
    return body


def _check_block(block: Any, where: str) -> None:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise _invalid(f"{where}.type: Field required")
    if block["type"] == "thinking":
        text, signature = block.get("thinking"), block.get("signature")
        if not isinstance(text, str) or not isinstance(signature, str) or signature != signature_for(text):
            raise _invalid(f"{where}: Invalid `signature` in `thinking` block")
    if block["type"] == "redacted_thinking" and not redacted_ok(block.get("data")):
        raise _invalid(f"{where}: Invalid `data` in `redacted_thinking` block")
    if block["type"] == "tool_use" and not isinstance(block.get("input"), dict):
        raise _invalid(f"{where}.input: Input should be a valid dictionary")


def _thinking_on(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _check_final_turn_starts_with_thinking(turns: list[Any]) -> None:
    last_assistant = next((t for t in reversed(turns) if t.get("role") == "assistant"), None)
    content = last_assistant.get("content") if last_assistant else None
    if not isinstance(content, list) or not any(b.get("type") == "tool_use" for b in content):
        return
    if content[0].get("type") not in ("thinking", "redacted_thinking"):
        raise _invalid(
            f"messages.{turns.index(last_assistant)}.content.0.type: Expected `thinking` or `redacted_thinking`, "
            f"but found `{content[0].get('type')}`. When `thinking` is enabled, a final `assistant` message must "
            "start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks)."
        )


def _text(content: Any, kinds: tuple[str, ...] = ("text",)) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict) and block.get("type") in kinds:
                inner = block.get("text") if block.get("type") == "text" else _text(block.get("content"))
                if isinstance(inner, str):
                    parts.append(inner)
        return " ".join(parts)
    return ""


def _conversation(body: dict[str, Any]) -> Conversation:
    turns = body["messages"]
    texts = [_text(body.get("system"))] + [_text(t.get("content"), ("text", "tool_result")) for t in turns]
    user_texts = [_text(t.get("content")) for t in turns if t.get("role") == "user"]
    user_texts = [text for text in user_texts if text]
    last = turns[-1]
    results = None
    if last.get("role") == "user" and isinstance(last.get("content"), list):
        found = [
            _text(b.get("content")) for b in last["content"] if isinstance(b, dict) and b.get("type") == "tool_result"
        ]
        results = "; ".join(found) if found else None
    tools = tuple(
        ToolSpec(t["name"], t.get("input_schema"))
        for t in body.get("tools") or []
        if isinstance(t, dict) and isinstance(t.get("name"), str)
    )
    raw_choice = body.get("tool_choice")
    choice: dict[str, Any] = raw_choice if isinstance(raw_choice, dict) else {}
    kind = choice.get("type", "auto")
    forced = choice.get("name") if kind == "tool" else None
    output = _output_format(body)
    return Conversation(
        provider="anthropic",
        texts=tuple(texts),
        last_user_text=user_texts[-1] if user_texts else "",
        tools=tools,
        tool_choice="none" if kind == "none" else "required" if kind in ("any", "tool") else "auto",
        forced_tool=forced if isinstance(forced, str) else None,
        tool_result=results,
        max_tokens=body["max_tokens"],
        output=output,
        parallel_tool_calls=choice.get("disable_parallel_tool_use") is not True,
    )


def _output_format(body: dict[str, Any]) -> OutputFormat | None:
    """Structured output: `output_config.format` (or the earlier beta's `output_format`), `{type: json_schema,
    schema}`. (A forced tool, the other way to get JSON, needs nothing here: its input follows its schema.)"""
    config = body.get("output_config")
    where, spec = "output_config.format", config.get("format") if isinstance(config, dict) else None
    if spec is None:
        where, spec = "output_format", body.get("output_format")
    if spec is None:
        return None
    if not isinstance(spec, dict) or spec.get("type") != "json_schema":
        raise _invalid(f"{where}.type: Input should be 'json_schema'")
    if not isinstance(spec.get("schema"), dict):
        raise _invalid(f"{where}.schema: Field required")
    return OutputFormat("json_schema", spec["schema"])


# ---- the reply ------------------------------------------------------------------------------------------------


def _thinking_text(body: dict[str, Any], conversation: Conversation) -> str | None:
    return thinking_text(conversation) if _thinking_on(body) else None


def _blocks(reply: Reply, thinking: str | None) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if thinking is not None:
        if REDACTED_TRIGGER in thinking:
            blocks.append({"type": "redacted_thinking", "data": redacted_for(thinking)})
        else:
            blocks.append({"type": "thinking", "thinking": thinking, "signature": signature_for(thinking)})
    if reply.text is not None:
        blocks.append({"type": "text", "text": reply.text})
    blocks.extend(
        {"type": "tool_use", "id": c.id, "name": c.name, "input": json.loads(c.arguments)} for c in reply.tool_calls
    )
    return blocks


def _apply_stop_sequences(blocks: list[dict[str, Any]], stops: Any) -> tuple[list[dict[str, Any]], str | None]:
    """Cut the text at the first stop sequence found in it, as the model would have stopped there."""
    if not isinstance(stops, list):
        return blocks, None
    for position, block in enumerate(blocks):
        if block["type"] != "text":
            continue
        hits = [(block["text"].find(s), s) for s in stops if isinstance(s, str) and s and s in block["text"]]
        if hits:
            at, stop = min(hits)
            return [*blocks[:position], {**block, "text": block["text"][:at]}], stop
    return blocks, None


def _event(data: dict[str, Any]) -> bytes:
    return b"event: " + str(data["type"]).encode() + b"\ndata: " + json_bytes(data) + b"\n\n"


def _stream_events(message: dict[str, Any], big_event_bytes: int | None) -> tuple[list[bytes], bytes]:
    """The SSE events of `message` in the order Anthropic sends them, and the terminal `message_stop`."""
    head = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {**message["usage"], "output_tokens": 1}}
    events = [_event({"type": "message_start", "message": head}), _event({"type": "ping"})]
    for index, block in enumerate(message["content"]):
        kind = block["type"]
        if kind == "thinking":
            start: dict[str, Any] = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in split_pieces(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "redacted_thinking":  # whole, in its start event: no deltas
            start, deltas = block, []
        elif kind == "text":
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in split_pieces(block["text"])]
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            arguments = json.dumps(block["input"], separators=(",", ":"), ensure_ascii=False)
            deltas = [{"type": "input_json_delta", "partial_json": f} for f in ["", *split_fragments(arguments)]]
        events.append(_event({"type": "content_block_start", "index": index, "content_block": start}))
        if big_event_bytes is not None and kind == "text":
            events.append(_padded_text_delta(index, big_event_bytes))
            big_event_bytes = None
        events.extend(_event({"type": "content_block_delta", "index": index, "delta": d}) for d in deltas)
        events.append(_event({"type": "content_block_stop", "index": index}))
    if big_event_bytes is not None:  # no text block to carry it: a padded ping (ignored by clients)
        overhead = len(_event({"type": "ping", "pad": ""}))
        events.insert(2, _event({"type": "ping", "pad": "x" * max(0, big_event_bytes - overhead)}))
    events.append(_event({
        "type": "message_delta",
        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]},
        "usage": {"output_tokens": message["usage"]["output_tokens"]},
    }))
    return events, _event({"type": "message_stop"})


def _padded_text_delta(index: int, size: int) -> bytes:
    def build(text: str) -> bytes:
        return _event({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}})

    return build("x" * max(0, size - len(build(""))))
