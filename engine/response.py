"""Response decoding: provider body → `ChatCompletionMessageWithFinishReason`, as declared in `response:`.

`passthrough` decodes OpenAI-shaped bodies straight into the unified Structs (one msgspec call).
`template` walks the declared choices and content parts: `kind_by` names each part's kind, `kinds` says
what it becomes (text, tool_call, reasoning, refusal), and `finish_reason` / `usage` are declared maps. A
body with one choice is read first by a function with the spec's keys bound as locals (`_fast_path`; a choice
of one content part without the list of pieces), which gives what the general path gives; any other body, or
one that raises there, goes the general way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from .errors import InvalidRequestError, ProviderError
from .gateway import (
    ChatCompletionMessage,
    ChatCompletionMessageWithFinishReason,
    Choice,
    CompletionTokensDetails,
    FunctionCall,
    PromptTokensDetails,
    ReasoningDetail,
    ToolCall,
    Usage,
)
from .paths import Getter, compile_getter, is_simple, plain_keys, single_key, split_path
from .redaction import preview
from .templates import Evaluator, compile_template, specialize, template_roots
from .transforms import Context

Decode = Callable[[bytes], ChatCompletionMessageWithFinishReason]
USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "cache_creation_tokens",
                "reasoning_tokens")


def decode_json(body: bytes, provider: str) -> Any:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise ProviderError(f"the response body is not valid JSON: {preview(body, 200)!r}", provider=provider) from None


class PartsReader:
    """Reads one choice's content parts into unified pieces; shared by responses and whole-response streams."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.parts: Getter = compile_getter(spec.get("parts", "content"))
        path = str(spec.get("parts", "content"))
        steps = [str(step) for step in split_path(path) if isinstance(step, str)] if is_simple(path) else []
        self.parts_keys: tuple[str, str | None] | None = (
            (steps[0], steps[1] if len(steps) == 2 else None)
            if path not in ("", "@", "$") and 1 <= len(steps) <= 2 and len(steps) == len(split_path(path)) else None
        )
        """The one or two plain keys `parts` reads (its getter is then `.get` on dicts), else None."""
        kind_by = dict(spec.get("kind_by") or {"field": "type"})
        self.kind_field: Getter | None = compile_getter(kind_by["field"]) if "field" in kind_by else None
        self.present: tuple[tuple[str, str], ...] = tuple((p[0], p[1]) for p in kind_by.get("present", ()))
        self.kinds: dict[str, Evaluator] = {
            str(kind): compile_template(tpl, ("response", "kinds", str(kind)))
            for kind, tpl in (spec.get("kinds") or {}).items()
        }

    def kind(self, part: Any) -> str | None:
        if self.kind_field is not None:
            value = self.kind_field(part)
            return str(value) if value is not None else None
        if isinstance(part, dict):
            for key, kind in self.present:
                if part.get(key):
                    return kind
        return None

    def pieces(self, choice: Any, ctx: Context) -> list[dict[str, Any]]:
        out = []
        kinds = self.kinds
        by_presence = self.kind_field is None  # `kind` inlined for that case: this runs once per stream event
        for part in self.parts(choice) or ():
            if by_presence:
                kind = None
                if isinstance(part, dict):
                    for key, named in self.present:
                        if part.get(key):
                            kind = named
                            break
            else:
                kind = self.kind(part)
            render = kinds.get(kind) if kind is not None else None
            if render is not None:
                out.append(render(part, ctx))
        return out


class FinishMap:
    def __init__(self, spec: Mapping[str, Any] | None) -> None:
        spec = dict(spec or {"from": "finish_reason"})
        self.get = compile_getter(spec["from"])
        self.key: str | None = single_key(str(spec["from"]))
        """The one key `get` reads, when the path is one key: a stream decoder reads it inline per event."""
        self.map: dict[str, str] = {str(k): str(v) for k, v in (spec.get("map") or {}).items()}
        self.default = spec.get("default")
        self.tool_calls_when_calls = bool(spec.get("tool_calls_when_calls", False))

    def translate(self, raw: Any, has_calls: bool) -> str | None:
        if raw is None:
            return None
        text = raw if type(raw) is str else str(raw)
        reason = self.map.get(text)  # (the map's values are str: None means the value is not in it)
        if reason is None:  # the fallback is worked out only when needed, not as `get`'s default on every call
            reason = self.default if self.default is not None else text.lower()
        if has_calls and self.tool_calls_when_calls and reason == "stop":
            return "tool_calls"
        return reason


