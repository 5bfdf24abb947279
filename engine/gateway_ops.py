"""The gateway types of the operations beside chat (the crate's `CreateEmbeddingRequest`, `CreateImageRequest`, ...).

Same conventions as `gateway.py`: OpenAI's JSON shape, msgspec Structs, `from_dict()` / `to_dict()`, and a
malformed input is an `InvalidRequestError` naming the field path, raised before any I/O. The response types
decode an OpenAI-shaped body directly (embedding floats straight into lists by msgspec, no Python per float).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, TypeVar

import msgspec

from .errors import InvalidRequestError
from .gateway import GatewayStruct, RequestWarning
from .responses_types import CreateResponse, Response

R = TypeVar("R", bound="OperationRequest")
S = TypeVar("S", bound=GatewayStruct)

NonEmptyText = Annotated[str, msgspec.Meta(min_length=1)]


class OperationRequest(GatewayStruct, forbid_unknown_fields=True):
    """What every operation request shares: a model, and a typed/dict/JSON coercion that checks it."""

    operation: ClassVar[str] = ""
    specific: ClassVar[type[GatewayStruct] | None] = None
    """The type of its `provider_specific` field (what `provider_specific.<field>` rules may name)."""

    model: str

    @classmethod
    def coerce(cls: type[R], data: Any) -> R:
        """The typed request, a dict in OpenAI's JSON shape, or its JSON text; checked either way."""
        return cls.coerce_with_builtins(data)[0]

    @classmethod
    def coerce_with_builtins(cls: type[R], data: Any) -> tuple[R, dict[str, Any] | None]:
        """`coerce`, plus the request's plain-data form when checking produced it (a typed request), so the
        operation's plan renders from it instead of converting the request a second time (as chat does)."""
        if isinstance(data, cls):
            builtins = data.validated_builtins()
            data.check()
            return data, builtins
        if isinstance(data, (bytes, str)):
            found = cls.from_json(data)
        elif isinstance(data, dict):
            found = cls.from_dict(data)
        else:
            raise InvalidRequestError(f"<request>: expected a {cls.__name__} or a dict, got {type(data).__name__}")
        found.check()
        return found, None

    def validate(self) -> None:
        super().validate()
        self.check()

    def check(self) -> None:
        """Rules a field type cannot say (overridden where needed)."""

    @staticmethod
    def coerce_as(request: S, model: str, defaults: tuple[tuple[str, Any], ...] = ()) -> S:
        """`request` for another model name (a route's target), with the route's defaults where it has none."""
        if not defaults:
            return msgspec.structs.replace(request, model=model)
        data = request.to_dict()
        for name, value in defaults:
            if name in type(request).__struct_fields__:
                data.setdefault(name, value)
        data["model"] = model
        return type(request).from_dict(data)


class EmbeddingProviderSpecific(GatewayStruct, forbid_unknown_fields=True):
    """Options some providers take: `task_type` is Gemini's `taskType`, Cohere's `input_type`."""

    task_type: str | None = None


