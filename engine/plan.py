"""The compiled plan of one provider spec: encode requests, decode responses, errors and streams.

`compile_plan(spec)` runs once per spec (and `registry.load_plan` caches it); everything the per-call
methods touch is a prebuilt closure, encoder or decoder. Model-family `overrides` compile into request
encoders of their own, chosen by glob on the model name and memoised per model.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote, urlencode

import msgspec

from .adjust import emit_adjust
from .codegen import FunctionBuilder
from .error_map import ErrorBuilder, compile_errors
from .errors import LLMError, MappingError
from .extras import RAW, RawExtrasDecoder
from .gateway import (
    JSON_ENCODER,
    ChatCompletionMessageWithFinishReason,
    ChatCompletionRequest,
    RequestWarning,
    enc_hook,
)
from .guards import WrittenList, first_keys
from .input_guard import check_path_segment
from .layers import Layers
from .messages import MessagesOp, lower_messages
from .params import DefaultOp, ParamOp, Policy, compile_rule, inline_rule, unified_params
from .paths import deep_merge_into, merge_defaults_into
from .response import Decode, compile_response
from .stream import DecoderFactory, StreamDecoder, compile_stream, event_header
from .transforms import Context
from .versions import with_api_version
from .wire import AuthSpec, WireRequest

if TYPE_CHECKING:  # (operations beside chat, and the Responses types they use, compile on first use)
    from .operations import OperationPlan

_to_builtins = msgspec.to_builtins


class _Endpoint:
    def __init__(self, spec: Mapping[str, Any], fallback: Mapping[str, Any] | None = None) -> None:
        merged = {**(fallback or {}), **spec}
        self.method = str(merged.get("method", "POST"))
        self.path = str(merged.get("path", "/"))
        self.has_model = "{model}" in self.path
        query = dict(merged.get("query") or {})
        self.query = ("?" + urlencode(query)) if query else ""
        self.body: dict[str, Any] = dict(spec.get("body") or {})
        self.urls: dict[tuple[str, str], str] = {}
        """The URL for each (base URL, model) `url` built (read directly by `encode`)."""

    def url(self, base: str, model: str) -> str:
        found = self.urls.get((base, model))  # quote() alone costs ~1 us: a client calls a few URLs over and over
        if found is None:
            if self.has_model:
                check_path_segment(model, "model")
            path = self.path.replace("{model}", quote(model, safe="")) if self.has_model else self.path
            found = base.rstrip("/") + path + self.query
            if len(self.urls) < 1024:
                self.urls[base, model] = found
        return found


_SET_ASIDE = frozenset(("extra_body", "stream", "mcp_servers", "stream_options", "provider_specific"))
"""Request fields `encode` takes out of the parameters before mapping them."""


class RequestEncoder:
    """Everything `encode` needs for one (spec, override) pair, prebuilt."""

    def __init__(self, spec: Mapping[str, Any], provider: str, rules: RuleCache | None = None,
                 mappers: MapperCache | None = None) -> None:
        policy = Policy(provider, (spec.get("policy") or {}).get("unsupported", "warn"))
        self.policy = policy
        """What happens to a parameter this spec cannot send (also judges the Responses-only settings)."""
        self.map_body = _lower_body(spec, provider, policy, {} if rules is None else rules,
                                    {} if mappers is None else mappers)
        """The generated `map_body(model, data, messages, ctx) -> body`: every parameter rule, the defaults,
        the messages mapping and the `adjust:` entries of this (spec, override) pair, in that order."""
        endpoint = dict(spec.get("endpoint") or {})
        chat = dict(endpoint.get("chat") or {"path": "/chat/completions"})
        self.chat = _Endpoint(chat)
        self.stream = _Endpoint(dict(endpoint.get("stream") or chat), chat)
        api_version = str((spec.get("metadata") or {}).get("api_version", ""))
        self.headers = {str(k): str(v).replace("{api_version}", api_version)
                        for k, v in (spec.get("headers") or {}).items()}
        self.headers.setdefault("content-type", "application/json")
        self.provider = provider

    def encode(
        self, request: ChatCompletionRequest, stream: bool, base_url: str, builtins: dict[str, Any] | None = None
    ) -> tuple[WireRequest, list[RequestWarning]]:
        ctx = Context(self.provider)
        data = cast(dict[str, Any], _to_builtins(request, enc_hook=enc_hook)) if builtins is None else builtins
        messages = data.pop("messages")
        model = data.pop("model")
        extra = None
        if not _SET_ASIDE.isdisjoint(data):  # (one test: a usual request sets none of them)
            extra = data.pop("extra_body", None)
            data.pop("stream", None)
            data.pop("mcp_servers", None)  # the client's tool loop reads it; never a provider parameter
            if not stream:
                data.pop("stream_options", None)
            specific = data.pop("provider_specific", None)
            if specific:
                for key, value in specific.items():
                    data[f"provider_specific.{key}"] = value
        body = self.map_body(model, data, messages, ctx)
        endpoint = self.stream if stream else self.chat
        if endpoint.body:
            merge_defaults_into(body, endpoint.body)  # the caller's own values (include_usage: false) win
        if extra:
            deep_merge_into(body, extra)
        wire = WireRequest(  # (positional arguments: keyword ones cost more)
            endpoint.method,
            endpoint.urls.get((base_url, model)) or endpoint.url(base_url, model),  # (`url`'s memo read inline)
            self.headers,  # the same dict every time (callers copy before changing it)
            JSON_ENCODER.encode(body),
            stream,
        )
        return wire, ctx.warnings


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


RuleCache = dict[tuple[str, str, Policy], tuple[ParamOp, DefaultOp | None]]
"""Compiled rules by (parameter, rule, policy): a model override repeats most of its spec's rules as they are."""
MapperCache = dict[str, tuple[MessagesOp, WrittenList | None]]
"""Compiled messages mappings by their spec (as JSON): most override layers leave `messages` as it is."""