class UsageMap:
    def __init__(self, spec: Mapping[str, Any] | None) -> None:
        self.fields: Evaluator = _usage_template({str(k): v for k, v in (spec or {}).items()})
        """All counts as one template (one generated function: fields in order, a None one left out)."""
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

    def read(self, body: Any, ctx: Context) -> dict[str, int]:
        out = {}
        for key, value in self.fields(body, ctx).items():
            if type(value) is int:  # the usual count: int() of it is itself
                out[key] = value
            elif isinstance(value, (int, float)):
                out[key] = int(value)
        return out


def _usage_template(fields: dict[str, Any]) -> Evaluator:
    """The usage map as one object template; a key starting with `$` (which a template would read as a
    directive) keeps the template of each count apart, as the map always did."""
    if not any(key.startswith("$") for key in fields):
        return compile_template(fields, ("response", "usage"))
    each = {key: compile_template(value, ("response", "usage", key)) for key, value in fields.items()}
    return lambda body, ctx: {key: evaluate(body, ctx) for key, evaluate in each.items()}


def build_usage(values: Mapping[str, int]) -> Usage | None:
    if not values:
        return None
    prompt = values.get("prompt_tokens", 0)
    completion = values.get("completion_tokens", 0)
    cached = values.get("cached_tokens")
    created = values.get("cache_creation_tokens")
    reasoning = values.get("reasoning_tokens")
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=values.get("total_tokens", prompt + completion),
        prompt_tokens_details=(
            PromptTokensDetails(cached_tokens=cached, cache_creation_tokens=created)
            if cached is not None or created is not None else None
        ),
        completion_tokens_details=(
            CompletionTokensDetails(reasoning_tokens=reasoning) if reasoning is not None else None
        ),
    )


def message_from_pieces(pieces: list[dict[str, Any]], choice_index: int) -> ChatCompletionMessage:
    if len(pieces) == 1 and len(piece := pieces[0]) == 1 and type(text := piece.get("text")) is str:
        return ChatCompletionMessage(role="assistant", content=text)  # one plain text piece: what the rest gives
    texts: list[str] = []
    calls: list[ToolCall] = []
    details: list[ReasoningDetail] = []
    refusal: list[str] = []
    for piece in pieces:
        if "text" in piece and isinstance(piece["text"], str):
            texts.append(piece["text"])
            if "reasoning" in piece:  # a content part that also carries a reasoning signature
                details.append(msgspec.convert(piece["reasoning"], ReasoningDetail))
        elif "tool_call" in piece:
            call = piece["tool_call"]
            calls.append(ToolCall(
                id=call.get("id") or f"call_{choice_index}_{len(calls)}",
                function=FunctionCall(name=call.get("name", ""), arguments=call.get("arguments") or "{}"),
                signature=call.get("signature"),
            ))
        elif "reasoning" in piece:
            details.append(msgspec.convert(piece["reasoning"], ReasoningDetail))
        elif "refusal" in piece:
            refusal.append(str(piece["refusal"]))
    reasoning_text = "".join(d.text or "" for d in details) or None
    return ChatCompletionMessage(
        role="assistant",
        content="".join(texts) if texts else None,
        tool_calls=calls or None,
        reasoning=reasoning_text,
        reasoning_details=details or None,
        refusal="".join(refusal) if refusal else None,
    )


def compile_response(spec: Mapping[str, Any], provider: str) -> Decode:
    if spec.get("mode", "passthrough") == "passthrough":
        decoder = msgspec.json.Decoder(ChatCompletionMessageWithFinishReason)

        def passthrough(body: bytes) -> ChatCompletionMessageWithFinishReason:
            try:
                result = decoder.decode(body)
            except msgspec.DecodeError:
                decode_json(body, provider)  # raises with a preview when it is not JSON at all
                raise ProviderError("the response does not have the chat-completion shape", provider=provider) from None
            result.provider = provider
            for choice in result.choices:
                for position, call in enumerate(choice.message.tool_calls or ()):
                    if not call.id:  # some compatible servers send "" or no id; a reply must name the call
                        call.id = f"call_{choice.index}_{position}"
            return result

        return passthrough
    return _TemplateResponse(spec, provider).decode


class _QuietContext(Context):
    """The context the fast path hands templates: one per decoder instead of one per response. A response's
    warnings are never returned (the general path drops its context's list), so this one drops them at once;
    it is read-only, so a transform that writes to its context raises and the general path, with a context of
    its own, reads that response instead."""

    __slots__ = ()

    def __init__(self, provider: str) -> None:
        for name, value in (("warnings", []), ("provider", provider), ("path", "")):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"the shared response context is read-only (setting {name!r})")

    def warn(self, code: str, message: str, param: str | None = None) -> None:
        return None


