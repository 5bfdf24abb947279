"""The Bedrock Converse wire format for the local provider server: `POST /model/{modelId}/converse` and
`/model/{modelId}/converse-stream`.

Shapes follow the real API as recorded in `tests/recordings/bedrock/` and botocore's bedrock-runtime
model: `{"message": ...}` error bodies typed by the `x-amzn-ErrorType` header, `output.message.content` blocks
(`text`, `toolUse` with an object `input`), `stopReason`, `usage` with `totalTokens`, and streams in the binary
AWS event-stream framing (`application/vnd.amazon.eventstream`, frames with correct CRCs written by the
runtime's `encode_message`): `messageStart`, `contentBlockStart|Delta|Stop`, `messageStop`, `metadata`.

Requests are checked the way Bedrock checks them: roles alternate and start with `user`, every message has
content, a history with `toolUse` / `toolResult` blocks needs a `toolConfig`, and the `Authorization` header
is either a bearer API key or has the shape of a SigV4 signature for service `bedrock` (the signature itself
cannot be verified without the secret key, which only the client has).
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from vllora_llm.runtime.eventstream import encode_message
from vllora_llm.tools.testing.replies import (
    Conversation,
    OutputFormat,
    Reply,
    ToolSpec,
    generate,
    prompt_tokens,
    split_fragments,
    split_pieces,
)
from vllora_llm.tools.testing.responder import Call, JsonReply, StreamReply, Wire, WireError, add_route

SIGNING_NAME = "bedrock"
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
EVENT_STREAM = "application/vnd.amazon.eventstream"
_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
_BEARER = re.compile(r"Bearer\s+\S+", re.IGNORECASE)
_SIGV4 = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[A-Z0-9]{4,128})/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z0-9-]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=[0-9a-f]{64}"
)

_ERRORS: dict[int, tuple[str, str]] = {
    400: ("ValidationException", "Invalid request."),
    403: ("AccessDeniedException", "You don't have access to the model with the specified model ID."),
    404: ("ResourceNotFoundException", "The requested resource could not be found."),
    408: ("ModelTimeoutException", "The model took too long to respond."),
    424: ("ModelErrorException", "The model failed to process the request."),
    429: ("ThrottlingException", "Too many requests, please wait before trying again."),
    500: ("InternalServerException", "The server encountered an internal error."),
    503: ("ServiceUnavailableException", "The service is temporarily unavailable."),
}


def error_body(error: WireError) -> dict[str, Any]:
    """Bedrock's error JSON is just `{"message"}`; the type travels in the `x-amzn-ErrorType` header."""
    return {"message": error.message or _ERRORS.get(error.status, ("", f"HTTP {error.status}"))[1]}


def wire_error(status: int, message: str | None = None, error_type: str | None = None) -> WireError:
    """A `WireError` carrying the `x-amzn-ErrorType` header Bedrock sends with every error."""
    kind = error_type or _ERRORS.get(status, ("InternalServerException", ""))[0]
    return WireError(status, message, error_type=kind, headers={"x-amzn-ErrorType": kind + _TYPE_SUFFIX})


