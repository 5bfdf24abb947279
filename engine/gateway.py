"""The unified gateway types (the crate's `vllora_llm::types::gateway`), as msgspec Structs.

They follow OpenAI's chat-completions JSON shape, so a plain dict in that shape converts losslessly, and
the OpenAI wire format can be encoded and decoded with no per-field work. Each type has `from_dict()` and
`to_dict()`; a malformed input raises `InvalidRequestError` naming the JSON path, never a msgspec error.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import msgspec

from .errors import InvalidRequestError
from .input_guard import check_depth
from .mcp_types import McpDefinition
from .mcp_types import McpHttp as McpHttp  # re-exported with the request types
from .mcp_types import McpSse as McpSse
from .mcp_types import McpStdio as McpStdio
from .mcp_types import McpToolFilter as McpToolFilter
from .tool_types import ToolStep
from .validators import COPIES, reshaping_only, validator_type

T = TypeVar("T", bound="GatewayStruct")

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]
FINISH_REASONS: tuple[str, ...] = ("stop", "length", "tool_calls", "content_filter", "function_call", "error")


class TextContent(str):
    """A message's content when it is one string; `as_string()` as in the crate."""

    __slots__ = ()

    def as_string(self) -> str:
        return str(self)


class PartsContent(list["ContentPart"]):
    """A message's content when it is a list of parts; `as_string()` joins the text parts."""

    def as_string(self) -> str:
        return "".join(p.text for p in self if isinstance(p, TextPart))


def enc_hook(obj: Any) -> Any:
    """Encode the content wrappers (str / list subclasses) as their plain types."""
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, list):
        return list(obj)
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


JSON_ENCODER = msgspec.json.Encoder(enc_hook=enc_hook)
_to_builtins = msgspec.to_builtins
_convert = msgspec.convert

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_PATH = re.compile(r"\s*-\s*at\s*`\$\.?(?P<path>[^`]*)`\s*$")

URL_PATTERN = r"^(?:[A-Za-z][A-Za-z0-9+.\-]*://\S|data:)"
"""What an image URL must look like: a scheme with an authority (https://…, gs://…, s3://…) or a data: URL."""
_PATTERN_HINTS = {URL_PATTERN: "expected a URL (https://…, gs://… or data:…)"}


def validation_error(exc: msgspec.ValidationError | msgspec.DecodeError, *, root: str = "") -> InvalidRequestError:
    """Turn msgspec's message into ours: `messages[2].content[0].image_url.url: expected str, got int`."""
    text = str(exc)
    path = root
    match = _PATH.search(text)
    if match:
        inner = match.group("path")
        if inner.startswith("["):
            path = f"{root}{inner}"
        elif inner:
            path = f"{root}.{inner}" if root else inner
        text = text[: match.start()]
    unknown = re.match(r"Object contains unknown field `([^`]*)`", text)
    if unknown:
        name = unknown.group(1)
        if not _PLAIN_KEY.match(name):  # a key such as ": " or "a.b" stays readable as one key in a path
            path = f"{path}[{json.dumps(name, ensure_ascii=False)}]"
        else:
            path = f"{path}.{name}" if path else name
        text = "unknown field (not part of the unified request; use extra_body to send it verbatim)"
    missing = re.match(r"Object missing required field `([^`]*)`", text)
    if missing:  # name the missing field as the path, as for an unknown one
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
    for pattern, hint in _PATTERN_HINTS.items():
        if f"matching regex {pattern!r}" in text:
            text = hint
    text = text.replace("`", "'")
    text = text[:1].lower() + text[1:]
    if text == "expected 'array' of length >= 1":
        text = "must not be empty (give at least one)"
    return InvalidRequestError(f"{path or '<request>'}: {text}", path=path or None)


class GatewayStruct(msgspec.Struct, omit_defaults=True, kw_only=True):
    """Shared conversions; every gateway type derives from it."""

    @classmethod
    def from_dict(cls: type[T], data: Any) -> T:
        if isinstance(data, cls):
            return data
        try:
            return msgspec.convert(data, cls)
        except msgspec.ValidationError as exc:
            raise validation_error(exc) from None

    @classmethod
    def from_json(cls: type[T], data: bytes | str) -> T:
        try:
            return msgspec.json.decode(data, type=cls)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise validation_error(exc) from None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = msgspec.to_builtins(self, enc_hook=enc_hook)
        return out

    def validate(self) -> None:
        """Check what constructing a Struct does not (types, ranges, NaN, enums, URLs) as `from_dict` does;
        raises `InvalidRequestError` naming the field path."""
        self.validated_builtins()

    def validated_builtins(self) -> dict[str, Any]:
        """`validate()`, returning the plain-data form it checked (the same as `to_dict()`)."""
        try:
            data: dict[str, Any] = _to_builtins(self, enc_hook=enc_hook)
        except (TypeError, ValueError, NotImplementedError) as exc:  # (NotImplementedError: `enc_hook`'s refusal)
            raise InvalidRequestError(f"<request>: {exc}") from None
        except RecursionError:  # free-form JSON nested past the interpreter's limit: name the field
            check_depth(self)
            raise InvalidRequestError("<request>: nested too deeply to be converted") from None
        cls = type(self)
        try:  # (into the type's validator copy: the same checks, without the hooks that only reshape)
            _convert(data, COPIES.get(cls) or validator_type(cls))
        except msgspec.ValidationError as exc:
            raise validation_error(exc) from None
        return data

    def to_json(self) -> bytes:
        return JSON_ENCODER.encode(self)


