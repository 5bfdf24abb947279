"""The Responses API output items (a `Response`'s `output`, a stream's `output_item.added/done`) and the base of every
Responses object: a msgspec Struct tagged by its `type`, in OpenAI's JSON shape (every field written).

An item of a type not modelled here (a newer OpenAI item) is kept whole as an `OtherOutputItem`, never an error:
msgspec's tagged unions have no catch-all, so a decoder the typed decode refused wraps each such item
(`keep_unknown_items`) under a tag of this library's (`UNKNOWN_ITEM`) and decodes again; `to_dict()` and
`to_json()` give the item's own JSON back (`unwrap_unknown_items`).
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any, Literal

import msgspec

from .gateway import JSON_ENCODER, GatewayStruct, validation_error

T = typing.TypeVar("T", bound="ResponsesStruct")

UNKNOWN_ITEM = "vllora.unknown_item"
"""The tag an `OtherOutputItem` is encoded under by msgspec (never sent: `to_dict()` / `to_json()` unwrap it)."""

_UNKNOWN_MARK = UNKNOWN_ITEM.encode()


class ResponsesStruct(GatewayStruct, omit_defaults=False):
    """OpenAI writes every field of these objects (nulls and empty lists included).

    `from_dict()` / `from_json()` keep an output item of a type not modelled here whole (`OtherOutputItem`), as
    decoding a provider's body does, so `to_dict()`'s JSON reads back as the same object."""

    @classmethod
    def from_dict(cls: type[T], data: Any) -> T:
        if isinstance(data, cls):
            return data
        try:
            return msgspec.convert(data, cls)
        except msgspec.ValidationError as exc:
            return _with_unknown_items_kept(cls, data, exc)

    @classmethod
    def from_json(cls: type[T], data: bytes | str) -> T:
        try:
            return msgspec.json.decode(data, type=cls)
        except msgspec.ValidationError as exc:
            return _with_unknown_items_kept(cls, msgspec.json.decode(data), exc)
        except msgspec.DecodeError as exc:
            raise validation_error(exc) from None

    def to_dict(self) -> dict[str, Any]:
        return unwrap_unknown_items(super().to_dict())

    def to_json(self) -> bytes:
        raw = super().to_json()
        return raw if _UNKNOWN_MARK not in raw else JSON_ENCODER.encode(self.to_dict())


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

    if typing.TYPE_CHECKING:
        @property
        def type(self) -> str: ...
    else:
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


class KeptWhole:
    """What the objects kept whole share (`OtherOutputItem`, `OtherStreamEvent`): `type` as the server sent it,
    `data` the object's JSON, which `to_dict()` gives back."""

    __slots__ = ()

    data: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.data.get("type"))

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)


class OtherOutputItem(KeptWhole, Tagged, tag_field="type", tag=UNKNOWN_ITEM):
    """An output item of a type this library does not model yet, kept whole (`type`, `data`, `to_dict()`; `id`
    when it has one). Given back as input, it goes to the server as it came."""

    data: dict[str, Any]

    @property
    def id(self) -> str | None:
        value = self.data.get("id")
        return value if isinstance(value, str) else None


OutputItem = (
    OutputMessage | FunctionCallItem | ReasoningItem | WebSearchCallItem | FileSearchCallItem | CodeInterpreterCallItem
    | ImageGenerationCallItem | CustomToolCallItem | McpCallItem | McpListToolsItem | McpApprovalRequestItem
    | ComputerCallItem | LocalShellCallItem | ShellCallItem | ApplyPatchCallItem | CompactionItem | OtherOutputItem
)

ITEM_TYPES = frozenset(str(cls.__struct_config__.tag) for cls in typing.get_args(OutputItem)) - {UNKNOWN_ITEM}
"""The output item types modelled here."""


def _item_slots(value: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    """Where a Responses object (decoded JSON) holds output items, as (container, key): a `Response`'s `output`, an
    item event's `item`, the `output` of the `Response` an event carries."""
    output = value.get("output")
    if isinstance(output, list):
        yield from ((output, index) for index in range(len(output)))
    if isinstance(value.get("item"), dict):
        yield value, "item"
    response = value.get("response")
    output = response.get("output") if isinstance(response, dict) else None
    if isinstance(output, list):
        yield from ((output, index) for index in range(len(output)))


def keep_unknown_items(value: dict[str, Any]) -> bool:
    """Wrap, in place, each output item of `value` (decoded JSON) whose type is not modelled here, so that it decodes
    as an `OtherOutputItem`; True when there was one."""
    kept = False
    for place, key in _item_slots(value):
        item = place[key]
        if isinstance(item, dict) and isinstance(item.get("type"), str) and item["type"] not in ITEM_TYPES:
            place[key] = {"type": UNKNOWN_ITEM, "data": item}
            kept = True
    return kept


def _with_unknown_items_kept(cls: type[T], data: Any, exc: msgspec.ValidationError) -> T:
    """`data` (decoded JSON) the typed conversion into `cls` refused, converted again with its output items of a type
    not modelled here kept whole (in copies: the caller's data is left as it was); else `exc` as ours."""
    if isinstance(data, dict):
        data = dict(data)  # (and below, each container `keep_unknown_items` may change in place)
        if isinstance(data.get("output"), list):
            data["output"] = list(data["output"])
        response = data.get("response")
        if isinstance(response, dict):
            data["response"] = response = dict(response)
            if isinstance(response.get("output"), list):
                response["output"] = list(response["output"])
        if keep_unknown_items(data):
            try:
                return msgspec.convert(data, cls)
            except msgspec.ValidationError as again:  # (a malformed known item: named by the second try)
                exc = again
    raise validation_error(exc) from None


def unwrap_unknown_items(out: dict[str, Any]) -> dict[str, Any]:
    """`keep_unknown_items` undone on a `to_dict()`: each kept item is its own JSON again."""
    for place, key in _item_slots(out):
        item = place[key]
        if isinstance(item, dict) and item.get("type") == UNKNOWN_ITEM:
            place[key] = item["data"]
    return out
