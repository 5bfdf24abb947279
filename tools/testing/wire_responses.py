"""OpenAI's Responses API for the local provider server: `POST /v1/responses`, plain and streamed.

Shapes follow the recorded streams in `tests/recordings/openai/responses_stream_*` (every field of a `Response`
written, items `in_progress` when added and `completed` when done, consecutive `sequence_number`s, SSE events
named by their type, no `[DONE]`), so the official openai SDK's `client.responses.create` / `.stream` work here.
Replies follow the server's rules (`replies.py`): text that quotes the last user message or the tool results, a
function call when the last user message names a function tool. Like OpenAI, the server keeps each stored
response's conversation (input and output items) for `previous_response_id` and `item_reference` input items;
`store: false` keeps nothing.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from vllora_llm.tools.testing import wire_openai
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
from vllora_llm.tools.testing.responder import Call, JsonReply, StreamReply, WireError, add_route, json_bytes
from vllora_llm.tools.testing.state import STATE

MAX_STORED = 1000
"""Stored conversations kept (the oldest go first)."""

INPUT_TYPES = ("message", "function_call", "function_call_output", "reasoning")


def register(app: web.Application) -> None:
    add_route(app, "POST", "/v1/responses", wire_openai.WIRE, responses)
    add_route(app, "POST", "/openai/v1/responses", wire_openai.WIRE, azure_responses)  # Azure OpenAI's v1 API


async def responses(call: Call) -> JsonReply | StreamReply:
    if not wire_openai.is_bearer(call.headers.get("authorization", "")):
        raise WireError(401, "You didn't provide an API key. You need to provide your API key in an Authorization "
                        "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                        error_type="invalid_request_error")
    return _reply(call)


async def azure_responses(call: Call) -> JsonReply | StreamReply:
    """Azure's v1 API: the key in an `api-key` header (or a bearer token), `model` the deployment name."""
    if not call.headers.get("api-key", "").strip() and not wire_openai.is_bearer(call.headers.get("authorization", "")):
        raise WireError(401, "Access denied due to missing api-key.", error_type="invalid_request_error")
    return _reply(call)