# ---- message content -------------------------------------------------------------------------------------


def always_encoded(value: str) -> str:
    """`value` as a str object distinct from the interned literal a field default is.

    msgspec's `omit_defaults` compares a field with its default by identity: `type="function"` written as a
    literal (the same interned object as the default) would be left out of the encoded body, while the same
    value decoded from JSON would be kept. Fields the wire requires run through this in `__post_init__`.
    """
    return value[:1] + value[1:] if len(value) > 1 else value


class CacheControl(GatewayStruct):
    """A prompt-caching breakpoint on a content part (Anthropic-style `ephemeral`, optional ttl)."""

    type: str = "ephemeral"
    ttl: str | None = None

    def __post_init__(self) -> None:
        self.type = always_encoded(self.type)


class TextPart(GatewayStruct, tag_field="type", tag="text"):
    text: str
    cache_control: CacheControl | None = None


class ImageUrl(GatewayStruct):
    url: Annotated[str, msgspec.Meta(pattern=URL_PATTERN)]
    detail: str | None = None


class ImageUrlPart(GatewayStruct, tag_field="type", tag="image_url"):
    image_url: ImageUrl
    cache_control: CacheControl | None = None


class InputAudio(GatewayStruct):
    data: str
    format: str


class InputAudioPart(GatewayStruct, tag_field="type", tag="input_audio"):
    input_audio: InputAudio
    cache_control: CacheControl | None = None


class FileRef(GatewayStruct):
    file_data: str | None = None
    file_id: str | None = None
    filename: str | None = None


class FilePart(GatewayStruct, tag_field="type", tag="file"):
    file: FileRef
    cache_control: CacheControl | None = None


ContentPart = TextPart | ImageUrlPart | InputAudioPart | FilePart


class FunctionCall(GatewayStruct, omit_defaults=False):
    """Both fields are always encoded: `arguments: ""` is still a value the wire requires."""

    name: str
    arguments: str = ""


class ToolCall(GatewayStruct, kw_only=True):
    id: str = ""
    """Responses without one get `call_<choice>_<position>`."""
    function: FunctionCall
    type: str = "function"
    signature: str | None = None
    """An opaque provider token that must travel back with this call (e.g. a thought signature)."""

    def __post_init__(self) -> None:
        self.type = always_encoded(self.type)  # OpenAI requires `type` on every tool call


class ReasoningDetail(GatewayStruct):
    """One reasoning block exactly as the provider gave it, so it can be sent back byte-exact.

    `type` is `thinking` or `redacted_thinking` in the unified vocabulary; any other value (an
    OpenAI-compatible proxy's own, e.g. `reasoning.text`) is kept as given rather than failing the decode.
    """

    type: str = "thinking"
    text: str | None = None
    signature: str | None = None
    data: str | None = None
    summary: str | None = None
    """A proxy's summary entry (OpenRouter `reasoning.summary`): its text, kept to be sent back as given."""
    format: str | None = None
    """A proxy's tag of which model family the entry comes from (OpenRouter's `format`)."""
    id: str | None = None
    index: int | None = None
    """The proxy's own id and position of the entry (OpenRouter), sent back with it."""


MessageContent = TextContent | PartsContent
"""What `ChatCompletionMessage.content` holds once built: a string or a list of parts, each with `as_string()`."""


class ChatCompletionMessage(GatewayStruct):
    """One turn of a conversation (request history or a response).

    `content` is given as a plain string or list of parts and read back as `MessageContent` (the same value
    wrapped in `__post_init__`, so `content.as_string()` works, as in the crate). Type checkers see exactly
    that: the constructor below takes the plain types, the attribute has the wrapped ones.
    """

    role: Role
    if TYPE_CHECKING:
        content: MessageContent | None = None
    else:
        content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    refusal: str | None = None
    reasoning: str | None = None
    reasoning_details: list[ReasoningDetail] | None = None
    function_call: FunctionCall | None = None
    is_error: bool | None = None
    """On a `tool` message: the tool failed and `content` says why (providers that mark failed results)."""
    reasoning_content: str | None = None
    """Read only: the name several compatible servers give `reasoning`; folded into it on decode."""
    cache_control: CacheControl | None = None
    """A prompt-caching mark on the whole message: moved onto its last content part (string content becomes
    one text part), so each provider reads marks on parts; kept here only on a message without content."""

    if TYPE_CHECKING:

        def __init__(
            self,
            *,
            role: Role,
            content: str | list[ContentPart] | None = None,
            name: str | None = None,
            tool_calls: list[ToolCall] | None = None,
            tool_call_id: str | None = None,
            refusal: str | None = None,
            reasoning: str | None = None,
            reasoning_details: list[ReasoningDetail] | None = None,
            function_call: FunctionCall | None = None,
            is_error: bool | None = None,
            reasoning_content: str | None = None,
            cache_control: CacheControl | None = None,
        ) -> None: ...

    def __post_init__(self) -> None:
        content = self.content
        if type(content) is str:
            self.content = TextContent(content)
        elif type(content) is list:
            self.content = PartsContent(content)
        if self.reasoning_content is not None:
            if self.reasoning is None:
                self.reasoning = self.reasoning_content
            self.reasoning_content = None
        if self.cache_control is not None:
            self._mark_last_part()

    def _mark_last_part(self) -> None:
        content = self.content
        if type(content) is TextContent:
            self.content = PartsContent([TextPart(text=str(content), cache_control=self.cache_control)])
        elif type(content) is PartsContent and content:
            content[-1] = msgspec.structs.replace(content[-1], cache_control=self.cache_control)
        else:
            return
        self.cache_control = None

    @classmethod
    def new_text(cls, role: Role, text: str) -> ChatCompletionMessage:
        return cls(role=role, content=text)

    def text(self) -> str:
        """The text of the content ('' when there is none)."""
        content = self.content
        if content is None:
            return ""
        if isinstance(content, str):
            return str(content)
        return "".join(p.text for p in content if isinstance(p, TextPart))