FastDecode = Callable[[dict[str, Any]], ChatCompletionMessageWithFinishReason | None]


class _TemplateResponse:
    def __init__(self, spec: Mapping[str, Any], provider: str) -> None:
        self.provider = provider
        self.id = compile_getter(spec.get("id", "id"))
        self.model = compile_getter(spec.get("model", "model"))
        self.choices: Getter | None = compile_getter(spec["choices"]) if "choices" in spec else None
        self.index: Getter | None = compile_getter(spec["index"]) if "index" in spec else None
        self.reader = PartsReader(spec)
        self.finish = FinishMap(spec.get("finish_reason"))
        self.usage = UsageMap(spec.get("usage"))
        blocked = dict(spec.get("blocked") or {})
        self.blocked: Getter | None = compile_getter(blocked["when"]) if "when" in blocked else None
        self.fast: FastDecode | None = _fast_path(self, spec)
        """`from_data`'s usual case, tried first (None: the spec reads a path that is not plain keys). A test sets
        it to None to compare the two paths."""

    def decode(self, body: bytes) -> ChatCompletionMessageWithFinishReason:
        try:
            data = msgspec.json.decode(body)
        except msgspec.DecodeError:
            decode_json(body, self.provider)  # raises with a preview
            raise
        if self.fast is not None and type(data) is dict:
            try:
                result = self.fast(data)
            except Exception:  # whatever it is, the general path raises it again (or reads the body)
                result = None
            if result is not None:
                return result
        return self.from_data(data)

    def from_data(self, data: Any) -> ChatCompletionMessageWithFinishReason:
        ctx = Context(self.provider)
        raw_choices = self.choices(data) if self.choices is not None else [data]
        if not raw_choices and self.blocked is not None and self.blocked(data):
            reason = self.blocked(data)
            raise InvalidRequestError(f"the prompt was blocked ({reason})", provider=self.provider,
                                      error_type=str(reason), body=data)
        choices = []
        if raw_choices and type(raw_choices) is not list:
            raise ProviderError(f"the response's choices are a {type(raw_choices).__name__}, not a list: "
                                f"{str(raw_choices)[:80]!r}", provider=self.provider)
        for position, raw in enumerate(raw_choices or ()):
            index = self.index(raw) if self.index is not None else None
            index = index if isinstance(index, int) else position
            message = message_from_pieces(self.reader.pieces(raw, ctx), index)
            reason = self.finish.translate(self.finish.get(raw), bool(message.tool_calls))
            choices.append(Choice(message=message, index=index, finish_reason=reason))
        model = self.model(data)
        ident = self.id(data)
        return ChatCompletionMessageWithFinishReason(
            choices=choices,
            id=str(ident) if ident is not None else None,
            model=str(model) if model is not None else None,
            usage=build_usage(self.usage.read(data, ctx)),
            provider=self.provider,
        )


def _text_keys(kinds: Mapping[str, Any]) -> dict[str, str]:
    """The kinds whose template is `{text: $key}`, by kind: their piece is the part's value at `key` (left out
    when None), so the fast path reads the key instead of calling the template."""
    out: dict[str, str] = {}
    for kind, template in kinds.items():
        ref = template.get("text") if isinstance(template, dict) and len(template) == 1 else None
        if isinstance(ref, str) and ref.startswith("$") and not ref.startswith("$$"):
            key = single_key(ref[1:].lstrip("."))
            if key is not None:
                out[str(kind)] = key
    return out


def text_part_key(response_spec: Mapping[str, Any], reader: PartsReader, provider: str) -> str | None:
    """The key K for which a content part holding only K, with a non-empty str value, renders as `{"text":
    value}`, whatever the value; None when no key does.

    K's kind is the first `present` entry naming K (what the kind scan finds for a one-key part). Its template,
    specialized as a function of K (`specialize`: every other field reads no K, so it is a constant), must
    build `{"text": value}` and nothing else."""
    if reader.kind_field is not None:
        return None
    kinds = {str(kind): template for kind, template in (response_spec.get("kinds") or {}).items()}
    seen: set[str] = set()
    value = object()  # a value no constant can be
    for key, kind in reader.present:
        if key in seen:
            continue
        seen.add(key)
        built = specialize(kinds.get(kind), {}, (key,), provider)
        if built is not None and (out := built(value)).keys() == {"text"} and out["text"] is value:
            return key
    return None


