"""The unified gateway types (the crate's `vllora_llm::types::gateway`): requests, messages, chunks.

Re-exported from `vllora_llm.engine.gateway`, where they live next to the code that maps them. The types of
the operations beside chat (`engine/gateway_ops.py`, which brings the Responses API's types along) are
imported when one of their names is first read.
"""

from typing import TYPE_CHECKING, Any

from vllora_llm.engine.gateway import (
    FINISH_REASONS,
    CacheControl,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionMessageWithFinishReason,
    ChatCompletionRequest,
    ChatCompletionResponse,
    Choice,
    ChoiceDelta,
    ChunkChoice,
    CompletionTokensDetails,
    ContentPart,
    FilePart,
    FileRef,
    FunctionCall,
    FunctionCallDelta,
    FunctionDefinition,
    GatewayStruct,
    ImageUrl,
    ImageUrlPart,
    InputAudio,
    InputAudioPart,
    JsonObjectFormat,
    JsonSchemaFormat,
    JsonSchemaSpec,
    McpDefinition,
    McpHttp,
    McpSse,
    McpStdio,
    McpToolFilter,
    NamedToolChoice,
    PartsContent,
    Penalty,
    Probability,
    PromptTokensDetails,
    ProviderSpecific,
    ReasoningDetail,
    RequestWarning,
    ResponseFormat,
    Role,
    StreamOptions,
    Temperature,
    TextContent,
    TextFormat,
    TextPart,
    ThinkingConfig,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    ToolChoiceFunction,
    ToolStep,
    Usage,
)
from vllora_llm.engine.typed_output import ParsedChatCompletion, parse_output

if TYPE_CHECKING:
    from vllora_llm.engine.gateway_ops import (
        CachedContent,
        CreateEmbeddingRequest,
        CreateEmbeddingResponse,
        CreateImageRequest,
        Embedding,
        EmbeddingProviderSpecific,
        EmbeddingUsage,
        Image,
        ImageInputTokensDetails,
        ImageProviderSpecific,
        ImagesResponse,
        ImagesUsage,
    )

_OPERATION_TYPES = frozenset({
    "CachedContent",
    "CreateEmbeddingRequest",
    "CreateEmbeddingResponse",
    "CreateImageRequest",
    "Embedding",
    "EmbeddingProviderSpecific",
    "EmbeddingUsage",
    "Image",
    "ImageInputTokensDetails",
    "ImageProviderSpecific",
    "ImagesResponse",
    "ImagesUsage",
})
"""Names re-exported from `engine/gateway_ops.py` on first use (module `__getattr__`)."""


def __getattr__(name: str) -> Any:
    if name in _OPERATION_TYPES:
        from vllora_llm.engine import gateway_ops

        value = getattr(gateway_ops, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _OPERATION_TYPES)

__all__ = [
    "FINISH_REASONS",
    "CacheControl",
    "CachedContent",
    "ChatCompletionChunk",
    "ChatCompletionMessage",
    "ChatCompletionMessageWithFinishReason",
    "ChatCompletionRequest",
    "ChatCompletionResponse",
    "Choice",
    "ChoiceDelta",
    "ChunkChoice",
    "CompletionTokensDetails",
    "ContentPart",
    "CreateEmbeddingRequest",
    "CreateEmbeddingResponse",
    "CreateImageRequest",
    "Embedding",
    "EmbeddingProviderSpecific",
    "EmbeddingUsage",
    "FilePart",
    "FileRef",
    "FunctionCall",
    "FunctionCallDelta",
    "FunctionDefinition",
    "GatewayStruct",
    "Image",
    "ImageInputTokensDetails",
    "ImageProviderSpecific",
    "ImageUrl",
    "ImageUrlPart",
    "ImagesResponse",
    "ImagesUsage",
    "InputAudio",
    "InputAudioPart",
    "JsonObjectFormat",
    "JsonSchemaFormat",
    "JsonSchemaSpec",
    "McpDefinition",
    "McpHttp",
    "McpSse",
    "McpStdio",
    "McpToolFilter",
    "NamedToolChoice",
    "ParsedChatCompletion",
    "PartsContent",
    "Penalty",
    "Probability",
    "PromptTokensDetails",
    "ProviderSpecific",
    "ReasoningDetail",
    "RequestWarning",
    "ResponseFormat",
    "Role",
    "StreamOptions",
    "Temperature",
    "TextContent",
    "TextFormat",
    "TextPart",
    "ThinkingConfig",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolChoiceFunction",
    "ToolStep",
    "Usage",
    "parse_output",
]
