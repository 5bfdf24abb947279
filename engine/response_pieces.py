"""The lines a response's generated `decode_response` writes for one content part's kind (its template's
pieces gathered straight into the message's content, tool calls, reasoning details and refusal) and for the
finish reason, and the helpers those lines call (lower_decode.py lowers the rest).

Why: a piece built as a dict per part and walked a second time to build the message cost about as much as the
rest of the mapping; the generated lines keep what each piece gives in locals instead. What a piece gives is
what it always gave (`response.kinds` in specs/README.md): a `text` str is content (with the piece's `reasoning`
as a detail), else a `tool_call` is a call (ids `call_<choice>_<n>` where the provider gave none; a call of
an `answer_tools` tool is the message's text: its arguments), else a `reasoning` is a detail whose text joins
the reasoning text, else a `refusal`; a part whose template gives nothing is recorded (silent.py).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from .codegen import FunctionBuilder
from .gateway import FunctionCall, ReasoningDetail, ToolCall
from .templates import lower_into

if TYPE_CHECKING:
    from .response import FinishMap

__all__ = ["call_field_checks", "call_text", "emit_finish", "emit_message_piece", "reasoning_text"]

_CALL_FIELDS = ("id", "name", "arguments", "signature")
_USUAL = frozenset(("id", "name", "arguments"))


def call_field_checks(code: FunctionBuilder, call_fields: Mapping[str, str]) -> list[str]:
    """The generated lines checking a tool call's fields read into locals (`call_fields`: field -> local): each
    one set must be a str (`call_text` raises naming the field); both decoders write them before building a call."""
    # (a field a call usually has, its id or name, is a str: its type test first settles it in one test; one
    # usually absent, its signature, is told None first)
    return [(f"if type({local}) is not str and {local} is not None: " if field in _USUAL else
             f"if {local} is not None and type({local}) is not str: ")
            + f"{code.bind(call_text)}({local}, {code.bind(field)})"
            for field in _CALL_FIELDS if (local := call_fields.get(field)) is not None and str(local).isidentifier()
            and local not in code.texts]  # (a local known to hold a str needs no test)


def call_text(value: Any, field: str) -> str | None:
    """A tool call's `field` as its mapping read it: a str or None; another type raises TypeError (the decoder
    turns it into a ProviderError / StreamError naming the provider: `malformed_response`, `malformed`)."""
    if value is None or type(value) is str:
        return value
    raise TypeError(f"a tool call's {field} is a {type(value).__name__}, not a string")


def tool_call(call: Any, index: int, calls: list[ToolCall] | None) -> ToolCall:
    """The `ToolCall` of a `tool_call` piece that is not written as an object in its template (an object
    holding id, name, arguments, signature)."""
    return ToolCall(
        id=call_text(call.get("id"), "id") or f"call_{index}_{len(calls) if calls is not None else 0}",
        function=FunctionCall(name=call_text(call.get("name"), "name") or "",
                              arguments=call_text(call.get("arguments"), "arguments") or "{}"),
        signature=call_text(call.get("signature"), "signature"),
    )


def add_piece(piece: Any, index: int, answers: Collection[str], content: str | None,
              calls: list[ToolCall] | None, details: list[ReasoningDetail] | None, refusal: str | None
              ) -> tuple[str | None, list[ToolCall] | None, list[ReasoningDetail] | None, str | None]:
    """What a piece whose template is not written as an object (its value is whatever the template gives)
    adds to the message's content, calls, details and refusal (the same rules as the generated lines)."""
    if "tool_call" in piece and isinstance(call := piece["tool_call"], dict) and isinstance(
            name := call.get("name"), str) and name in answers:
        piece = {"text": call.get("arguments") or "{}"}  # (a call of an answer tool is the message's text)
    if "text" in piece and isinstance(text := piece["text"], str):
        content = text if content is None else content + text
        if "reasoning" in piece:
            details = [*(details or ()), msgspec.convert(piece["reasoning"], ReasoningDetail)]
    elif "tool_call" in piece:
        made = tool_call(piece["tool_call"], index, calls)
        calls = [*(calls or ()), made]
    elif "reasoning" in piece:
        details = [*(details or ()), msgspec.convert(piece["reasoning"], ReasoningDetail)]
    elif "refusal" in piece:
        refusal = (refusal or "") + str(piece["refusal"])
    return content, calls, details, refusal


def reasoning_text(details: list[ReasoningDetail]) -> str | None:
    """The message's reasoning text: the texts of its reasoning details, joined (None when there is none)."""
    return "".join([detail.text or "" for detail in details]) or None


