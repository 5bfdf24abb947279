"""Responses ↔ chat: a `CreateResponse` (with the conversation before it) becomes a unified chat request, and a
chat result becomes a `Response`, so every provider with a chat spec serves the Responses API.

Input items become chat messages: `instructions` → a system message; messages keep their role (`input_text` /
`input_image` / `input_file` / `output_text` parts → text / image / file parts); `reasoning`, assistant messages
and `function_call` items that follow each other are one assistant turn (reasoning → `reasoning_details` with the
signature from `encrypted_content`, and its text as `reasoning`; a `redacted_item` → a redacted detail; a
`call_signature_item` → the signature of the call after it; a call → a tool call with its `call_id`);
`function_call_output` → a tool message answering that `call_id`. Anything else is an `InvalidRequestError` /
`MappingError` naming the item.

Settings: every `CreateResponse` field is sent (as its chat parameter, which the spec then judges), honoured by
the library (`store`, `previous_response_id`, `metadata` echoed, `include` of what is always given), or listed by
`unsent_settings` so the spec's unsupported-parameter policy applies to it (`judge_unsent`): a warning value or,
with `policy: {unsupported: error}`, a `MappingError`; never a silent drop.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from .errors import InvalidRequestError, MappingError
from .gateway import (
    ChatCompletionMessage,
    ChatCompletionMessageWithFinishReason,
    ChatCompletionRequest,
    RequestWarning,
    Usage,
)
from .responses_types import (
    CreateResponse,
    FunctionCallItem,
    IncompleteDetails,
    InputTokensDetails,
    OutputItem,
    OutputMessage,
    OutputText,
    OutputTokensDetails,
    ReasoningItem,
    Refusal,
    Response,
    ResponseUsage,
    SummaryText,
)

if TYPE_CHECKING:  # the spec compiler's modules, imported only when a policy is applied
    from .params import Policy

INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}
"""Chat finish reasons that make a response `incomplete`, and the `incomplete_details.reason` they become."""

LOGPROBS = "message.output_text.logprobs"
INCLUDES = {
    "reasoning.encrypted_content": "always given: a reasoning item carries the provider's signature",
    LOGPROBS: "sent as the chat `logprobs` (the spec judges it); returned on `output_text` parts",
    "message.input_image.image_url": "input items are not returned: nothing to include",
    "file_search_call.results": "built-in tools are not translated: nothing to include",
    "web_search_call.results": "built-in tools are not translated: nothing to include",
    "web_search_call.action.sources": "built-in tools are not translated: nothing to include",
    "computer_call_output.output.image_url": "built-in tools are not translated: nothing to include",
    "code_interpreter_call.outputs": "built-in tools are not translated: nothing to include",
}
"""The Responses `include` values, and what a translated request does with each."""
CHOICES = {"truncation": ("auto", "disabled"), "reasoning.summary": ("auto", "concise", "detailed"),
           "text.verbosity": ("low", "medium", "high")}
NOT_IN_CHAT = "not expressible in a chat request"


def new_id(prefix: str) -> str:
    """An id in OpenAI's style (`resp_…`, `msg_…`, `fc_…`, `rs_…`)."""
    return f"{prefix}_{secrets.token_hex(16)}"


# ---- request ---------------------------------------------------------------------------------------------


def input_items(request: CreateResponse) -> list[dict[str, Any]]:
    """The request's `input` as a list of items (a string is one user message)."""
    if isinstance(request.input, str):
        return [{"type": "message", "role": "user", "content": request.input}] if request.input else []
    return list(request.input)