def _messages_op(
    messages: Mapping[str, Any], provider: str, cache: MapperCache
) -> tuple[MessagesOp, WrittenList | None]:
    """The compiled messages mapping of `messages` (and what the list it writes holds), shared by every layer
    set that leaves it unchanged."""
    key = json.dumps(messages, sort_keys=True, default=repr)
    found = cache.get(key)
    if found is None:
        found = cache[key] = lower_messages(messages, provider)
    return found


def _lower_body(spec: Mapping[str, Any], provider: str, policy: Policy, cache: RuleCache,
                mappers: MapperCache) -> MapBody:
    """One generated function for the body: the model's rule, each parameter the request sets through its rule's
    function (params.py; a dict lookup by name: a request sets few of the ~35 parameters), the defaults of the
    parameters it does not set, the messages (messages.py), then the `adjust:` entries inline (adjust.py)."""
    rules = dict(spec.get("params") or {})
    ops: dict[str, ParamOp] = {}
    defaults: list[tuple[str, DefaultOp]] = []
    for name in unified_params():
        rule = rules.get(name)
        key = (name, json.dumps(rule, sort_keys=True, default=repr), policy)
        found = cache.get(key)
        if found is None:
            found = cache[key] = compile_rule(name, rule, policy)
        op, default = found
        ops[name] = op
        if default is not None:
            defaults.append((name, default))
    code = FunctionBuilder(("model", "data", "messages", "ctx"), "map_body")
    model_op = ops.pop("model")
    emit = inline_rule(model_op)  # (the model's rule is usually a plain write: its lines, not a call)
    if emit is None:
        code.line("body = {}")
        code.line(f"{code.bind(model_op)}(model, body, ctx, data)")
    else:
        emit(code, "model", new_body=True)  # (its lines make the body: `body = {'model': model}`)
    code.line(f"ops = {code.bind(ops)}")
    code.line("for name, value in data.items():")
    code.line("    if value is not None:")
    code.line("        ops[name](value, body, ctx, data)")
    for name, default in defaults:
        code.line(f"if data.get({code.bind(name)}) is None:")
        code.line(f"    {code.bind(default)}(body, ctx, data)")
    mapping, written = _messages_op(spec.get("messages") or {}, provider, mappers)
    if written is None:
        code.line(f"{code.bind(mapping)}(messages, body, ctx)")
        written_at = str((spec.get("messages") or {}).get("to", "messages"))  # (written on every request)
        emit_adjust(spec.get("adjust"), code, always=first_keys(written_at))
    else:  # (it returns whether the turns it wrote are of the shape `written` says)
        flag = code.temp()
        code.line(f"{flag} = {code.bind(mapping)}(messages, body, ctx)")
        emit_adjust(spec.get("adjust"), code, (written, flag), first_keys(written.key))
    function: MapBody = code.build("body")
    return function