reshaping_only(CacheControl, ToolCall, ChatCompletionMessage)  # (what their `__post_init__` does checks nothing)


# ---- request ---------------------------------------------------------------------------------------------


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


# ---- responses -------------------------------------------------------------------------------------------


class PromptTokensDetails(GatewayStruct):
    cached_tokens: int | None = None
    cache_creation_tokens: int | None = None
    audio_tokens: int | None = None


class CompletionTokensDetails(GatewayStruct):
    reasoning_tokens: int | None = None
    audio_tokens: int | None = None


class Usage(GatewayStruct):
    """Token counts in OpenAI's convention: prompt includes cached tokens, completion includes reasoning."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None
    cost: float | None = None


class RequestWarning(GatewayStruct):
    """A setting the provider could not honour: returned with the response, never silently dropped."""

    code: str
    message: str
    param: str | None = None


class Choice(GatewayStruct):
    message: ChatCompletionMessage
    index: int = 0
    finish_reason: str | None = None
    logprobs: Any = None


class ChatCompletionMessageWithFinishReason(GatewayStruct):
    """A whole (non-streamed) response: choices, usage, and the warnings the mapping produced."""

    choices: list[Choice]
    id: str | None = None
    model: str | None = None
    created: int | None = None
    object: str = "chat.completion"
    usage: Usage | None = None
    warnings: list[RequestWarning] = msgspec.field(default_factory=list)
    provider: str | None = None
    system_fingerprint: str | None = None
    tool_steps: list[ToolStep] | None = None
    """The tool calls the client's tool loop ran to get this answer (MCP servers, Python tools), in order."""
    extras: dict[str, Any] | None = None
    """Provider-specific fields the spec maps (`extras:`: citations, search results, grounding metadata...),
    by name; `extras["raw"]` is the whole provider body with the client option `extras="raw"`."""

    def message(self) -> ChatCompletionMessage:
        """The first choice's message (the crate's `message()`)."""
        if not self.choices:
            return ChatCompletionMessage(role="assistant")
        return self.choices[0].message

    def finish_reason(self) -> str | None:
        return self.choices[0].finish_reason if self.choices else None

    def text(self) -> str:
        return self.message().text()


ChatCompletionResponse = ChatCompletionMessageWithFinishReason


class FunctionCallDelta(GatewayStruct):
    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(GatewayStruct):
    index: int = 0
    id: str | None = None
    type: str | None = None
    function: FunctionCallDelta | None = None
    signature: str | None = None


class ChoiceDelta(GatewayStruct):
    role: str | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    reasoning: str | None = None
    reasoning_details: list[ReasoningDetail] | None = None
    reasoning_content: str | None = None
    """Read only: the name several compatible servers give `reasoning`; folded into it on decode."""

    def __post_init__(self) -> None:
        if self.reasoning_content is not None:
            if self.reasoning is None:
                self.reasoning = self.reasoning_content
            self.reasoning_content = None


class ChunkChoice(GatewayStruct, gc=False):  # (as the chunk: see below)
    delta: ChoiceDelta
    index: int = 0
    finish_reason: str | None = None
    logprobs: Any = None


class ChatCompletionChunk(GatewayStruct, gc=False):
    """One streamed piece, in OpenAI's chunk shape whatever the provider. Not tracked by the cycle collector
    (msgspec's `gc=False`; a chunk never refers back to itself): a read decodes hundreds at once, and tracked
    they would make the collector run, and promote them, while they wait to be consumed."""

    choices: list[ChunkChoice] = msgspec.field(default_factory=list)
    id: str | None = None
    model: str | None = None
    created: int | None = None
    object: str = "chat.completion.chunk"
    usage: Usage | None = None
    extras: dict[str, Any] | None = None
    """Provider-specific fields the spec maps from this chunk's event (see the response's `extras`)."""
