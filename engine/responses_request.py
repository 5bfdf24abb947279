"""The Responses API request: OpenAI's `CreateResponse` and its `reasoning` / `text` settings.

Input items stay plain dicts on the request (`input`): OpenAI accepts many shapes there (messages with or without
`type`, earlier output items), checked where they are translated (`responses_map.py`) or sent as they are (a
native endpoint).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import msgspec

from .errors import InvalidRequestError
from .gateway import GatewayStruct, Probability, ProviderSpecific, Temperature, validation_error


class ReasoningConfig(GatewayStruct):
    """`reasoning`: the effort (`minimal` … `high`) and whether a summary is wanted."""

    effort: str | None = None
    summary: str | None = None


class TextConfig(GatewayStruct):
    """`text`: the output `format` (`{"type": "text" | "json_object" | "json_schema", ...}`) and verbosity."""

    format: dict[str, Any] | None = None
    verbosity: str | None = None


class CreateResponse(GatewayStruct, forbid_unknown_fields=True):
    """A Responses request, OpenAI's `CreateResponse` (a plain dict in that shape is accepted too)."""

    model: str
    input: str | list[dict[str, Any]] = ""
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    temperature: Temperature | None = None
    top_p: Probability | None = None
    text: TextConfig | None = None
    reasoning: ReasoningConfig | None = None
    previous_response_id: str | None = None
    store: bool | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    include: list[str] | None = None
    truncation: str | None = None
    stream: bool | None = None
    provider_specific: ProviderSpecific | None = None
    """This library's, as on a chat request (`top_k`, `thinking`, ...): passed to the chat request."""
    background: bool | None = None
    conversation: str | dict[str, Any] | None = None
    max_tool_calls: Annotated[int, msgspec.Meta(ge=1)] | None = None
    prompt: dict[str, Any] | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    safety_identifier: str | None = None
    service_tier: str | None = None
    stream_options: dict[str, Any] | None = None
    top_logprobs: Annotated[int, msgspec.Meta(ge=0, le=20)] | None = None
    extra_body: dict[str, Any] | None = None
    """Fields merged into the body a native Responses endpoint gets (as on a chat request)."""

    operation: ClassVar[str] = "responses"
    specific: ClassVar[type[GatewayStruct] | None] = ProviderSpecific
    """The type of `provider_specific` (what a spec's `provider_specific.<field>` rules may name)."""
    not_params: ClassVar[tuple[str, ...]] = ("stream",)
    """Fields no spec rule maps: `stream` is `create` vs `create_stream`."""
    NATIVE_ONLY: ClassVar[tuple[str, ...]] = (
        "background", "conversation", "max_tool_calls", "prompt", "prompt_cache_key", "prompt_cache_retention",
        "safety_identifier", "service_tier", "stream_options", "top_logprobs", "extra_body")
    """Fields only a native Responses endpoint takes (a translated call warns about each one it got)."""

    @classmethod
    def coerce(cls, data: Any) -> CreateResponse:
        """The typed request (items may be typed output items of an earlier `Response`), a dict, or JSON text."""
        return cls.coerce_with_builtins(data)[0]

    @classmethod
    def coerce_with_builtins(cls, data: Any) -> tuple[CreateResponse, dict[str, Any] | None]:
        """`coerce`, plus the plain-data form a typed request was checked from (None for a dict or JSON text), so
        a native endpoint's plan renders from it instead of converting the request again. The returned request
        is a copy made from that form (a request changed later is sent as it was checked); the two share their
        free-form (`Any`) values, and the plan, which consumes the form, runs once per call, after which nothing
        reads the copy's nested values."""
        if isinstance(data, (bytes, str)):
            return cls.from_json(data), None
        if isinstance(data, cls):  # (`to_dict`: typed items become dicts; no JSON form: `InvalidRequestError`)
            plain = data.to_dict()
            return cls._checked(plain), plain  # (an int given for a float is sent as given, as chat sends it)
        if not isinstance(data, dict):
            raise InvalidRequestError(f"<request>: expected a CreateResponse or a dict, got {type(data).__name__}")
        if isinstance(data.get("input"), list):  # typed output items given back as input (each as it was sent)
            data = {**data, "input": [item.to_dict() if isinstance(item, GatewayStruct)
                                      else msgspec.to_builtins(item) if isinstance(item, msgspec.Struct) else item
                                      for item in data["input"]]}
        return cls._checked(data), None

    @classmethod
    def _checked(cls, data: dict[str, Any]) -> CreateResponse:
        try:
            return msgspec.convert(data, cls)
        except msgspec.ValidationError as exc:
            raise validation_error(exc) from None