def emit_message_piece(code: FunctionBuilder, kind: str, template: Any, marker: str, answers: frozenset[str],
                       declares: bool, truthy: str | None = None) -> None:
    """The lines evaluating one kind's template on the part `item` (in the order its fields are written: its
    transforms run and fail as they would building the piece) and adding what it gives to the choice's locals
    `content`, `calls`, `details`, `refusal`; a part it gives nothing for goes on `quiet` (its kind, `marker`)
    when the template `declares` pieces. `truthy`: the key of the part known to be set here (the `present` key
    that named the kind)."""
    from .stream_whole_pieces import (  # (compile time only; it imports this module's `call_text`)
        detail_expression,
        is_object_template,
        template_fields,
        text_branch,
    )

    where = ("response", "kinds", kind)
    if not template:  # (`{}`: the kind means to give nothing)
        code.line("pass")
        return
    if not is_object_template(template):
        piece = code.temp()
        code.line(f"{piece} = {lower_into(template, where, code)}")
        code.line(f"if not {piece}: quiet = [*(quiet or ()), {marker}]")  # (gave nothing: silent.py)
        code.line(f"else: content, calls, details, refusal = {code.bind(add_piece)}({piece}, index, "
                  f"{code.bind(answers)}, content, calls, details, refusal)")
        return
    fields, call_fields, detail_fields, known = template_fields(code, template, where, truthy)
    varying = [local for local in fields.values() if local != "True" and local not in known]
    if declares and varying and len(varying) == len(fields):  # (the piece may give nothing at all)
        code.line(f"if {' and '.join(f'{local} is None' for local in varying)}: quiet = [*(quiet or ()), {marker}]")
    text, call, reasoning, refused = (fields.get(key) for key in ("text", "tool_call", "reasoning", "refusal"))
    detail = detail_expression(code, reasoning, detail_fields) if reasoning is not None else ""
    branches: list[tuple[str, list[str]]] = []
    if call is not None and answers:
        name = call_fields.get("name") if call_fields is not None else None
        arguments = call_fields.get("arguments", "None") if call_fields is not None else f"{call}.get('arguments')"
        if call_fields is None:
            test = (f"isinstance({call}, dict) and isinstance(_a := {call}.get('name'), str) "
                    f"and _a in {code.bind(answers)}")
        else:
            test = f"type({name}) is str and {name} in {code.bind(answers)}" if name is not None else "False"
        branches.append((test, [f"_a = {arguments} or '{{}}'",
                                "if type(_a) is str: content = _a if content is None else content + _a"]))
    if text is not None:
        branches.append(text_branch(text, reasoning, detail))
    if call is not None:
        if call_fields is None:
            body = [f"_c = {code.bind(tool_call)}({call}, index, calls)"]
        else:  # what `tool_call` does, on the fields' locals (each a str or None: another type raises)
            get = call_fields.get
            body = call_field_checks(code, call_fields)
            body.append(f"_c = {code.bind(ToolCall)}(id={get('id', 'None')} or "
                        f"f'call_{{index}}_{{0 if calls is None else len(calls)}}', "
                        f"function={code.bind(FunctionCall)}(name={get('name', 'None')} or '', "
                        f"arguments={get('arguments', 'None')} or '{{}}'), signature={get('signature', 'None')})")
        body += ["if calls is None: calls = [_c]", "else: calls.append(_c)"]
        branches.append(("True" if call_fields is not None else f"{call} is not None", body))
    if reasoning is not None:
        body = [f"_d = {detail}", "if details is None: details = [_d]", "else: details.append(_d)"]
        branches.append(("True" if detail_fields is not None else f"{reasoning} is not None", body))
    if refused is not None:
        body = [f"refusal = (refusal or '') + {code.bind(str)}({refused})"]
        branches.append((f"{refused} is not None", body))
    for position, (test, body) in enumerate(branches):
        if test == "True" and position == 0:  # (an object template's call or reasoning: always given)
            for line in body:
                code.line(line)
            break
        code.line(f"{'if' if position == 0 else 'elif'} {test}:" if test != "True" else "else:")
        for line in body:
            code.line(f"    {line}")
        if test == "True":
            break  # (the branches after it never run)


def emit_finish(code: FunctionBuilder, finish: FinishMap, reason: str, calls: str) -> str:
    """Emit the lines of `FinishMap.translate(reason, has_calls)` on the local `reason` (`calls`: the local
    holding the choice's tool calls, None when it has none); return the local holding the unified reason."""
    out = code.temp()
    code.line(f"if {reason} is None: {out} = None")
    code.line("else:")
    code.line(f"    {out} = {code.bind(finish.map)}.get({reason} if type({reason}) is str else str({reason}))")
    fallback = (code.bind(finish.default) if finish.default is not None
                else f"({reason} if type({reason}) is str else str({reason})).lower()")
    code.line(f"    if {out} is None: {out} = {fallback}")
    if finish.tool_calls_when_calls:
        code.line(f"    if {calls} is not None and {out} == 'stop': {out} = 'tool_calls'")
    if finish.stop_without_calls:
        code.line(f"    if {calls} is None and {out} == 'tool_calls': {out} = 'stop'")
    return out
