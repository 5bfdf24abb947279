"""A plain reference for a template-mode response decoder: the response mapping read through getters and
templates (`reference_read_choice`), each choice's pieces built as dicts and then walked into the message
(what the engine did before `decode_response` gathered the pieces into the message as it read them), so the
generated decoder can be compared with it on every payload."""

from __future__ import annotations

from typing import Any

import msgspec

from vllora_llm.engine.gateway import (
    ChatCompletionMessage,
    ChatCompletionMessageWithFinishReason,
    Choice,
    FunctionCall,
    ReasoningDetail,
    ToolCall,
)
from vllora_llm.engine.lower_response import _blocked, _not_a_list, kinds_declared
from vllora_llm.engine.paths import compile_getter
from vllora_llm.engine.response import FinishMap, UsageMap, build_usage, decode_json, malformed_response
from vllora_llm.engine.response_pieces import call_text
from vllora_llm.engine.silent import response_warnings
from vllora_llm.engine.stream_base import STRAY
from vllora_llm.engine.templates import compile_template
from vllora_llm.engine.transforms import Context

from ._reference import SILENT_KIND, reference_read_choice


def message_from_pieces(pieces: list[Any], choice_index: int) -> ChatCompletionMessage:
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
                id=call_text(call.get("id"), "id") or f"call_{choice_index}_{len(calls)}",
                function=FunctionCall(name=call_text(call.get("name"), "name") or "",
                                      arguments=call_text(call.get("arguments"), "arguments") or "{}"),
                signature=call_text(call.get("signature"), "signature"),
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


def answers_as_text(pieces: list[Any], names: frozenset[str]) -> list[Any]:
    """The pieces, where a call of one of `names` (`response.answer_tools`) is the text of its arguments."""
    return [{"text": call.get("arguments") or "{}"} if "tool_call" in piece
            and isinstance(call := piece["tool_call"], dict)
            and isinstance(name := call.get("name"), str) and name in names else piece
            for piece in pieces]


class ReferenceResponse:
    """`decode(body)` as a template-mode response decoder does it, written plainly."""

    def __init__(self, spec: dict[str, Any], provider: str) -> None:
        self.provider = provider
        self.read_choice = reference_read_choice(spec)
        self.choices = compile_getter(spec["choices"]) if "choices" in spec else None
        when = (spec.get("blocked") or {}).get("when")
        self.blocked = compile_getter(when) if when else None
        self.ident = compile_getter(spec.get("id", "id"))
        self.model = compile_getter(spec.get("model", "model"))
        self.finish = FinishMap(spec.get("finish_reason"))
        self.usage = UsageMap(spec.get("usage"))
        self.extras = {str(name): compile_template(template) for name, template in (spec.get("extras") or {}).items()}
        self.answers = frozenset(str(name) for name in spec.get("answer_tools") or ())
        self.declared = kinds_declared(spec)
        self.ctx = Context(provider)

    def decode(self, body: bytes) -> ChatCompletionMessageWithFinishReason:
        try:
            data = msgspec.json.decode(body)
        except msgspec.DecodeError:
            decode_json(body, self.provider)
            raise
        try:
            return self._read(data)
        except STRAY as exc:
            raise malformed_response(exc, self.provider) from None

    def _read(self, data: Any) -> ChatCompletionMessageWithFinishReason:
        choices = self.choices(data) if self.choices is not None else [data]
        if self.blocked is not None and not choices and (reason := self.blocked(data)):
            raise _blocked(reason, data, self.provider)
        if self.choices is not None and choices and type(choices) is not list:
            raise _not_a_list(choices, self.provider)
        out, silent = [], []
        for position, raw in enumerate(choices or ()):
            index, pieces, reason = self.read_choice(raw, self.ctx)
            if type(index) is not int:
                index = position
            message = message_from_pieces(answers_as_text(pieces, self.answers), index)
            quiet = [piece[SILENT_KIND] for piece in pieces if SILENT_KIND in piece]
            if quiet:
                silent.append((quiet, message))
            out.append(Choice(message=message, index=index,
                              finish_reason=self.finish.translate(reason, bool(message.tool_calls))))
        ident, model = self.ident(data), self.model(data)
        extras = {}
        for name, read in self.extras.items():
            value = read(data, self.ctx)
            if value is not None and value != [] and value != {}:
                extras[name] = value
        return ChatCompletionMessageWithFinishReason(
            choices=out, id=str(ident) if ident is not None else None, model=str(model) if model is not None else None,
            usage=build_usage(self.usage.read(data, self.ctx)), provider=self.provider,
            warnings=response_warnings(silent, self.declared) if silent else [], extras=extras or None)
