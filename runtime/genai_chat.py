"""What the GenAI conventions record for a chat call: its `gen_ai.request.*` attributes and its content.

Content (opt-in) uses the conventions' message shapes: `gen_ai.input.messages` `[{role, parts}]`,
`gen_ai.system_instructions` `[parts]`, `gen_ai.output.messages` `[{role, parts, finish_reason}]`, with parts
`text`, `tool_call`, `tool_call_response`, `reasoning` and `uri` (an inline `data:` image is named, not copied).
"""

from __future__ import annotations

from typing import Any

from vllora_llm.engine.gateway import (
    ChatCompletionMessage,
    ChatCompletionMessageWithFinishReason,
    ChatCompletionRequest,
    ImageUrlPart,
    TextPart,
)

from .observe import Attributes, Observation, Operation

__all__ = ["CHAT", "finish_chat", "input_content", "output_content", "request_attributes"]


def request_attributes(request: ChatCompletionRequest, stream: bool) -> Attributes:
    """The `gen_ai.request.*` attributes of the parameters the request sets."""
    attributes: Attributes = {"gen_ai.request.stream": stream}
    max_tokens = request.max_completion_tokens if request.max_completion_tokens is not None else request.max_tokens
    values = (
        ("gen_ai.request.max_tokens", max_tokens),
        ("gen_ai.request.temperature", request.temperature),
        ("gen_ai.request.top_p", request.top_p),
        ("gen_ai.request.frequency_penalty", request.frequency_penalty),
        ("gen_ai.request.presence_penalty", request.presence_penalty),
        ("gen_ai.request.seed", request.seed),
        ("gen_ai.request.choice.count", request.n if request.n != 1 else None),
        ("gen_ai.request.top_k", request.provider_specific.top_k if request.provider_specific else None),
    )
    for key, value in values:
        if value is not None:
            attributes[key] = value
    stop = request.stop
    if stop is not None:
        attributes["gen_ai.request.stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    return attributes


def _parts(message: ChatCompletionMessage) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if message.reasoning:
        parts.append({"type": "reasoning", "content": message.reasoning})
    content = message.content
    if message.role == "tool":
        parts.append({"type": "tool_call_response", "id": message.tool_call_id, "response": message.text()})
        return parts
    if isinstance(content, str):
        if content:
            parts.append({"type": "text", "content": str(content)})
    elif content is not None:
        for part in content:
            if isinstance(part, TextPart):
                parts.append({"type": "text", "content": part.text})
            elif isinstance(part, ImageUrlPart):
                url = part.image_url.url
                if url.startswith("data:"):
                    parts.append({"type": "blob", "modality": "image",
                                  "mime_type": url[5:].split(";", 1)[0].split(",", 1)[0] or None})
                else:
                    parts.append({"type": "uri", "modality": "image", "uri": url})
    for call in message.tool_calls or ():
        parts.append({"type": "tool_call", "id": call.id, "name": call.function.name,
                      "arguments": call.function.arguments})
    return parts


def input_content(request: ChatCompletionRequest) -> dict[str, Any]:
    """`gen_ai.system_instructions` (the system/developer messages) and `gen_ai.input.messages` (the rest)."""
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role in ("system", "developer"):
            system.extend(_parts(message))
        else:
            messages.append({"role": message.role, "parts": _parts(message)})
    out: dict[str, Any] = {"gen_ai.input.messages": messages}
    if system:
        out["gen_ai.system_instructions"] = system
    return out


def output_content(result: ChatCompletionMessageWithFinishReason) -> dict[str, Any]:
    return {"gen_ai.output.messages": [
        {"role": choice.message.role, "parts": _parts(choice.message), "finish_reason": choice.finish_reason or ""}
        for choice in result.choices
    ]}


def finish_chat(observation: Observation, result: ChatCompletionMessageWithFinishReason) -> None:
    """End a chat call's observation with its (whole or aggregated) result."""
    reasons = [choice.finish_reason for choice in result.choices if choice.finish_reason]
    calls = [call for choice in result.choices for call in choice.message.tool_calls or ()]
    observation.finish(response_id=result.id, response_model=result.model, finish_reasons=reasons,
                       usage=result.usage, output_content=lambda: output_content(result), tool_calls=calls)


CHAT = Operation("chat", request_attributes, input_content)
"""A chat completion (`create` / `create_stream`), as the telemetry seam sees it."""