MapBody = Callable[[str, dict[str, Any], list[dict[str, Any]], Context], dict[str, Any]]


def _names(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    return (str(value),) if isinstance(value, str) else tuple(str(v) for v in value)


def _fill(template: str, values: Mapping[str, str]) -> str:
    """`{name}` → its value (percent-encoded); unknown names stay as they are."""
    return _PLACEHOLDER.sub(lambda m: quote(values[m.group(1)], safe="") if m.group(1) in values else m.group(0),
                            template)


def _auth_spec(auth: Mapping[str, Any]) -> AuthSpec:
    key_form = auth.get("api_key")
    return AuthSpec(
        scheme=auth["scheme"],
        name=auth.get("name"),
        env=_names(auth.get("env")),
        prefix=auth.get("prefix", ""),
        signing_name=auth.get("signing_name"),
        signing_region=auth.get("signing_region"),
        package_extra=auth.get("package_extra"),
        api_key=_auth_spec(key_form) if isinstance(key_form, Mapping) else None,
    )


class Plan:
    """A compiled provider spec. Immutable after construction; safe to share between clients and tasks."""

    def __init__(self, spec: Mapping[str, Any], api_version: str | None = None) -> None:
        spec = with_api_version(spec, api_version)  # the chosen version's patch, `{api_version}` filled
        metadata = spec["metadata"]
        self.name: str = metadata["name"]
        self.display_name: str = metadata.get("display_name", self.name)
        self.revision: int = int(metadata.get("revision", 1))
        self.api_version: str | None = metadata.get("api_version")
        self.otel_provider_name: str = metadata.get("otel_provider_name", self.name)
        """`gen_ai.provider.name` on telemetry (the OpenTelemetry GenAI conventions' value for this provider)."""
        self.spec = spec
        endpoint = dict(spec.get("endpoint") or {})
        self.propagate_trace_context: bool = bool(endpoint.get("propagate_trace_context", False))
        """Send the caller's W3C trace context (`traceparent`) with each request to this provider."""
        self.default_base_url: str = endpoint.get("base_url", "")
        self.base_url_hint: str | None = endpoint.get("base_url_hint")
        """What a base URL for this provider looks like; errors that suggest a wrong URL (404) quote it."""
        env = endpoint.get("base_url_env") or ()
        self.base_url_env: tuple[str, ...] = (env,) if isinstance(env, str) else tuple(env)
        self.placeholders: dict[str, tuple[tuple[str, ...], str | None]] = {
            str(name): (_names(entry.get("env")), entry.get("default"))
            for name, entry in (endpoint.get("placeholders") or {}).items()
        }
        """`{name}` in the base URL (and `auth.signing_region`) → (env variables, default); see `bind`."""
        self._bound: dict[str, str] = {}
        self.auth = _auth_spec(dict(spec.get("auth") or {"scheme": "none"}))
        stream = dict(spec.get("stream") or {"framing": "sse"})
        self.framing: str = stream.get("framing", "sse")
        self.stray_lines: str = stream.get("stray_lines", "ignore")
        self.event_header: str | None = event_header(stream)
        """The event-stream header naming events, which the runtime reads into each frame's name."""
        """`as_data`: SSE lines that are no field (a bare JSON error object) are delivered as an event's data."""
        rules: RuleCache = {}  # (shared: each set of matching layers repeats most of the spec's rules as they are)
        mappers: MapperCache = {}  # (and most leave the messages mapping as it is)
        self._encoders: Layers[RequestEncoder] = Layers(
            spec, spec.get("overrides") or (), lambda layered: RequestEncoder(layered, self.name, rules, mappers))
        self._operations: dict[str, OperationPlan] = {}
        self.decode_body: Decode = compile_response(spec.get("response") or {}, self.name)
        """A 2xx body → the result (what `decode` does for a 2xx without `raw`): the call path calls it directly."""
        self._error: ErrorBuilder = compile_errors(spec.get("errors") or {}, self.name)
        self._stream: DecoderFactory = compile_stream(stream, spec.get("response") or {}, self.name,
                                                      errors=spec.get("errors") or {})

    def __repr__(self) -> str:
        return f"<Plan {self.name} r{self.revision}>"

    def encoder_for(self, model: str) -> RequestEncoder:
        """The request encoder for `model`: every override layer matching it merged over the spec, in order."""
        return self._encoders.for_model(model)

    def unsupported_policy(self, model: str) -> Policy:
        """The unsupported-parameter policy that applies to `model` (its overrides included)."""
        return self.encoder_for(model).policy

    def operation(self, name: str) -> OperationPlan:
        """The compiled operation `name` (`embeddings`, `images`; compiled on first use), or a `MappingError`
        saying this provider has none (before any I/O)."""
        found = self._operations.get(name)
        if found is None:
            from .operations import compile_operation

            found = self._operations[name] = compile_operation(name, self.spec, self.name)
        return found

    def bind(self, values: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None) -> Plan:
        """This plan with its `{placeholder}`s filled (base URL, signing region): from `values` (client
        options such as `region=`), else the placeholder's environment variables, else its default. What
        cannot be filled stays a placeholder (an error names it when a request needs it)."""
        unknown = sorted(set(values or {}) - set(self.placeholders))
        if unknown:
            raise MappingError(f"unknown endpoint option(s) {', '.join(unknown)} "
                               f"(known: {', '.join(sorted(self.placeholders)) or 'none'})", provider=self.name)
        filled = self.placeholder_values(values, environ)
        bound = copy.copy(self)
        bound._bound = filled
        bound.default_base_url = _fill(self.default_base_url, filled)
        if self.auth.signing_region:
            bound.auth = replace(self.auth, signing_region=_fill(self.auth.signing_region, filled))
        return bound

    def placeholder_values(
        self, values: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """Each placeholder's value (given, else its first set variable, else its default), when it has one."""
        environ = os.environ if environ is None else environ
        out: dict[str, str] = {}
        for name, (env, default) in self.placeholders.items():
            value = (values or {}).get(name) or next((environ[v] for v in env if environ.get(v)), None) or default
            if value:
                out[name] = str(value)
        return out

    def resolve_base_url(self, base_url: str | None = None) -> str:
        url = base_url or next((v for name in self.base_url_env if (v := os.environ.get(name))), None)
        url = url or self.default_base_url
        if not url:
            raise MappingError("no base URL; pass base_url=", provider=self.name)
        if "{" in url:
            url = _fill(url, {**self.placeholder_values(), **self._bound})
            missing = _PLACEHOLDER.findall(url)
            if missing:
                hints = []
                for name in missing:
                    env = self.placeholders.get(name, ((), None))[0]
                    hints.append(f"pass {name}= to the client" + (f" or set {' or '.join(env)}" if env else ""))
                raise MappingError(f"the base URL {url} needs " + "; ".join(
                    f"{{{name}}} ({hint})" for name, hint in zip(missing, hints, strict=True)), provider=self.name)
        return url

    def encode(
        self,
        request: ChatCompletionRequest,
        *,
        stream: bool = False,
        base_url: str | None = None,
        builtins: dict[str, Any] | None = None,
    ) -> tuple[WireRequest, list[RequestWarning]]:
        """The wire request (without credentials) and the warnings the mapping produced. `builtins`: the
        request's plain-data form when the caller has it already (`coerce_with_builtins`); it is consumed."""
        if not base_url or "{" in base_url:  # (a caller's plain URL is what `resolve_base_url` gives back)
            base_url = self.resolve_base_url(base_url)
        model = request.model
        encoders = self._encoders  # (`encoder_for`, its memo read inline: one Python call less per request)
        encoder = encoders.by_model.get(model) or encoders.for_model(model)
        return encoder.encode(request, stream, base_url, builtins)

    def decode(self, status: int, headers: Mapping[str, str], body: bytes, *, raw: bool = False
               ) -> ChatCompletionMessageWithFinishReason:
        """`raw`: also keep the whole decoded body under `extras["raw"]` (the client option `extras="raw"`)."""
        if status >= 400:
            raise self.error(status, headers, body)
        result = self.decode_body(body)
        if raw:
            result.extras = {**(result.extras or {}), RAW: msgspec.json.decode(body)}
        return result

    def error(self, status: int, headers: Mapping[str, str], body: bytes) -> LLMError:
        return self._error(status, headers, body)

    def stream_decoder(self, *, raw: bool = False) -> StreamDecoder:
        """A fresh decoder for one stream; `raw`: each event's payload also goes on its chunk's `extras["raw"]`."""
        decoder = self._stream()
        return RawExtrasDecoder(decoder) if raw else decoder