def to_chat_request(request: CreateResponse, items: Sequence[dict[str, Any]]) -> ChatCompletionRequest:
    """The unified chat request for `request`, whose whole conversation (earlier turns included) is `items`."""
    messages: list[dict[str, Any]] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    messages.extend(_messages(items))
    if not messages:
        raise InvalidRequestError("input: must not be empty (give a string or at least one item)", path="input")
    chat: dict[str, Any] = {"model": request.model, "messages": messages}
    for name, value in (("temperature", request.temperature), ("top_p", request.top_p),
                        ("max_tokens", request.max_output_tokens), ("user", request.user),
                        ("parallel_tool_calls", request.parallel_tool_calls)):
        if value is not None:
            chat[name] = value
    if request.tools:
        chat["tools"] = [_tool(tool, f"tools[{i}]") for i, tool in enumerate(request.tools)]
    if request.tool_choice is not None:
        chat["tool_choice"] = _tool_choice(request.tool_choice)
    if request.text is not None and request.text.format is not None:
        chat["response_format"] = _response_format(request.text.format)
    if request.reasoning is not None and request.reasoning.effort is not None:
        chat["reasoning_effort"] = request.reasoning.effort
    if LOGPROBS in _includes(request):
        chat["logprobs"] = True
    if request.provider_specific is not None:
        chat["provider_specific"] = request.provider_specific.to_dict()
    return ChatCompletionRequest.from_dict(chat)


def _includes(request: CreateResponse) -> list[str]:
    for index, value in enumerate(request.include or ()):
        if value not in INCLUDES:
            raise InvalidRequestError(f"include[{index}]: {value!r} is not one of {', '.join(sorted(INCLUDES))}",
                                      path=f"include[{index}]")
    return list(request.include or ())


def _settings(request: CreateResponse) -> dict[str, str | None]:
    """The Responses-only settings with a closed set of values, checked (an `InvalidRequestError` naming one)."""
    values = {"truncation": request.truncation,
              "reasoning.summary": request.reasoning.summary if request.reasoning else None,
              "text.verbosity": request.text.verbosity if request.text else None}
    for name, value in values.items():
        if value is not None and value not in CHOICES[name]:
            raise InvalidRequestError(f"{name}: expected one of {', '.join(CHOICES[name])}, got {value!r}", path=name)
    return values


def unsent_settings(request: CreateResponse) -> list[tuple[str, str]]:
    """(field, why) for each setting of `request` that no chat request can carry: `truncation: auto` (the
    conversation is sent whole; one too long for the context fails as with `disabled`), `reasoning.summary`
    `concise` / `detailed` (the provider's own reasoning text, when it gives one, is the summary),
    `text.verbosity`, and the fields only a native Responses endpoint takes (`CreateResponse.NATIVE_ONLY`). Bad
    values are an `InvalidRequestError` naming the field."""
    _includes(request)
    values = _settings(request)
    unsent: list[tuple[str, str]] = []
    if values["truncation"] == "auto":
        unsent.append(("truncation", f"{NOT_IN_CHAT} ('auto': the conversation is sent whole)"))
    if values["reasoning.summary"] in ("concise", "detailed"):
        unsent.append(("reasoning.summary", f"{NOT_IN_CHAT} (the provider's own reasoning text is the summary)"))
    if values["text.verbosity"] is not None:
        unsent.append(("text.verbosity", NOT_IN_CHAT))
    given = msgspec.structs.asdict(request)  # the fields only a natively served Responses endpoint takes
    unsent.extend((name, NOT_IN_CHAT) for name in CreateResponse.NATIVE_ONLY if given.get(name) is not None)
    return unsent


def judge_unsent(request: CreateResponse, policy: Policy) -> list[RequestWarning]:
    """The spec's unsupported-parameter `policy` applied to `unsent_settings`: warnings (`warn`, `drop`), or
    a `MappingError` naming the first one (`error`), before any I/O."""
    from .transforms import Context

    ctx = Context(policy.provider)
    for name, why in unsent_settings(request):
        policy.unsupported(name, policy.default, ctx, why)
    return ctx.warnings


