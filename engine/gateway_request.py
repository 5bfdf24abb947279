"""The gateway's request types: `ChatCompletionRequest` and what it holds (tools, tool choice, response
format, provider-specific options, the numeric ranges it checks)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from .errors import InvalidRequestError
from .gateway_messages import ChatCompletionMessage
from .gateway_struct import GatewayStruct
from .mcp_types import McpDefinition


class FunctionDefinition(GatewayStruct):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(GatewayStruct, omit_defaults=False):
    """Always encoded whole: OpenAI requires `type` on every tool."""

    function: FunctionDefinition
    type: str = "function"


class ToolChoiceFunction(GatewayStruct):
    name: str


class NamedToolChoice(GatewayStruct, omit_defaults=False):
    """Always encoded whole: OpenAI requires `type` on a named tool choice."""

    function: ToolChoiceFunction
    type: str = "function"


ToolChoice = Literal["auto", "none", "required"] | NamedToolChoice


class TextFormat(GatewayStruct, tag_field="type", tag="text"):
    pass


class JsonObjectFormat(GatewayStruct, tag_field="type", tag="json_object"):
    pass


class JsonSchemaSpec(GatewayStruct):
    name: str
    schema: dict[str, Any] | None = None
    strict: bool | None = None
    description: str | None = None


class JsonSchemaFormat(GatewayStruct, tag_field="type", tag="json_schema"):
    json_schema: JsonSchemaSpec


ResponseFormat = TextFormat | JsonObjectFormat | JsonSchemaFormat


class StreamOptions(GatewayStruct):
    include_usage: bool | None = None


class ThinkingConfig(GatewayStruct, forbid_unknown_fields=True):
    type: Literal["enabled", "disabled", "adaptive"] = "enabled"
    budget_tokens: int | None = None


class ProviderSpecific(GatewayStruct, forbid_unknown_fields=True):
    """Options that only some providers understand; each spec says what it does with them."""

    top_k: Annotated[int, msgspec.Meta(ge=0)] | None = None
    thinking: ThinkingConfig | None = None
    additional_parameters: dict[str, Any] | None = None
    cached_content: str | None = None


Temperature = Annotated[float, msgspec.Meta(ge=0, le=2)]
Probability = Annotated[float, msgspec.Meta(ge=0, le=1)]
Penalty = Annotated[float, msgspec.Meta(ge=-2, le=2)]


class ChatCompletionRequest(GatewayStruct, forbid_unknown_fields=True):
    """The one request type for every provider (OpenAI's shape plus `provider_specific`)."""

    model: str
    messages: Annotated[list[ChatCompletionMessage], msgspec.Meta(min_length=1)]
    """At least one: every provider rejects an empty conversation, so it is refused before any I/O."""
    max_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    max_completion_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    temperature: Temperature | None = None
    top_p: Probability | None = None
    n: Annotated[int, msgspec.Meta(ge=1)] | None = None
    stop: str | list[str] | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    user: str | None = None
    seed: int | None = None
    response_format: ResponseFormat | None = None
    prompt_cache_key: str | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    functions: list[FunctionDefinition] | None = None
    function_call: Literal["auto", "none"] | ToolChoiceFunction | None = None
    reasoning_effort: str | None = None
    provider_specific: ProviderSpecific | None = None
    extra_body: dict[str, Any] | None = None
    """Fields sent verbatim at the top of the provider's body (escape hatch; no mapping, no checks)."""
    mcp_servers: list[McpDefinition] | None = None
    """MCP servers whose tools the client's tool loop offers and runs (never sent to the provider)."""

    @classmethod
    def coerce(cls, data: ChatCompletionRequest | dict[str, Any] | bytes | str) -> ChatCompletionRequest:
        """Accept the typed request, a dict in OpenAI's JSON shape, or its JSON text."""
        return cls.coerce_with_builtins(data)[0]

    @classmethod
    def coerce_with_builtins(
        cls, data: ChatCompletionRequest | dict[str, Any] | bytes | str
    ) -> tuple[ChatCompletionRequest, dict[str, Any] | None]:
        """`coerce`, plus the request's plain-data form when validating produced it (a typed request), so
        a plan renders from it instead of converting the request a second time."""
        if isinstance(data, ChatCompletionRequest):
            return data, data.validated_builtins()
        if isinstance(data, (bytes, str)):
            return cls.from_json(data), None
        if isinstance(data, dict):
            return cls.from_dict(data), None
        raise InvalidRequestError(f"<request>: expected a ChatCompletionRequest or a dict, got {type(data).__name__}")