def frame(event_type: str, payload: dict[str, Any]) -> bytes:
    """One event-stream message as Bedrock writes it (string headers, JSON payload, both CRCs)."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())


def exception_frame(exception_type: str, message: str) -> bytes:
    """An in-stream error as Bedrock writes it (`:message-type: exception`)."""
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return encode_message(headers, json.dumps({"message": message}).encode())


WIRE = Wire(
    name="bedrock",
    error_body=error_body,
    request_id_header="x-amzn-RequestId",
    stream_content_type=EVENT_STREAM,
    malformed_event=encode_message(
        {":event-type": "contentBlockDelta", ":content-type": "application/json", ":message-type": "event"},
        b'{"contentBlockIndex":0,"delta":',
    ),
)


def register(app: web.Application) -> None:
    add_route(app, "POST", "/model/{modelId}/converse", WIRE, converse)
    add_route(app, "POST", "/model/{modelId}/converse-stream", WIRE, converse_stream)


async def converse(call: Call) -> JsonReply:
    conversation = _checked(call)
    reply = generate(conversation, call_id=f"tooluse_local_{call.sequence}")
    return JsonReply({
        "output": {"message": {"role": "assistant", "content": _blocks(reply)}},
        "stopReason": STOP_REASONS[reply.finish_reason],
        "usage": _usage(conversation, reply),
        "metrics": {"latencyMs": 1},
    })


async def converse_stream(call: Call) -> StreamReply:
    conversation = _checked(call)
    reply = generate(conversation, call_id=f"tooluse_local_{call.sequence}")
    events = [frame("messageStart", {"role": "assistant"})]
    index = 0
    if reply.text is not None:
        pieces = split_pieces(reply.text) or [""]
        if call.fault.big_event_bytes is not None:
            pieces.insert(0, "x" * call.fault.big_event_bytes)
        events += [frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": p}}) for p in pieces]
        events.append(frame("contentBlockStop", {"contentBlockIndex": 0}))
        index = 1
    for tool in reply.tool_calls:
        start = {"toolUse": {"toolUseId": tool.id, "name": tool.name}}
        events.append(frame("contentBlockStart", {"contentBlockIndex": index, "start": start}))
        events += [
            frame("contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolUse": {"input": fragment}}})
            for fragment in split_fragments(tool.arguments)
        ]
        events.append(frame("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    done = frame("messageStop", {"stopReason": STOP_REASONS[reply.finish_reason]}) + frame(
        "metadata", {"usage": _usage(conversation, reply), "metrics": {"latencyMs": 1}}
    )
    return StreamReply(events, done)


# ---- checks ------------------------------------------------------------------------------------------------


def _checked(call: Call) -> Conversation:
    _check_auth(call.headers)
    body = call.json
    if not isinstance(body, dict):
        raise wire_error(400, "Malformed input request, please reformat your input and try again.",
                         "SerializationException")
    _check_messages(body)
    return _conversation(body)


def _check_auth(headers: dict[str, str]) -> None:
    value = headers.get("authorization", "").strip()
    if not value:
        raise wire_error(403, "Missing Authentication Token", "MissingAuthenticationTokenException")
    if _BEARER.fullmatch(value):
        return
    match = _SIGV4.fullmatch(value)
    if match is None:
        raise wire_error(403, "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
                         "parameters of an AWS4-HMAC-SHA256 signature.", "IncompleteSignatureException")
    if match["service"] != SIGNING_NAME:
        raise wire_error(403, f"Credential should be scoped to correct service: '{SIGNING_NAME}'.",
                         "InvalidSignatureException")
    signed = match["signed"].split(";")
    amz_date = headers.get("x-amz-date", "")
    if "host" not in signed or "x-amz-date" not in signed or not amz_date.startswith(match["date"]):
        raise wire_error(403, "The request signature we calculated does not match the signature you provided.",
                         "InvalidSignatureException")


def _check_messages(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise wire_error(400, "The model returned the following errors: messages: at least one message is required")
    previous = None
    tool_blocks = False
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            raise wire_error(400, f"1 validation error detected: Value at 'messages.{i + 1}.member.role' failed "
                             "to satisfy constraint: Member must satisfy enum value set: [user, assistant]")
        if i == 0 and role != "user":
            raise wire_error(400, "A conversation must start with a user message. Try again with a conversation "
                             "that starts with a user message.")
        if role == previous:
            raise wire_error(400, "A conversation must alternate between user and assistant roles. Make sure the "
                             "conversation alternates between user and assistant roles and try again.")
        if not isinstance(content, list) or not content:
            raise wire_error(400, f"The content field in the Message object at messages.{i} is empty. Add a "
                             "ContentBlock object to the content field and try again.")
        tool_blocks = tool_blocks or any(
            isinstance(b, dict) and ("toolUse" in b or "toolResult" in b) for b in content
        )
        previous = role
    tools = (body.get("toolConfig") or {}).get("tools") if isinstance(body.get("toolConfig"), dict) else None
    if tool_blocks and not tools:
        raise wire_error(400, "The toolConfig field must be defined when using toolUse and toolResult content "
                         "blocks.")
    temperature = (body.get("inferenceConfig") or {}).get("temperature")
    if isinstance(temperature, (int, float)) and not 0 <= temperature <= 1:
        raise wire_error(400, "1 validation error detected: Value at 'inferenceConfig.temperature' failed to "
                         "satisfy constraint: Member must have value less than or equal to 1")


# ---- request → conversation, reply → blocks ------------------------------------------------------------------


def _texts(blocks: Any) -> list[str]:
    return [b["text"] for b in blocks or () if isinstance(b, dict) and isinstance(b.get("text"), str)]


def _conversation(body: dict[str, Any]) -> Conversation:
    messages = body["messages"]
    texts = [*_texts(body.get("system"))]
    user_texts: list[str] = []
    for message in messages:
        said = " ".join(_texts(message["content"]))
        texts.append(said)
        if message["role"] == "user" and said:
            user_texts.append(said)
    last = messages[-1]
    results = [
        " ".join(_texts(b["toolResult"].get("content")))
        for b in last["content"]
        if last["role"] == "user" and isinstance(b, dict) and isinstance(b.get("toolResult"), dict)
    ]
    config = body.get("toolConfig") if isinstance(body.get("toolConfig"), dict) else {}
    tools = tuple(
        ToolSpec(t["toolSpec"]["name"], (t["toolSpec"].get("inputSchema") or {}).get("json"))
        for t in config.get("tools") or ()
        if isinstance(t, dict) and isinstance(t.get("toolSpec"), dict) and isinstance(t["toolSpec"].get("name"), str)
    )
    choice = config.get("toolChoice") or {}
    forced = (choice.get("tool") or {}).get("name") if isinstance(choice.get("tool"), dict) else None
    max_tokens = (body.get("inferenceConfig") or {}).get("maxTokens")
    output = _output_format(body.get("outputConfig"))
    return Conversation(
        provider="bedrock",
        texts=tuple(texts),
        last_user_text=user_texts[-1] if user_texts else "",
        tools=tools,
        tool_choice="required" if "any" in choice or forced else "auto",
        forced_tool=forced if isinstance(forced, str) else None,
        tool_result="; ".join(results) if results else None,
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        output=output,
    )


def _output_format(config: Any) -> OutputFormat | None:
    """Structured output: `outputConfig.textFormat {type: json_schema, structure: {jsonSchema: {schema}}}`,
    the schema a JSON *string* (botocore's model). A forced `toolChoice.tool` needs nothing here."""
    text_format = config.get("textFormat") if isinstance(config, dict) else None
    if text_format is None:
        return None
    where = "outputConfig.textFormat"
    if not isinstance(text_format, dict) or text_format.get("type") != "json_schema":
        raise wire_error(400, f"1 validation error detected: Value at '{where}.type' failed to satisfy "
                         "constraint: Member must satisfy enum value set: [json_schema]")
    structure = text_format.get("structure")
    json_schema = structure.get("jsonSchema") if isinstance(structure, dict) else None
    text = json_schema.get("schema") if isinstance(json_schema, dict) else None
    if not isinstance(text, str):
        raise wire_error(400, f"1 validation error detected: Value at '{where}.structure.jsonSchema.schema' "
                         "failed to satisfy constraint: Member must not be null")
    try:
        schema = json.loads(text)
    except ValueError:
        raise wire_error(400, f"{where}.structure.jsonSchema.schema is not valid JSON.") from None
    return OutputFormat("json_schema", schema)


def _blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"text": reply.text}] if reply.text is not None else []
    blocks += [
        {"toolUse": {"toolUseId": c.id, "name": c.name, "input": json.loads(c.arguments)}} for c in reply.tool_calls
    ]
    return blocks


def _usage(conversation: Conversation, reply: Reply) -> dict[str, int]:
    prompt = prompt_tokens(conversation)
    return {"inputTokens": prompt, "outputTokens": reply.completion_tokens,
            "totalTokens": prompt + reply.completion_tokens}