def _messages(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    turn: dict[str, Any] | None = None  # the assistant turn being gathered (reasoning, text, calls)
    call_signature: str | None = None  # from a `call_signature_item`, for the function call that follows it

    def assistant() -> dict[str, Any]:
        nonlocal turn
        if turn is None:
            turn = {"role": "assistant"}
            out.append(turn)
        return turn

    for index, item in enumerate(items):
        path = f"input[{index}]"
        if not isinstance(item, dict):
            raise InvalidRequestError(f"{path}: expected an input item (an object)", path=path)
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "system", "developer", "assistant"):
                raise InvalidRequestError(f"{path}.role: expected user, system, developer or assistant, got {role!r}",
                                          path=f"{path}.role")
            content = _content(item.get("content"), f"{path}.content")
            if role == "assistant":
                current = assistant()
                if "content" in current or "tool_calls" in current:  # a second message: a new turn
                    turn = None
                    current = assistant()
                current["content"] = content if isinstance(content, str) else "".join(
                    part.get("text", "") for part in content)
                continue
            turn = None
            out.append({"role": role, "content": content})
        elif kind == "function_call":
            call = {"id": _text(item, "call_id", path), "type": "function",
                    "function": {"name": _text(item, "name", path), "arguments": _text(item, "arguments", path)}}
            if call_signature is not None:
                call["signature"], call_signature = call_signature, None
            assistant().setdefault("tool_calls", []).append(call)
        elif kind == "function_call_output":
            output = item.get("output")
            if not isinstance(output, str):
                output = "".join(part.get("text", "") for part in _content(output, f"{path}.output")
                                 if isinstance(part, dict))
            turn = None
            out.append({"role": "tool", "tool_call_id": _text(item, "call_id", path), "content": output})
        elif kind == "reasoning" and str(item.get("encrypted_content") or "").startswith(CALL_SIGNATURE):
            call_signature = str(item["encrypted_content"])[len(CALL_SIGNATURE):]
        elif kind == "reasoning":
            current = assistant()
            if "content" in current or "tool_calls" in current:
                turn = None
                current = assistant()
            summary = item.get("summary") or []
            text = "".join(part.get("text", "") for part in summary if isinstance(part, dict))
            detail: dict[str, Any] = {"type": "thinking", "text": text}
            encrypted = str(item.get("encrypted_content") or "")
            if encrypted.startswith(REDACTED):
                detail = {"type": "redacted_thinking", "data": encrypted[len(REDACTED):]}
            elif encrypted:
                detail["signature"] = encrypted
            current.setdefault("reasoning_details", []).append(detail)
            if text:  # the plain text too: a spec that sends reasoning back unsigned reads `reasoning`
                current["reasoning"] = current.get("reasoning", "") + text
        else:
            raise MappingError(f"{path}.type: input items of type {kind!r} cannot be translated to a chat request",
                               path=f"{path}.type")
    for message in out:  # an assistant turn of reasoning only still needs a content for chat
        if message["role"] == "assistant" and "content" not in message and "tool_calls" not in message:
            message["content"] = ""
    return out


def _text(item: dict[str, Any], name: str, path: str) -> str:
    value = item.get(name)
    if not isinstance(value, str):
        raise InvalidRequestError(f"{path}.{name}: expected a string", path=f"{path}.{name}")
    return value


def _content(content: Any, path: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequestError(f"{path}: expected a string or a list of content parts", path=path)
    parts: list[dict[str, Any]] = []
    for index, part in enumerate(content):
        where = f"{path}[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": _text(part, "text", where)})
        elif kind == "refusal":
            parts.append({"type": "text", "text": _text(part, "refusal", where)})
        elif kind == "input_image":
            url = part.get("image_url")
            if not isinstance(url, str):
                raise MappingError(f"{where}.image_url: an image is translated from its URL (a file_id cannot be)",
                                   path=f"{where}.image_url")
            image: dict[str, Any] = {"url": url}
            if part.get("detail"):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        elif kind == "input_file":
            ref = {key: part[key] for key in ("file_data", "file_id", "filename") if part.get(key) is not None}
            parts.append({"type": "file", "file": ref})
        else:
            raise MappingError(f"{where}.type: content parts of type {kind!r} cannot be translated",
                               path=f"{where}.type")
    return parts


