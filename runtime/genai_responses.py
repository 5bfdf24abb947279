"""What the GenAI conventions record for a Responses call: one `chat` operation (the conventions' value for a
chat-style generation; a Responses call is one whatever the provider does underneath), its `gen_ai.request.*`
attributes from the `CreateResponse`, and its end from the `Response` alone (so a translated call and one sent
to a provider's own Responses endpoint record the same): `gen_ai.response.id` the `resp_…` id, finish reasons
from `status` (`stop`, `tool_calls`, `length`, `content_filter`), usage from `input_tokens` / `output_tokens`
(or the chat usage a translated call had, which carries the routed cost). Content (opt-in) reuses the chat
shapes: the request's own input items as messages, the output items as one assistant message.
"""

from __future__ import annotations

from typing import Any

from vllora_llm.engine.gateway import (
    ChatCompletionMessage,
    CompletionTokensDetails,
    PromptTokensDetails,
    ToolCall,
    Usage,
)
from vllora_llm.engine.responses_map import input_items, to_chat_request
from vllora_llm.engine.responses_types import CreateResponse, FunctionCallItem, Response

from .genai_chat import _parts
from .genai_chat import input_content as chat_input_content
from .observe import Attributes, Observation, Operation

__all__ = ["RESPONSES", "finish_reasons", "finish_responses", "request_attributes"]


def request_attributes(request: CreateResponse, stream: bool) -> Attributes:
    """The `gen_ai.request.*` attributes of the settings the request has."""
    attributes: Attributes = {"gen_ai.request.stream": stream}
    specific = request.provider_specific
    for key, value in (("gen_ai.request.max_tokens", request.max_output_tokens),
                       ("gen_ai.request.temperature", request.temperature),
                       ("gen_ai.request.top_p", request.top_p),
                       ("gen_ai.request.top_k", specific.top_k if specific is not None else None)):
        if value is not None:
            attributes[key] = value
    return attributes


def input_content(request: CreateResponse) -> dict[str, Any]:
    """`gen_ai.system_instructions` (`instructions`, system/developer items) and `gen_ai.input.messages` (the
    request's own items; an earlier turn named by `previous_response_id` was recorded by its own call)."""
    items = input_items(request)
    if not items and not request.instructions:  # a turn that only continues `previous_response_id`
        return {"gen_ai.input.messages": []}
    return chat_input_content(to_chat_request(request, items))


def finish_reasons(response: Response) -> list[str]:
    """The conventions' finish reasons for a `Response` (none for a failed one: its error says why)."""
    if response.status == "incomplete":
        details = response.incomplete_details
        return ["content_filter" if details is not None and details.reason == "content_filter" else "length"]
    if response.status != "completed":
        return []
    return ["tool_calls" if any(isinstance(item, FunctionCallItem) for item in response.output) else "stop"]


def _usage(response: Response) -> Usage | None:
    usage = response.usage
    if usage is None:
        return None
    return Usage(prompt_tokens=usage.input_tokens, completion_tokens=usage.output_tokens,
                 total_tokens=usage.total_tokens,
                 prompt_tokens_details=PromptTokensDetails(
                     cached_tokens=usage.input_tokens_details.cached_tokens,
                     cache_creation_tokens=usage.input_tokens_details.cache_write_tokens),
                 completion_tokens_details=CompletionTokensDetails(
                     reasoning_tokens=usage.output_tokens_details.reasoning_tokens))


def _as_message(response: Response) -> ChatCompletionMessage:
    """The output items as one chat message (reasoning, text, tool calls): the shape the content parts use."""
    calls = [ToolCall.from_dict({"id": item.call_id, "type": "function",
                                 "function": {"name": item.name, "arguments": item.arguments}})
             for item in response.output if isinstance(item, FunctionCallItem)]
    reasoning = "".join(part.text for item in response.output if item.type == "reasoning"
                        for part in getattr(item, "summary", ()))
    return ChatCompletionMessage(role="assistant", content=response.output_text or None,
                                 reasoning=reasoning or None, tool_calls=calls or None)


def output_content(response: Response, reasons: list[str]) -> dict[str, Any]:
    return {"gen_ai.output.messages": [{"role": "assistant", "parts": _parts(_as_message(response)),
                                        "finish_reason": reasons[0] if reasons else ""}]}


def finish_responses(observation: Observation, response: Response, usage: Usage | None = None) -> None:
    """End a Responses call's observation with its `Response` (whole, or what a stream left early had); `usage`
    (a translated call's chat usage, with its cost) replaces the one read from the response."""
    reasons = finish_reasons(response)
    calls = _as_message(response).tool_calls or []
    observation.finish(response_id=response.id, response_model=response.model, finish_reasons=reasons,
                       usage=usage if usage is not None else _usage(response),
                       output_content=lambda: output_content(response, reasons), tool_calls=calls)


RESPONSES = Operation("chat", request_attributes, input_content)
"""A Responses call (`create` / `create_stream`), as the telemetry seam sees it."""
