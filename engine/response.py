"""Response decoding: provider body → `ChatCompletionMessageWithFinishReason`, as declared in `response:`.

`passthrough` decodes OpenAI-shaped bodies straight into the unified Structs (one msgspec call).
`template` walks the declared choices and content parts: `kind_by` names each part's kind, `kinds` says
what it becomes (text, tool_call, reasoning, refusal), and `finish_reason` / `usage` are declared maps. The
body is decoded into view Structs of the fields the spec reads and read by one function generated from the
spec (`lower_decode.lower_response`), the same for every body shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from .content_parts import response_decoder
from .errors import ProviderError
from .extras import compile_event_extras
from .gateway import (
    ChatCompletionMessageWithFinishReason,
    CompletionTokensDetails,
    PromptTokensDetails,
    Usage,
)
from .lower_decode import lower_response, response_views
from .lower_response import lower_usage
from .paths import compile_getter
from .redaction import preview
from .response_pieces import call_text as call_text  # (where the stream decoders import it from)
from .stream_base import STRAY
from .templates import template_roots
from .transforms import Context

Decode = Callable[[bytes], ChatCompletionMessageWithFinishReason]
USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "cache_creation_tokens",
                "reasoning_tokens")


def decode_json(body: bytes, provider: str) -> Any:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise ProviderError(f"the response body is not valid JSON: {preview(body, 200)!r}", provider=provider) from None


class FinishMap:
    def __init__(self, spec: Mapping[str, Any] | None) -> None:
        spec = dict(spec or {"from": "finish_reason"})
        self.get = compile_getter(spec["from"])
        self.map: dict[str, str] = {str(k): str(v) for k, v in (spec.get("map") or {}).items()}
        self.default = spec.get("default")
        self.tool_calls_when_calls = bool(spec.get("tool_calls_when_calls", False))
        self.stop_without_calls = bool(spec.get("stop_without_calls", False))
        """`tool_calls` with no call in the message is `stop` (a forced tool whose input is the answer)."""

    def translate(self, raw: Any, has_calls: bool) -> str | None:
        if raw is None:
            return None
        text = raw if type(raw) is str else str(raw)
        reason = self.map.get(text)  # (the map's values are str: None means the value is not in it)
        if reason is None:  # the fallback is worked out only when needed, not as `get`'s default on every call
            reason = self.default if self.default is not None else text.lower()
        if has_calls and self.tool_calls_when_calls and reason == "stop":
            return "tool_calls"
        if not has_calls and self.stop_without_calls and reason == "tool_calls":
            return "stop"
        return reason


class UsageMap:
    def __init__(self, spec: Mapping[str, Any] | None) -> None:
        self.read: Callable[[Any, Context], dict[str, int]] = lower_usage({str(k): v for k, v in (spec or {}).items()})
        """`(body, ctx) -> counts`: one generated function (`lower_response.lower_usage`) evaluating each count's
        template in order and keeping the numbers, as ints."""
        roots: set[str] | None = set()
        for template in (spec or {}).values():
            found = template_roots(template)
            roots = None if found is None or roots is None else roots | found
        self.roots: tuple[str, ...] | None = tuple(sorted(roots)) if roots is not None else None
        """The top-level keys `read` looks at (None: it reads more), so a stream whose every event repeats an
        unchanged usage block can skip reading it again (`inputs`)."""

    def inputs(self, body: Any) -> tuple[Any, ...] | None:
        """What `read(body)` depends on, comparable between events; None when that cannot be told."""
        roots = self.roots
        if roots is None or type(body) is not dict:
            return None
        if len(roots) == 1:  # the usual case: one usage block
            return (body.get(roots[0]),)
        return tuple([body.get(key) for key in roots])


def build_usage(values: Mapping[str, int]) -> Usage | None:
    """The `Usage` of the counts a `usage:` map read (None when it read none)."""
    if not values:
        return None
    return usage_from(values.get("prompt_tokens"), values.get("completion_tokens"), values.get("total_tokens"),
                      values.get("cached_tokens"), values.get("cache_creation_tokens"), values.get("reasoning_tokens"))


def usage_from(prompt: int | None, completion: int | None, total: int | None, cached: int | None,
               created: int | None, reasoning: int | None) -> Usage:
    """The unified `Usage` of the six counts (None: not given; the total defaults to prompt + completion). A
    response's generated decoder builds the same `Usage` in its own lines (`lower_decode._emit_usage`)."""
    prompt = prompt if prompt is not None else 0
    completion = completion if completion is not None else 0
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total if total is not None else prompt + completion,
        prompt_tokens_details=(
            PromptTokensDetails(cached_tokens=cached, cache_creation_tokens=created)
            if cached is not None or created is not None else None
        ),
        completion_tokens_details=(
            CompletionTokensDetails(reasoning_tokens=reasoning) if reasoning is not None else None
        ),
    )


def compile_response(spec: Mapping[str, Any], provider: str) -> Decode:
    if spec.get("mode", "passthrough") == "passthrough":
        decoder = response_decoder(spec, provider) or msgspec.json.Decoder(ChatCompletionMessageWithFinishReason)
        extras = compile_event_extras(spec.get("extras"), ("response", "extras"), provider)
        """The spec's extras, read from the body (decoded again only when it holds one of their keys with a
        value: most bodies do not)."""

        def passthrough(body: bytes) -> ChatCompletionMessageWithFinishReason:
            try:
                result = decoder.decode(body)
            except msgspec.DecodeError as exc:
                decode_json(body, provider)  # raises with a preview when it is not JSON at all
                raise ProviderError(f"the response does not have the chat-completion shape ({exc})",
                                    provider=provider) from None
            except STRAY as exc:  # (a decoder that reshapes the body first, content_parts.py)
                raise malformed_response(exc, provider) from exc
            result.provider = provider
            for choice in result.choices:
                calls = choice.message.tool_calls
                if calls:
                    for position, call in enumerate(calls):
                        if not call.id:  # some compatible servers send "" or no id; a reply must name the call
                            call.id = f"call_{choice.index}_{position}"
            if extras is not None:
                result.extras = extras.of(body)
            return result

        return passthrough
    return _TemplateResponse(spec, provider).decode


class _TemplateResponse:
    def __init__(self, spec: Mapping[str, Any], provider: str) -> None:
        self.provider = provider
        viewed = response_views(spec)
        decoder: Callable[[bytes], Any] = (
            msgspec.json.Decoder(viewed[0]).decode if viewed is not None else msgspec.json.decode)
        """The body into the view Structs holding what the mapping reads (lower_decode.py), else plain data."""
        self.decode: Decode = lower_response(
            spec, provider, FinishMap(spec.get("finish_reason")),
            {str(k): v for k, v in (spec.get("usage") or {}).items()}, spec.get("extras") or {},
            viewed[1] if viewed is not None else None, decoder, decode_json, malformed_response)
        """The generated `decode_response(body)`: the body decoded (a body that is not JSON: a ProviderError with
        a preview) and read (a field of the wrong type: a ProviderError saying what was wrong)."""


def malformed_response(exc: BaseException, provider: str) -> ProviderError:
    """A `ProviderError` for a body the response mapping could not read: what was wrong, with the exception's
    type as for a stream event (`stream_base.malformed`; raised `from exc`, so a bug of ours caught there shows its
    own traceback). No body preview: a whole response may be large; `err.body` is not set either."""
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return ProviderError(f"the response does not fit the response mapping ({preview(what, 200)})", provider=provider)