def _reply(call: Call) -> JsonReply | StreamReply:
    body = call.json
    if not isinstance(body, dict):
        raise WireError(400, "We could not parse the JSON body of your request. Send a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise WireError(400, "Missing required parameter: 'model'.", param="model")
    stored = call.request.app[STATE].responses
    items = _earlier(body, stored) + _input_items(body.get("input"), stored)
    conversation = _conversation(body, items)
    reply = generate(conversation, call_id=f"call_local_{call.sequence}")
    response = _response(body, call.sequence, reply, prompt_tokens(conversation))
    if body.get("store") is not False:
        stored[response["id"]] = items + response["output"]
        while len(stored) > MAX_STORED:
            stored.pop(next(iter(stored)))
    if body.get("stream") is True:
        events = _events(response)
        return StreamReply(events[:-1], events[-1])  # the terminal event is what a cut stream lacks
    return JsonReply(response)


def _earlier(body: dict[str, Any], stored: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    previous = body.get("previous_response_id")
    if previous is None:
        return []
    found = stored.get(previous) if isinstance(previous, str) else None
    if found is None:
        raise WireError(404, f"Previous response with id '{previous}' not found.", error_type="invalid_request_error",
                        code="previous_response_not_found", param="previous_response_id")
    return list(found)


def _input_items(value: Any, stored: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if not isinstance(value, list):
        raise WireError(400, "Invalid type for 'input': expected a string or an array of input items.", param="input")
    items = []
    for index, item in enumerate(value):
        kind = item.get("type", "message") if isinstance(item, dict) else None
        if kind == "item_reference":  # an item of a stored response, by its id
            found = next((earlier for conversation in stored.values() for earlier in conversation
                          if earlier.get("id") == item.get("id")), None)
            if found is None:
                raise WireError(404, f"Item with id '{item.get('id')}' not found.", error_type="invalid_request_error",
                                param=f"input[{index}]")
            items.append(found)
            continue
        if kind not in INPUT_TYPES:
            raise WireError(400, f"Invalid value: {kind!r}. Supported values are: {', '.join(INPUT_TYPES)}.",
                            param=f"input[{index}].type")
        items.append({**item, "type": kind})
    return items


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = (part.get("text") for part in content if isinstance(part, dict))
        return " ".join(part for part in parts if isinstance(part, str))
    return ""


def _conversation(body: dict[str, Any], items: list[dict[str, Any]]) -> Conversation:
    texts = [body["instructions"]] if isinstance(body.get("instructions"), str) else []
    user = ""
    for item in items:
        if item["type"] == "message":
            texts.append(_text(item.get("content")))
            if item.get("role") == "user":
                user = texts[-1]
        elif item["type"] == "function_call_output":
            texts.append(_text(item.get("output")))
    results = []
    for item in reversed(items):
        if item["type"] != "function_call_output":
            break
        results.insert(0, _text(item.get("output")))
    tools = tuple(ToolSpec(t["name"], t.get("parameters")) for t in body.get("tools") or []
                  if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("name"), str))
    choice, forced = body.get("tool_choice"), None
    if isinstance(choice, dict) and choice.get("type") == "function":
        forced, choice = choice.get("name"), "required"
    limit = body.get("max_output_tokens")
    return Conversation(
        provider="openai", texts=tuple(texts), last_user_text=user, tools=tools,
        tool_choice=choice if choice in ("none", "required") else "auto",
        forced_tool=forced if isinstance(forced, str) else None,
        tool_result="; ".join(results) if results else None,
        max_tokens=limit if isinstance(limit, int) else None,
        output=_output_format((body.get("text") or {}).get("format"), texts),
        parallel_tool_calls=body.get("parallel_tool_calls") is not False,
    )


def _output_format(fmt: Any, texts: list[str]) -> OutputFormat | None:
    """`text.format` checked as the API checks it (JSON mode needs the word "json" in the input)."""
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return None
    if fmt["type"] == "json_object":
        if not any("json" in text.lower() for text in texts):
            raise WireError(400, "Response input messages must contain the word 'json' in some form to use "
                            "'text.format' of type 'json_object'.", param="input")
        return OutputFormat("json_object")
    if fmt["type"] == "json_schema":
        if not isinstance(fmt.get("name"), str):
            raise WireError(400, "Missing required parameter: 'text.format.name'.", param="text.format.name")
        return OutputFormat("json_schema", fmt.get("schema") or {})
    raise WireError(400, f"Invalid value: '{fmt['type']}'. Supported values are: 'text', 'json_object', and "
                    "'json_schema'.", param="text.format.type")


def _output(reply: Reply, sequence: int) -> list[dict[str, Any]]:
    if reply.tool_calls:
        return [{"id": f"fc_local_{sequence}_{k}", "type": "function_call", "status": "completed",
                 "arguments": c.arguments, "call_id": c.id, "name": c.name} for k, c in enumerate(reply.tool_calls)]
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": reply.text or ""}
    status = "incomplete" if reply.finish_reason == "length" else "completed"
    return [{"id": f"msg_local_{sequence}", "type": "message", "status": status, "content": [part],
             "role": "assistant"}]


def _response(body: dict[str, Any], sequence: int, reply: Reply, prompt: int) -> dict[str, Any]:
    incomplete = reply.finish_reason == "length"
    reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
    text = body.get("text") if isinstance(body.get("text"), dict) else {}
    return {
        "id": f"resp_local_{sequence}", "object": "response", "created_at": wire_openai.CREATED,
        "status": "incomplete" if incomplete else "completed", "background": False,
        "completed_at": int(time.time()), "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"), "model": body["model"], "output": _output(reply, sequence),
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "previous_response_id": body.get("previous_response_id"), "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "safety_identifier": body.get("safety_identifier"), "service_tier": "default",
        "store": body.get("store") is not False, "temperature": body.get("temperature", 1.0),
        "text": {"format": text.get("format") or {"type": "text"}, "verbosity": text.get("verbosity", "medium")},
        "tool_choice": body.get("tool_choice", "auto"), "tools": body.get("tools") or [],
        "top_logprobs": body.get("top_logprobs", 0), "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                  "output_tokens": reply.completion_tokens, "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": prompt + reply.completion_tokens},
        "user": body.get("user"), "metadata": body.get("metadata") or {},
    }


def _events(response: dict[str, Any]) -> list[bytes]:
    """The stream of `response`, as OpenAI sends it: created, in_progress, each item added → deltas → done,
    then completed (or incomplete)."""
    out: list[bytes] = []

    def event(kind: str, **fields: Any) -> None:
        data = {"type": kind, **fields, "sequence_number": len(out)}
        out.append(f"event: {kind}\n".encode() + b"data: " + json_bytes(data) + b"\n\n")

    started = {**response, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None,
               "completed_at": None}
    event("response.created", response=started)
    event("response.in_progress", response=started)
    for index, item in enumerate(response["output"]):
        if item["type"] == "function_call":
            event("response.output_item.added", output_index=index,
                  item={**item, "status": "in_progress", "arguments": ""})
            for piece in split_fragments(item["arguments"]):
                event("response.function_call_arguments.delta", item_id=item["id"], output_index=index, delta=piece)
            event("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                  arguments=item["arguments"])
        else:
            part = item["content"][0]
            event("response.output_item.added", output_index=index,
                  item={**item, "status": "in_progress", "content": []})
            event("response.content_part.added", item_id=item["id"], output_index=index, content_index=0,
                  part={**part, "text": ""})
            for piece in split_pieces(part["text"]):
                event("response.output_text.delta", item_id=item["id"], output_index=index, content_index=0,
                      delta=piece, logprobs=[])
            event("response.output_text.done", item_id=item["id"], output_index=index, content_index=0,
                  text=part["text"], logprobs=[])
            event("response.content_part.done", item_id=item["id"], output_index=index, content_index=0, part=part)
        event("response.output_item.done", output_index=index, item=item)
    event("response.incomplete" if response["status"] == "incomplete" else "response.completed", response=response)
    return out