class CreateEmbeddingRequest(OperationRequest):
    """`client.embeddings().create(...)`: one vector per input, in input order."""

    operation: ClassVar[str] = "embeddings"
    specific: ClassVar[type[GatewayStruct] | None] = EmbeddingProviderSpecific

    input: NonEmptyText | Annotated[list[str], msgspec.Meta(min_length=1)]
    dimensions: Annotated[int, msgspec.Meta(ge=1)] | None = None
    encoding_format: Literal["float", "base64"] | None = None
    user: str | None = None
    provider_specific: EmbeddingProviderSpecific | None = None
    extra_body: dict[str, Any] | None = None

    def check(self) -> None:
        if isinstance(self.input, list):
            for i, item in enumerate(self.input):
                if not isinstance(item, str):
                    raise InvalidRequestError(f"input[{i}]: expected 'str', got '{type(item).__name__}'",
                                              path=f"input[{i}]")
                if not item:
                    raise InvalidRequestError(f"input[{i}]: an input may not be empty", path=f"input[{i}]")

    def inputs(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


class EmbeddingUsage(GatewayStruct):
    prompt_tokens: int = 0
    total_tokens: int = 0
    cost: float | None = None


class Embedding(GatewayStruct):
    """One vector: floats, or the base64 string the provider sent when `encoding_format` was base64."""

    embedding: list[float] | str
    index: int = 0
    object: str = "embedding"


class CreateEmbeddingResponse(GatewayStruct):
    data: list[Embedding]
    model: str | None = None
    object: str = "list"
    usage: EmbeddingUsage | None = None
    warnings: list[RequestWarning] = msgspec.field(default_factory=list)
    provider: str | None = None


class ImageProviderSpecific(GatewayStruct, forbid_unknown_fields=True):
    """Options some image providers take (`negative_prompt`: Titan/Nova `negativeText`, Stability; `seed`)."""

    negative_prompt: str | None = None
    seed: Annotated[int, msgspec.Meta(ge=0)] | None = None


class CreateImageRequest(OperationRequest):
    """`client.images().create(...)`: the crate's `CreateImageRequest`, plus gpt-image-1's fields."""

    operation: ClassVar[str] = "images"
    specific: ClassVar[type[GatewayStruct] | None] = ImageProviderSpecific

    prompt: NonEmptyText
    n: Annotated[int, msgspec.Meta(ge=1)] | None = None
    size: str | None = None
    quality: str | None = None
    style: str | None = None
    response_format: Literal["b64_json", "url"] | None = None
    background: str | None = None
    output_format: str | None = None
    moderation: str | None = None
    user: str | None = None
    provider_specific: ImageProviderSpecific | None = None
    extra_body: dict[str, Any] | None = None


class Image(GatewayStruct):
    b64_json: str | None = None
    url: str | None = None
    revised_prompt: str | None = None


class ImageInputTokensDetails(GatewayStruct):
    text_tokens: int | None = None
    image_tokens: int | None = None


class ImagesUsage(GatewayStruct):
    """gpt-image-1's usage: tokens in and out (other providers report none)."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_tokens_details: ImageInputTokensDetails | None = None
    cost: float | None = None


class ImagesResponse(GatewayStruct):
    data: list[Image]
    created: int | None = None
    usage: ImagesUsage | None = None
    warnings: list[RequestWarning] = msgspec.field(default_factory=list)
    provider: str | None = None


class CachedContent(GatewayStruct):
    """A provider-side prompt cache, as `client.caches()` lists it (`tokens`: its size, when reported)."""

    name: str
    display_name: str | None = None
    model: str | None = None
    create_time: str | None = None
    expire_time: str | None = None
    tokens: int | None = None


OperationResult = CreateEmbeddingResponse | ImagesResponse | Response
"""What an operation returns (one more member per operation)."""

OPERATION_TYPES: dict[str, tuple[type[OperationRequest] | type[CreateResponse], type[GatewayStruct]]] = {
    "embeddings": (CreateEmbeddingRequest, CreateEmbeddingResponse),
    "images": (CreateImageRequest, ImagesResponse),
    "responses": (CreateResponse, Response),
}
"""Operation name → (request type, response type). `responses` is the Responses API served by the provider
itself (a spec without it gets the Responses API translated through its chat mapping)."""

OperationInput = OperationRequest | CreateResponse
"""What an operation takes (`CreateResponse` is the Responses API's own request type, not an `OperationRequest`)."""


ITEM_SHAPES: dict[str, tuple[str, bool]] = {"embeddings": ("embedding", True), "images": ("b64_json", False)}
"""Operation → (the field a bare result entry fills, whether entries carry their `index`)."""


def operation_params(operation: str) -> tuple[str, ...]:
    """The unified parameters a spec's rules for `operation` may name (`provider_specific.<field>` included)."""
    request_type = OPERATION_TYPES[operation][0]
    skipped = ("provider_specific", "extra_body", *getattr(request_type, "not_params", ()))
    names = [f for f in request_type.__struct_fields__ if f not in skipped]
    if request_type.specific is not None:
        names += [f"provider_specific.{f}" for f in request_type.specific.__struct_fields__]
    return tuple(names)
