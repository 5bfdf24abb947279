"""The gateway's message types: content (a string or parts), tool calls, reasoning blocks, and
`ChatCompletionMessage`, one turn of a conversation in a request or a response."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

import msgspec

from .gateway_struct import URL_PATTERN, GatewayStruct, always_encoded
from .validators import reshaping_only

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class TextContent(str):
    """A message's content when it is one string; `as_string()` as in the crate."""

    __slots__ = ()

    def as_string(self) -> str:
        return str(self)


class PartsContent(list["ContentPart"]):
    """A message's content when it is a list of parts; `as_string()` joins the text parts."""

    def as_string(self) -> str:
        return "".join(p.text for p in self if isinstance(p, TextPart))


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