def _fast_path(response: _TemplateResponse, spec: Mapping[str, Any]) -> FastDecode | None:
    """`response.from_data` for its usual body, as one function with the spec's keys bound as locals: an object
    with one choice (a dict) whose content is one part, read without the list of pieces; a shared context (see
    `_QuietContext`). Any other body gives None before anything is read (the general path then reads it);
    errors raised here are raised again by the general path. None when a path read here is not plain keys."""
    keys = [single_key(str(spec.get("id", "id"))), single_key(str(spec.get("model", "model")))]
    keys += [single_key(str(spec[name])) for name in ("choices", "index") if name in spec]
    parts_path = plain_keys(str(spec.get("parts", "content")))
    reader, finish, usage, provider = response.reader, response.finish, response.usage, response.provider
    kind_by = dict(spec.get("kind_by") or {"field": "type"})
    kind_key = single_key(str(kind_by["field"])) if "field" in kind_by else None
    if None in keys or parts_path is None or finish.key is None or ("field" in kind_by and kind_key is None):
        return None
    id_key, model_key = str(keys[0]), str(keys[1])
    choices_key = single_key(str(spec["choices"])) if "choices" in spec else None
    index_key = single_key(str(spec["index"])) if "index" in spec else None
    parts_first, parts_rest = parts_path[0], parts_path[1:]
    present, kinds, text_keys = reader.present, reader.kinds, _text_keys(spec.get("kinds") or {})
    first_kind: dict[str, str] = {}  # the kind of a part holding one key (truthy): the first `present` entry of it
    for name, kind in present:
        first_kind.setdefault(name, kind)
    finish_key, reasons, calls_for_stop = finish.key, finish.map, finish.tool_calls_when_calls
    fields, ctx = usage.fields, _QuietContext(provider)
    lone_text = text_part_key(spec, reader, provider)  # None: `part.get(None)` finds nothing

    def fast(data: dict[str, Any]) -> ChatCompletionMessageWithFinishReason | None:
        if choices_key is None:
            raw: Any = data
        else:
            raw_choices = data.get(choices_key)
            if type(raw_choices) is not list or len(raw_choices) != 1 or type(raw := raw_choices[0]) is not dict:
                return None
        if index_key is None or not isinstance(index := raw.get(index_key), int):
            index = 0
        parts = raw.get(parts_first)
        for step in parts_rest:
            parts = parts.get(step) if type(parts) is dict else None
        if type(parts) is list and len(parts) == 1 and type(part := parts[0]) is dict:  # the usual answer
            if len(part) == 1 and type(text := part.get(lone_text)) is str and text:  # `{K: text}` (text_part_key)
                message = ChatCompletionMessage(role="assistant", content=text)
            else:
                kind: Any = None
                if kind_key is not None:
                    if type(kind := part.get(kind_key)) is not str and kind is not None:
                        kind = str(kind)
                elif len(part) == 1:
                    for name, value in part.items():  # (the one key)
                        kind = first_kind.get(name) if value else None
                else:
                    for name, named in present:
                        if part.get(name):
                            kind = named
                            break
                if (text_key := text_keys.get(kind)) is not None:  # (a kind of None has none)
                    if type(text := part.get(text_key)) is str:  # one plain text piece: what message_from_pieces gives
                        message = ChatCompletionMessage(role="assistant", content=text)
                    else:
                        message = message_from_pieces([{"text": text}] if text is not None else [{}], index)
                elif kind is not None and (render := kinds.get(kind)) is not None:
                    piece = render(part, ctx)
                    if type(piece) is dict and len(piece) == 1 and type(text := piece.get("text")) is str:
                        message = ChatCompletionMessage(role="assistant", content=text)  # (as above)
                    else:
                        message = message_from_pieces([piece], index)
                else:
                    message = message_from_pieces([], index)
        else:
            message = message_from_pieces(reader.pieces(raw, ctx), index)
        raw_reason = raw.get(finish_key)
        if raw_reason is None:
            reason = None
        elif type(raw_reason) is not str or (reason := reasons.get(raw_reason)) is None:
            reason = finish.translate(raw_reason, bool(message.tool_calls))  # (a value the map does not hold)
        elif reason == "stop" and calls_for_stop and message.tool_calls:
            reason = "tool_calls"
        choice = Choice(message=message, index=index, finish_reason=reason)
        counts = fields(data, ctx)
        for value in counts.values():
            if type(value) is not int:  # what `UsageMap.read` leaves out or converts
                counts = usage.read(data, ctx)
                break
        ident, model = data.get(id_key), data.get(model_key)
        return ChatCompletionMessageWithFinishReason(
            choices=[choice],
            id=ident if type(ident) is str else str(ident) if ident is not None else None,
            model=model if type(model) is str else str(model) if model is not None else None,
            usage=build_usage(counts),
            provider=provider,
        )

    return fast