def _tool(tool: dict[str, Any], path: str) -> dict[str, Any]:
    if tool.get("type") != "function":
        raise MappingError(f"{path}.type: the built-in tool {tool.get('type')!r} has no chat equivalent here "
                           "(only function tools are translated)", path=f"{path}.type")
    function = {key: tool[key] for key in ("name", "description", "parameters", "strict") if tool.get(key) is not None}
    if not isinstance(function.get("name"), str):
        raise InvalidRequestError(f"{path}.name: expected a string", path=f"{path}.name")
    return {"type": "function", "function": function}


def _tool_choice(choice: str | dict[str, Any]) -> Any:
    if isinstance(choice, str):
        return choice
    if choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise MappingError(f"tool_choice: {choice.get('type')!r} cannot be translated (give auto, none, required or "
                       "a function)", path="tool_choice")


def _response_format(fmt: dict[str, Any]) -> dict[str, Any]:
    kind = fmt.get("type")
    if kind in ("text", "json_object"):
        return {"type": kind}
    if kind == "json_schema":
        spec = {key: fmt[key] for key in ("name", "schema", "strict", "description") if fmt.get(key) is not None}
        spec.setdefault("name", "response")
        return {"type": "json_schema", "json_schema": spec}
    raise InvalidRequestError(f"text.format.type: expected text, json_object or json_schema, got {kind!r}",
                              path="text.format.type")


# ---- response --------------------------------------------------------------------------------------------


def usage_of(usage: Usage | None) -> ResponseUsage | None:
    """Chat usage as Responses usage (`input_tokens` / `output_tokens` with cached and reasoning details)."""
    if usage is None:
        return None
    prompt = usage.prompt_tokens_details
    completion = usage.completion_tokens_details
    return ResponseUsage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
        input_tokens_details=InputTokensDetails(
            cached_tokens=(prompt.cached_tokens or 0) if prompt else 0,
            cache_write_tokens=(prompt.cache_creation_tokens or 0) if prompt else 0),
        output_tokens_details=OutputTokensDetails(
            reasoning_tokens=(completion.reasoning_tokens or 0) if completion else 0),
    )


def reasoning_items(message: ChatCompletionMessage) -> list[ReasoningItem]:
    """The message's reasoning as reasoning items: one per detail (its signature as `encrypted_content`; a
    redacted block as a `redacted_item`)."""
    details = [d for d in message.reasoning_details or () if d.type == "thinking" or d.data]
    if details:
        return [redacted_item(d.data) if d.type == "redacted_thinking" and d.data else
                ReasoningItem(id=new_id("rs"), summary=[SummaryText(text=d.text)] if d.text else [],
                              encrypted_content=d.signature) for d in details]
    if message.reasoning:
        return [ReasoningItem(id=new_id("rs"), summary=[SummaryText(text=message.reasoning)])]
    return []


def logprobs_of(raw: Any) -> list[dict[str, Any]]:
    """Chat logprobs (`{"content": [{token, logprob, bytes, top_logprobs}]}`) as Responses `output_text`
    logprobs (the same entries, `bytes` filled in where the provider left it out)."""
    entries = raw.get("content") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        return []
    return [_logprob(entry, True) for entry in entries if isinstance(entry, dict)]


def _logprob(entry: dict[str, Any], top: bool) -> dict[str, Any]:
    token = str(entry.get("token", ""))
    out: dict[str, Any] = {"token": token, "bytes": entry.get("bytes") or list(token.encode()),
                           "logprob": float(entry.get("logprob") or 0.0)}
    if top:
        out["top_logprobs"] = [_logprob(alt, False) for alt in entry.get("top_logprobs") or ()
                               if isinstance(alt, dict)]
    return out


