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

Thinking (Claude through `additionalModelRequestFields.thinking`, `type` enabled or adaptive) is answered and
checked as Bedrock does. Facts used (AWS API reference, ReasoningContentBlock / ReasoningTextBlock; the
`ValidationException` texts quoted in langchain-aws#844, pydantic-ai#2453, aws-samples/bedrock-engineer#43):
the reply starts with `reasoningContent: {reasoningText: {text, signature}}`; a stream sends it as
`contentBlockDelta` events with `delta.reasoningContent.text` pieces, then one `delta.reasoningContent.signature`;
a reasoning block sent back must keep its text and signature unmodified, and with thinking on, the final
assistant turn holding `toolUse` must start with its reasoning block ("The model returned the following errors:
messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. ..."), else 400.
The signature is the Anthropic wire format's (`wire_anthropic.signature_for`), checkable here; Anthropic's
redacted-thinking test prompt gets `reasoningContent.redactedContent` (base64), which must come back unmodified.
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
    count_words,
    generate,
    prompt_tokens,
    split_fragments,
    split_pieces,
    thinking_text,
)
from vllora_llm.tools.testing.responder import Call, JsonReply, StreamReply, Wire, WireError, add_route
from vllora_llm.tools.testing.wire_anthropic import REDACTED_TRIGGER, redacted_for, redacted_ok, signature_for

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
    conversation, thinking = _checked(call)
    reply = generate(conversation, call_id=f"tooluse_local_{call.sequence}")
    return JsonReply({
        "output": {"message": {"role": "assistant", "content": _blocks(reply, thinking)}},
        "stopReason": STOP_REASONS[reply.finish_reason],
        "usage": _usage(conversation, reply, thinking),
        "metrics": {"latencyMs": 1},
    })


async def converse_stream(call: Call) -> StreamReply:
    conversation, thinking = _checked(call)
    reply = generate(conversation, call_id=f"tooluse_local_{call.sequence}")
    events = [frame("messageStart", {"role": "assistant"})]
    index = 0
    if thinking is not None:
        deltas = [{"reasoningContent": {"text": p}} for p in split_pieces(thinking)]
        deltas.append({"reasoningContent": {"signature": signature_for(thinking)}})
        if REDACTED_TRIGGER in thinking:
            deltas = [{"reasoningContent": {"redactedContent": redacted_for(thinking)}}]
        events += [frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": d}) for d in deltas]
        events.append(frame("contentBlockStop", {"contentBlockIndex": 0}))
        index = 1
    if reply.text is not None:
        pieces = split_pieces(reply.text) or [""]
        if call.fault.big_event_bytes is not None:
            pieces.insert(0, "x" * call.fault.big_event_bytes)
        events += [frame("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": p}}) for p in pieces]
        events.append(frame("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
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
        "metadata", {"usage": _usage(conversation, reply, thinking), "metrics": {"latencyMs": 1}}
    )
    return StreamReply(events, done)


# ---- checks ------------------------------------------------------------------------------------------------


def _checked(call: Call) -> tuple[Conversation, str | None]:
    """The conversation, and the reply's thinking text when the request turns thinking on."""
    _check_auth(call.headers)
    body = call.json
    if not isinstance(body, dict):
        raise wire_error(400, "Malformed input request, please reformat your input and try again.",
                         "SerializationException")
    _check_messages(body)
    _check_reasoning(body)
    conversation = _conversation(body)
    return conversation, thinking_text(conversation) if _thinking_on(body) else None


def _thinking_on(body: dict[str, Any]) -> bool:
    fields = body.get("additionalModelRequestFields")
    thinking = fields.get("thinking") if isinstance(fields, dict) else None
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _model_error(message: str) -> WireError:
    return wire_error(400, f"The model returned the following errors: {message}")


def _check_reasoning(body: dict[str, Any]) -> None:
    """Reasoning blocks sent back keep their signature; with thinking on, the final assistant turn that calls
    tools starts with one (Claude's rule, which Bedrock reports as the model's error)."""
    messages = body["messages"]
    for i, message in enumerate(messages):
        for j, block in enumerate(message["content"]):
            reasoning = block.get("reasoningContent") if isinstance(block, dict) else None
            text_block = reasoning.get("reasoningText") if isinstance(reasoning, dict) else None
            if isinstance(text_block, dict):
                text, signature = text_block.get("text"), text_block.get("signature")
                if not isinstance(text, str) or signature != signature_for(text):
                    raise _model_error(f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block")
            if isinstance(reasoning, dict) and "redactedContent" in reasoning and not redacted_ok(
                    reasoning["redactedContent"]):
                raise _model_error(f"messages.{i}.content.{j}: Invalid `data` in `redacted_thinking` block")
    if not _thinking_on(body):
        return
    last = next((i for i in range(len(messages) - 1, -1, -1) if messages[i]["role"] == "assistant"), None)
    if last is None:
        return
    content = messages[last]["content"]
    if not any(isinstance(b, dict) and "toolUse" in b for b in content):
        return
    first = content[0]
    if not (isinstance(first, dict) and "reasoningContent" in first):
        found = "tool_use" if isinstance(first, dict) and "toolUse" in first else "text"
        raise _model_error(
            f"messages.{last}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. "
            "When `thinking` is enabled, a final `assistant` message must start with a thinking block "
            "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include "
            "thinking blocks from previous turns. To avoid this requirement, disable `thinking`."
        )


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


def _blocks(reply: Reply, thinking: str | None = None) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if thinking is not None and REDACTED_TRIGGER in thinking:
        blocks.append({"reasoningContent": {"redactedContent": redacted_for(thinking)}})
    elif thinking is not None:
        blocks.append({"reasoningContent": {"reasoningText": {"text": thinking, "signature": signature_for(thinking)}}})
    if reply.text is not None:
        blocks.append({"text": reply.text})
    blocks += [
        {"toolUse": {"toolUseId": c.id, "name": c.name, "input": json.loads(c.arguments)}} for c in reply.tool_calls
    ]
    return blocks


def _usage(conversation: Conversation, reply: Reply, thinking: str | None = None) -> dict[str, int]:
    prompt = prompt_tokens(conversation)
    output = reply.completion_tokens + (count_words(thinking) if thinking else 0)
    return {"inputTokens": prompt, "outputTokens": output, "totalTokens": prompt + output}
