"""The Responses API output items (a `Response`'s `output`, a stream's `output_item.added/done`) and the base of every
Responses object: a msgspec Struct tagged by its `type`, in OpenAI's JSON shape (every field written).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from .gateway import GatewayStruct


class ResponsesStruct(GatewayStruct, omit_defaults=False):
    """OpenAI writes every field of these objects (nulls and empty lists included)."""


class _TagName:
    """`.type` of a tagged object: its class's tag, read once per class and then kept as a plain class attribute
    (callers read `event.type` on every event; a property would build the string on each read)."""

    def __get__(self, obj: object, cls: type[Any]) -> str:
        tag = cls.__struct_config__.tag
        if tag is None:  # an untagged base class (`StreamEvent`): no type, and nothing kept for its subclasses
            raise AttributeError("type")
        cls.type = tag = str(tag)
        return tag


class Tagged(ResponsesStruct):
    """An object whose `type` is its tag (`message`, `response.output_text.delta`, ...), as the SDK's `.type`."""

    type = _TagName()


class OutputText(Tagged, tag_field="type", tag="output_text"):
    text: str
    annotations: list[Any] = msgspec.field(default_factory=list)
    logprobs: list[Any] = msgspec.field(default_factory=list)


class Refusal(Tagged, tag_field="type", tag="refusal"):
    refusal: str


class OutputMessage(Tagged, tag_field="type", tag="message"):
    id: str
    content: list[OutputText | Refusal]
    role: Literal["assistant"] = "assistant"
    status: Literal["in_progress", "completed", "incomplete"] = "completed"


class FunctionCallItem(Tagged, tag_field="type", tag="function_call"):
    id: str
    call_id: str
    name: str
    arguments: str
    status: Literal["in_progress", "completed", "incomplete"] = "completed"


class SummaryText(Tagged, tag_field="type", tag="summary_text"):
    text: str


class ReasoningItem(Tagged, tag_field="type", tag="reasoning"):
    """A reasoning item; `encrypted_content` carries the provider's signature so the block can go back."""

    id: str
    summary: list[SummaryText] = msgspec.field(default_factory=list)
    encrypted_content: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None
    content: list[dict[str, Any]] | None = None
    """`reasoning_text` parts, where a model returns its raw reasoning (natively served only)."""


# Built-in tools' items (a native Responses endpoint returns them; nested objects stay plain JSON).


class WebSearchCallItem(Tagged, tag_field="type", tag="web_search_call"):
    id: str
    status: str
    action: dict[str, Any] | None = None


class FileSearchCallItem(Tagged, tag_field="type", tag="file_search_call"):
    id: str
    status: str
    queries: list[str] = msgspec.field(default_factory=list)
    results: list[dict[str, Any]] | None = None


class CodeInterpreterCallItem(Tagged, tag_field="type", tag="code_interpreter_call"):
    id: str
    status: str
    container_id: str
    code: str | None = None
    outputs: list[dict[str, Any]] | None = None


class ImageGenerationCallItem(Tagged, tag_field="type", tag="image_generation_call"):
    id: str
    status: str
    result: str | None = None


class CustomToolCallItem(Tagged, tag_field="type", tag="custom_tool_call"):
    call_id: str
    name: str
    input: str
    id: str | None = None


class McpCallItem(Tagged, tag_field="type", tag="mcp_call"):
    id: str
    name: str
    arguments: str
    server_label: str
    output: str | None = None
    error: Any = None
    status: str | None = None
    approval_request_id: str | None = None


class McpListToolsItem(Tagged, tag_field="type", tag="mcp_list_tools"):
    id: str
    server_label: str
    tools: list[dict[str, Any]] = msgspec.field(default_factory=list)
    error: str | None = None


class McpApprovalRequestItem(Tagged, tag_field="type", tag="mcp_approval_request"):
    id: str
    name: str
    arguments: str
    server_label: str


class ComputerCallItem(Tagged, tag_field="type", tag="computer_call"):
    id: str
    call_id: str
    status: str
    pending_safety_checks: list[dict[str, Any]] = msgspec.field(default_factory=list)
    action: dict[str, Any] | None = None


class LocalShellCallItem(Tagged, tag_field="type", tag="local_shell_call"):
    id: str
    call_id: str
    status: str
    action: dict[str, Any]


class ShellCallItem(Tagged, tag_field="type", tag="shell_call"):
    id: str
    call_id: str
    status: str
    action: dict[str, Any]


class ApplyPatchCallItem(Tagged, tag_field="type", tag="apply_patch_call"):
    id: str
    call_id: str
    status: str
    operation: dict[str, Any]


class CompactionItem(Tagged, tag_field="type", tag="compaction"):
    id: str
    encrypted_content: str


OutputItem = (
    OutputMessage | FunctionCallItem | ReasoningItem | WebSearchCallItem | FileSearchCallItem | CodeInterpreterCallItem
    | ImageGenerationCallItem | CustomToolCallItem | McpCallItem | McpListToolsItem | McpApprovalRequestItem
    | ComputerCallItem | LocalShellCallItem | ShellCallItem | ApplyPatchCallItem | CompactionItem
)