def output_items(message: ChatCompletionMessage, logprobs: Any = None) -> list[OutputItem]:
    """A chat message as output items, in OpenAI's order: reasoning, the message, function calls."""
    items: list[OutputItem] = list(reasoning_items(message))
    content: list[OutputText | Refusal] = []
    text = message.text()
    if text:
        content.append(OutputText(text=text, logprobs=logprobs_of(logprobs)))
    if message.refusal:
        content.append(Refusal(refusal=message.refusal))
    if content:
        items.append(OutputMessage(id=new_id("msg"), content=content))
    for call in message.tool_calls or ():
        if call.signature:
            items.append(call_signature_item(call.signature))
        items.append(FunctionCallItem(id=new_id("fc"), call_id=call.id or new_id("call"), name=call.function.name,
                                      arguments=call.function.arguments))
    return items


CALL_SIGNATURE = "vllora.call-signature:"
"""Marks a reasoning item's `encrypted_content` as the signature of the function call right after it."""


REDACTED = "vllora.redacted-thinking:"
"""Marks a reasoning item's `encrypted_content` as a redacted reasoning block's opaque data."""


def redacted_item(data: str) -> ReasoningItem:
    """A redacted reasoning block (Anthropic `redacted_thinking`, Bedrock `redactedContent`) as a reasoning item
    with no summary, its data in `encrypted_content`; given back as input, it is that block again."""
    return ReasoningItem(id=new_id("rs"), summary=[], encrypted_content=REDACTED + data)


def call_signature_item(signature: str) -> ReasoningItem:
    """A tool call's own signature (e.g. a thought signature on a function call) as an output item: a reasoning
    item with no summary, just before the `function_call` item, whose opaque `encrypted_content` holds it. Given
    back as input, it becomes that call's `signature` again (OpenAI's function_call item has no place for it)."""
    return ReasoningItem(id=new_id("rs"), summary=[], encrypted_content=CALL_SIGNATURE + signature)


def finish_status(finish_reason: str | None) -> tuple[str, IncompleteDetails | None]:
    """A chat finish reason as a Responses `status` and `incomplete_details`."""
    reason = INCOMPLETE_REASONS.get(finish_reason or "")
    if reason is None:
        return "completed", None
    return "incomplete", IncompleteDetails(reason=reason)  # type: ignore[arg-type]


def response_shell(request: CreateResponse, response_id: str, created_at: float, model: str | None = None) -> Response:
    """The `Response` for `request` before any output: the request's settings echoed, as OpenAI does."""
    return Response(
        id=response_id,
        created_at=created_at,
        model=model or request.model,
        status="in_progress",
        instructions=request.instructions,
        max_output_tokens=request.max_output_tokens,
        metadata=dict(request.metadata or {}),
        parallel_tool_calls=True if request.parallel_tool_calls is None else request.parallel_tool_calls,
        previous_response_id=request.previous_response_id,
        reasoning=request.reasoning,
        store=True if request.store is None else request.store,
        temperature=request.temperature,
        text=request.text,
        tool_choice="auto" if request.tool_choice is None else request.tool_choice,
        tools=list(request.tools or []),
        top_p=request.top_p,
        truncation="disabled",  # what a translated request does (`auto` is judged by the spec's policy)
        user=request.user,
    )


def to_response(
    request: CreateResponse, result: ChatCompletionMessageWithFinishReason, response_id: str, created_at: float
) -> Response:
    """The `Response` for a whole chat result."""
    response = response_shell(request, response_id, created_at, result.model)
    choice = result.choices[0] if result.choices else None
    if choice is not None:
        response.output = output_items(choice.message, choice.logprobs)
    status, details = finish_status(choice.finish_reason if choice else None)
    response.status = status  # type: ignore[assignment]
    response.incomplete_details = details
    response.usage = usage_of(result.usage)
    response.warnings = list(result.warnings)
    response.provider = result.provider
    return response


def items_as_input(items: Sequence[OutputItem]) -> list[dict[str, Any]]:
    """Output items as input items for the next turn (what `previous_response_id` appends)."""
    return [item.to_dict() for item in items]

