"""Operations beside chat (`operations:` in a spec): embeddings, images, and whatever comes next.

Each operation is data with the chat mapping's constructs: an `endpoint`, `params` rules (the same
`compile_rule` as chat, over the operation's unified parameters), an optional `request` template over the
mapped parameters, an optional `fan_out` (one call per item of a list parameter, for endpoints that take one
input per call), a `response` mapping, an `errors` block merged over the spec's, and `overrides` by model glob.
`compile_operation` runs once per (spec, operation); encoding and decoding then run prebuilt closures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from .error_map import ErrorBuilder, compile_errors
from .errors import InvalidRequestError, LLMError, MappingError, ProviderError
from .gateway import JSON_ENCODER, RequestWarning, enc_hook
from .gateway_ops import ITEM_SHAPES, OPERATION_TYPES, OperationInput, OperationResult, operation_params
from .input_guard import explain_no_json_form
from .layers import Layers, merge_layer
from .params import DefaultOp, ParamOp, Policy, compile_rule
from .paths import Getter, compile_getter, deep_copy, deep_merge_into, merge_defaults_into
from .response import decode_json
from .responses_items import keep_unknown_items
from .responses_native import ResponsesEventDecoder
from .responses_types import Response
from .templates import Evaluator, compile_template
from .transforms import Context
from .wire import WireRequest

OPERATIONS: tuple[str, ...] = tuple(OPERATION_TYPES)
"""The operations a spec may declare under `operations:` (chat is the spec's top level)."""

class Endpoint:
    """Where an operation's calls go: method, path (`{model}` percent-encoded), query, body defaults."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        from urllib.parse import urlencode

        self.method = str(spec.get("method", "POST"))
        self.path = str(spec.get("path", "/"))
        query = dict(spec.get("query") or {})
        self.query = ("?" + urlencode(query)) if query else ""
        self.body: dict[str, Any] = dict(spec.get("body") or {})

    def url(self, base: str, model: str) -> str:
        from urllib.parse import quote

        return base.rstrip("/") + self.path.replace("{model}", quote(model, safe="")) + self.query


class OperationEncoder:
    """Everything `encode` needs for one (operation, override) pair, prebuilt."""

    def __init__(self, operation: str, spec: Mapping[str, Any], shared: Mapping[str, Any], provider: str) -> None:
        self.operation = operation
        self.provider = provider
        policy_spec = spec.get("policy") or shared.get("policy") or {}
        policy = Policy(provider, policy_spec.get("unsupported", "warn"))
        rules = dict(spec.get("params") or {})
        self.ops: dict[str, ParamOp] = {}
        self.defaults: list[tuple[str, DefaultOp]] = []
        for name in operation_params(operation):
            if name == "model" and rules.get(name) is None:
                continue  # the model is in the URL unless a rule sends it: never a warning
            op, default = compile_rule(name, rules.get(name), policy)
            self.ops[name] = op
            if default is not None:
                self.defaults.append((name, default))
        self.endpoint = Endpoint(spec.get("endpoint") or {})
        self.stream_endpoint: Endpoint | None = Endpoint(spec["stream"]) if spec.get("stream") else None
        self.template: Evaluator | None = (
            compile_template(spec["request"], ("operations", operation, "request")) if "request" in spec else None
        )
        fan_out = spec.get("fan_out") or {}
        self.fan_out: str | None = fan_out.get("over")
        self.concurrency = int(fan_out.get("concurrency", 4))
        api_version = str((shared.get("metadata") or {}).get("api_version", ""))
        self.headers = {str(k): str(v).replace("{api_version}", api_version)
                        for k, v in (shared.get("headers") or {}).items()}
        self.headers.setdefault("content-type", "application/json")

    def mapped(
        self, request: OperationInput, builtins: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None, Context]:
        """The parameters after their rules (renamed, mapped, checked; unsupported ones warned about), the
        request's `extra_body`, and the context holding the warnings. `builtins`: the request's plain-data form
        when the caller has it already (`coerce_with_builtins`); it is consumed."""
        ctx = Context(self.provider)
        data: dict[str, Any] = (
            builtins if builtins is not None else msgspec.to_builtins(request, enc_hook=enc_hook))
        extra = data.pop("extra_body", None)
        specific = data.pop("provider_specific", None)
        if specific:
            for key, value in specific.items():
                data[f"provider_specific.{key}"] = value
        out: dict[str, Any] = {}
        ops = self.ops
        for name, value in data.items():
            op = ops.get(name)
            if value is not None and op is not None:
                op(value, out, ctx, data)
        for name, send_default in self.defaults:
            if data.get(name) is None:
                send_default(out, ctx, data)
        return out, extra, ctx

    def encode(
        self, request: OperationInput, base_url: str, stream: bool = False, builtins: dict[str, Any] | None = None
    ) -> tuple[list[WireRequest], list[RequestWarning]]:
        """The wire requests (one, or one per item with `fan_out`) and the warnings the mapping produced;
        with `stream`, the one request to the operation's `stream` endpoint; `builtins` as for `mapped`."""
        endpoint = self.endpoint
        if stream:
            if self.stream_endpoint is None:
                raise MappingError(f"{self.provider}: the {self.operation} operation has no stream endpoint",
                                   provider=self.provider)
            endpoint = self.stream_endpoint
        mapped, extra, ctx = self.mapped(request, builtins)
        if self.fan_out is None:
            items = [mapped]
        else:
            values = mapped.get(self.fan_out)
            values = values if isinstance(values, list) else [values]
            items = [{**mapped, self.fan_out: value} for value in values]
        url = endpoint.url(base_url, request.model)
        wires = []
        for item in items:
            body = self.template(item, ctx) if self.template is not None else item
            if not isinstance(body, dict):
                raise MappingError(f"{self.provider}: the {self.operation} request template did not give an "
                                   "object", provider=self.provider)
            if endpoint.body:
                merge_defaults_into(body, endpoint.body)
            if extra:
                deep_merge_into(body, deep_copy(extra))
            wires.append(WireRequest(endpoint.method, url, self.headers, JSON_ENCODER.encode(body), stream))
        return wires, ctx.warnings


class OperationDecoder:
    """A 2xx body → the operation's unified response (`mode: passthrough` decodes it straight into the type)."""

    def __init__(self, operation: str, spec: Mapping[str, Any], provider: str) -> None:
        self.provider = provider
        self.type: type[OperationResult] = OPERATION_TYPES[operation][1]  # type: ignore[assignment]
        self.passthrough = spec.get("mode", "template") == "passthrough"
        self._decoder = msgspec.json.Decoder(self.type)
        where = ("operations", operation, "response")
        self.items: Getter = compile_getter(str(spec.get("data", "data")))
        self.item: Evaluator | None = compile_template(spec["item"], (*where, "item")) if "item" in spec else None
        self.fields: Evaluator | None = (
            compile_template(spec["fields"], (*where, "fields")) if "fields" in spec else None
        )
        self.error_when: Getter | None = compile_getter(str(spec["error_when"])) if spec.get("error_when") else None
        self.bare_key, self.indexed = ITEM_SHAPES.get(operation, ("", False))

    def __call__(self, body: bytes) -> OperationResult:
        if self.passthrough:
            try:
                result: OperationResult = self._decoder.decode(body)
            except msgspec.ValidationError as exc:
                return self._unmodelled(body, exc)
            except msgspec.DecodeError as exc:
                raise ProviderError(f"the response is not a {self.type.__name__}: {exc}",
                                    provider=self.provider) from None
            return result
        data = decode_json(body, self.provider)
        if self.error_when is not None:
            reason = self.error_when(data)
            if reason:
                raise InvalidRequestError(f"{self.provider} did not produce a result: {reason}",
                                          provider=self.provider, body=data)
        ctx = Context(self.provider)
        out = self.fields(data, ctx) if self.fields is not None else {}
        out = dict(out) if isinstance(out, dict) else {}
        entries = self.items(data)
        if not isinstance(entries, list):
            raise ProviderError("the response has no result list (expected one at the spec's `data` path)",
                                provider=self.provider, body=data)
        item = self.item
        out["data"] = [item(entry, ctx) for entry in entries] if item is not None else entries
        key = self.bare_key
        out["data"] = [entry if isinstance(entry, dict) else {key: entry} for entry in out["data"]]
        if self.indexed:
            for i, entry in enumerate(out["data"]):
                entry.setdefault("index", i)
        try:
            return msgspec.convert(out, self.type)
        except msgspec.ValidationError as exc:
            raise ProviderError(f"the response is not a {self.type.__name__}: {exc}",
                                provider=self.provider, body=data) from None


    def _unmodelled(self, body: bytes, exc: msgspec.ValidationError) -> OperationResult:
        """A body the typed decode refused: a `Response` holding output items of a type not modelled here keeps
        them whole (`OtherOutputItem`, as a stream keeps an unknown event); anything else is a `ProviderError`."""
        data = decode_json(body, self.provider) if self.type is Response else None
        if isinstance(data, dict) and keep_unknown_items(data):
            try:
                return msgspec.convert(data, Response)
            except msgspec.ValidationError as again:
                exc = again
        raise ProviderError(f"the response is not a {self.type.__name__}: {exc}", provider=self.provider) from None


def combine(results: list[OperationResult]) -> OperationResult:
    """Fan-out answers as one: data concatenated in call order (re-indexed), usage counts summed."""
    first = results[0]
    if len(results) == 1 or isinstance(first, Response):  # (a Responses call is never fanned out)
        return first
    data: list[Any] = []
    for result in results:
        data.extend(getattr(result, "data", ()))
    for position, entry in enumerate(data):
        if hasattr(entry, "index"):
            entry.index = position
    usage = None
    usages = [u for r in results if (u := getattr(r, "usage", None)) is not None]
    if usages:
        usage = msgspec.structs.replace(usages[0])
        for field in usage.__struct_fields__:
            values = [getattr(u, field) for u in usages]
            if all(isinstance(v, int) for v in values):
                setattr(usage, field, sum(values))
    return msgspec.structs.replace(first, data=data, usage=usage)


class OperationPlan:
    """One compiled operation of a spec: encoders by model glob, the response decoder, the error builder."""

    def __init__(self, name: str, spec: Mapping[str, Any], shared: Mapping[str, Any], provider: str) -> None:
        self.name = name
        self.provider = provider
        self.spec = spec
        shared_errors = dict(shared.get("errors") or {})

        def build(layered: dict[str, Any]) -> tuple[OperationEncoder, OperationDecoder, ErrorBuilder]:
            return (OperationEncoder(name, layered, shared, provider),
                    OperationDecoder(name, layered.get("response") or {"mode": "passthrough"}, provider),
                    compile_errors(merge_layer(shared_errors, dict(layered.get("errors") or {})), provider))

        self._layers = Layers(spec, spec.get("overrides") or (), build)

    def __repr__(self) -> str:
        return f"<OperationPlan {self.provider}.{self.name}>"

    def for_model(self, model: str) -> tuple[OperationEncoder, OperationDecoder, ErrorBuilder]:
        """What serves `model`: every override layer matching it merged over the operation, in order."""
        return self._layers.for_model(model)

    def concurrency(self, model: str) -> int:
        """How many of a fan-out's calls may be in flight at once."""
        return self.for_model(model)[0].concurrency

    def encode(
        self, request: OperationInput, *, base_url: str, stream: bool = False, builtins: dict[str, Any] | None = None
    ) -> tuple[list[WireRequest], list[RequestWarning]]:
        """`builtins`: the request's plain-data form when the caller has it already (`coerce_with_builtins`), so
        it is not converted again; it is consumed."""
        try:
            return self.for_model(request.model)[0].encode(request, base_url, stream, builtins)
        except (NotImplementedError, RecursionError, UnicodeEncodeError) as exc:  # (the encoders' refusals)
            raise explain_no_json_form(request, exc, JSON_ENCODER.encode, self.provider) from None

    def stream_decoder(self) -> ResponsesEventDecoder:
        """A fresh decoder for one streamed call (a streamed operation's events are Responses events)."""
        return ResponsesEventDecoder(self.provider)

    def decode(self, model: str, status: int, headers: Mapping[str, str], body: bytes) -> OperationResult:
        _, decoder, error = self.for_model(model)
        if status >= 400:
            raise error(status, headers, body)
        return decoder(body)

    def error(self, model: str, status: int, headers: Mapping[str, str], body: bytes) -> LLMError:
        return self.for_model(model)[2](status, headers, body)


def compile_operation(name: str, shared: Mapping[str, Any], provider: str) -> OperationPlan:
    """The plan of operation `name` of a (merged) spec, or the typed error saying the provider lacks it."""
    operations = shared.get("operations") or {}
    spec = operations.get(name)
    if spec is None:
        have = ", ".join(["chat", *sorted(operations)])
        raise MappingError(
            f"{provider} has no {name} operation (it has: {have}); see `vllora-llm spec docs {provider}`"
        )  # (no provider= : the message names it first, as a sentence)
    return OperationPlan(name, spec, shared, provider)


OperationFactory = Callable[[str], OperationPlan]
