"""The lines a whole-response stream's generated `on_events` writes for one piece of a choice (text,
reasoning, a tool call: engine/stream_whole.py lowers the rest), and the helpers those lines call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, get_args

import msgspec

from .codegen import FunctionBuilder
from .gateway import FunctionCallDelta, ReasoningDetail, ToolCallDelta
from .lower_response import read_paths
from .response import call_text
from .response_pieces import call_field_checks
from .silent import part_bit
from .templates import lower_into, template_paths

__all__ = ["emit_piece"]

if TYPE_CHECKING:
    from .stream_whole import WholeResponseDecoder


def _call(st: WholeResponseDecoder, index: int, call: Any) -> ToolCallDelta:
    """A `tool_call` piece (an object: id, name, arguments, signature) as the delta of the choice's next call."""
    n = next(st.calls[index])
    return ToolCallDelta(index=n, id=call_text(call.get("id"), "id") or f"call_{index}_{n}", type="function",
                         signature=call_text(call.get("signature"), "signature"),
                         function=FunctionCallDelta(name=call_text(call.get("name"), "name"),
                                                    arguments=call_text(call.get("arguments"), "arguments") or "{}"))


def emit_piece(code: FunctionBuilder, kind: str, template: Any, index: str, declares: bool,
               truthy: str | None = None) -> None:
    """The lines evaluating one kind's template on the part `item` and gathering what it gives into the
    choice's `content`, `calls`, `details` and `reasoning`: a `text` str is content (with the piece's
    `reasoning`, a signature, as a detail), else a `tool_call` object is a call, else a `reasoning` object is
    a reasoning detail whose text is also the reasoning text. A template written as an object has its fields
    evaluated into locals (in order: transforms run and fail as they would building the object); any other
    template gives the piece object, whose fields are read. `declares`: the kind's template names pieces (a
    part it renders nothing for is recorded, silent.py). `truthy`: a key of the part known to be set here (the
    `present` key that named the kind): a field that is that key is never None."""
    where = ("response", "kinds", kind)
    call_fields: dict[str, str] | None = None  # a `tool_call` written as an object: its fields' locals
    detail_fields: dict[str, str] | None = None  # the same for a `reasoning` object
    if is_object_template(template):
        fields, call_fields, detail_fields, known = template_fields(code, template, where, truthy)
        _emit_spoke(code, kind, fields, known, declares)
    else:
        fields = {}
        piece = code.temp()
        code.line(f"{piece} = {lower_into(template, where, code)}")
        # (a piece that is nothing: its kind gave nothing for this part, see silent.py)
        if declares:
            code.line(f"if not {piece}: st.silent.record({code.bind(kind)}, {code.bind(kind)})")
        code.line(f"if type({piece}) is dict: st.silent.spoken.update({piece})")
        code.line(f"else: {piece} = {{}}")
        for key in ("text", "tool_call", "reasoning"):
            local = fields[key] = code.temp()
            code.line(f"{local} = {piece}.get({code.bind(key)})")
    text, call, reasoning = fields.get("text"), fields.get("tool_call"), fields.get("reasoning")
    detail = detail_expression(code, reasoning, detail_fields) if reasoning is not None else ""
    branches: list[tuple[str, list[str]]] = []
    if text is not None:
        branches.append(text_branch(text, reasoning, detail))
    if call is not None:
        if call_fields is None:
            body = [f"_c = {code.bind(_call)}(st, {index}, {call})"]
        else:  # what `_call` does, on the fields' locals (each a str or None: another type raises)
            get = call_fields.get
            body = call_field_checks(code, call_fields)
            body += [f"_n = {code.bind(next)}(counted[{index}])",  # (`st.calls`, read once per batch)
                    f"_c = {code.bind(ToolCallDelta)}(index=_n, id={get('id', 'None')} or f'call_{{{index}}}_{{_n}}', "
                    f"type='function', signature={get('signature', 'None')}, function={code.bind(FunctionCallDelta)}("
                    f"name={get('name', 'None')}, arguments={get('arguments', 'None')} or '{{}}'))"]
        body += ["if calls is None: calls = [_c]", "else: calls.append(_c)"]
        branches.append(("True" if call_fields is not None else f"{call} is not None", body))
    if reasoning is not None:
        body = [f"_d = {detail}",
                "reasoning = (reasoning or '') + (_d.text or '')",
                "if details is None: details = [_d]",
                "else: details.append(_d)"]
        branches.append(("True" if detail_fields is not None else f"{reasoning} is not None", body))
    for position, (test, body) in enumerate(branches):
        if test == "True" and position == 0:  # (a piece written as an object: its lines, without a branch)
            for line in body:
                code.line(line)
            break
        code.line(f"{'if' if position == 0 else 'elif'} {test}:")
        for line in body:
            code.line(f"    {line}")


def template_fields(code: FunctionBuilder, template: dict[Any, Any], where: tuple[str, ...], truthy: str | None
                    ) -> tuple[dict[str, str], dict[str, str] | None, dict[str, str] | None, set[str]]:
    """A kind's object template evaluated field by field into locals, in order (transforms run and fail as they
    would building the object): the locals by key (an object `tool_call` / `reasoning` is "True"), that
    call's and that reasoning's fields' locals, and the locals known never to be None (the `truthy` key).
    The fields of each object the template reads below the part are read under one type test first."""
    read_paths(code, sorted(path for path in template_paths(template) or () if len(path) > 1))
    fields: dict[str, str] = {}
    call_fields: dict[str, str] | None = None
    detail_fields: dict[str, str] | None = None
    for key, value in template.items():
        if str(key) in ("tool_call", "reasoning") and is_object_template(value):
            locals_ = {str(name): template_local(code, field, (*where, str(key), str(name)))
                       for name, field in value.items()}
            fields[str(key)] = "True"  # (an object template always gives an object)
            if str(key) == "tool_call":
                call_fields = locals_
            else:
                detail_fields = locals_
            continue
        fields[str(key)] = template_local(code, value, (*where, str(key)))
    known = {local for key, local in fields.items()
             if truthy is not None and template[key] in (f"${truthy}", f"$.{truthy}")}
    return fields, call_fields, detail_fields, known


def text_branch(text: str, reasoning: str | None, detail: str) -> tuple[str, list[str]]:
    """The branch of a piece that gives text: added to `content`, with the piece's reasoning detail (a
    signature) kept in `details` when its kind reads one. Shared by the stream and whole-response decoders."""
    body = [f"content = {text} if content is None else content + {text}"]
    if reasoning is not None:
        body += [f"if {reasoning} is not None:",
                 f"    _d = {detail}",
                 "    if details is None: details = [_d]",
                 "    else: details.append(_d)"]
    return f"type({text}) is str", body


def template_local(code: FunctionBuilder, template: Any, where: tuple[str, ...]) -> str:
    """A name holding the value of `template` (evaluated now, in order): the local or bound name its lowering
    gives (assigned once, never changed after), else a new local."""
    value = lower_into(template, where, code)
    if value.isidentifier():
        return value
    local = code.temp()
    code.line(f"{local} = {value}")
    return local


def _field_test(annotation: Any) -> str | None:
    """The test (`{}` for the value) that a value fits a field typed `annotation` as msgspec converts it: `str`,
    `int` (not a bool) or either or None; None for another type."""
    kinds = set(get_args(annotation)) if get_args(annotation) else {annotation}
    named = [f"type({{0}}) is {kind.__name__}" for kind in (str, int) if kind in kinds]
    if len(named) != 1 or not kinds <= {str, int, type(None)} or len(kinds - {type(None)}) != 1:
        return None
    return f"({{0}} is None or {named[0]})" if type(None) in kinds else named[0]


def _fits(annotation: Any, value: Any) -> bool:
    """What the test `_field_test` writes for `annotation` says of `value`."""
    kinds = set(get_args(annotation)) if get_args(annotation) else {annotation}
    return type(value) in kinds and type(value) is not bool


_DETAIL_TESTS = {field.encode_name: (field.name, _field_test(field.type), field.type)
                 for field in msgspec.structs.fields(ReasoningDetail)}


def _detail_of(names: tuple[str, ...], *values: Any) -> ReasoningDetail:
    """A reasoning detail from a piece's `reasoning` object: what msgspec converts the object its template
    builds into (its fields that are not None), with the same validation error for a value that does not fit."""
    return msgspec.convert({name: value for name, value in zip(names, values, strict=True) if value is not None},
                           ReasoningDetail)


def detail_expression(code: FunctionBuilder, local: str, fields: dict[str, str] | None) -> str:
    """The expression of the `ReasoningDetail` of a piece's `reasoning`: the object in `local` converted, or,
    for a `reasoning` written as an object (its fields' locals in `fields`), built from the locals when each
    fits its field's type (else converted as the object would be)."""
    if fields is None:
        return f"{code.bind(msgspec.convert)}({local}, {code.bind(ReasoningDetail)})"
    tests, kwargs = [], []
    for name, value in fields.items():
        field = _DETAIL_TESTS.get(name)
        if field is None:
            continue  # (a key the Struct has no field for: conversion ignores it)
        constant = value == "None" or value in code.namespace  # (a literal of the template: tested now)
        if field[1] is None or (constant and not _fits(field[2], code.namespace.get(value))):
            tests = ["False"]  # (a field of another type: always converted)
            break
        if not constant:
            tests.append(field[1].format(value))
        kwargs.append(f"{field[0]}={value}")
    fallback = f"{code.bind(_detail_of)}({code.bind(tuple(fields))}, {', '.join(fields.values())})"
    if tests == ["False"]:
        return fallback
    built = f"{code.bind(ReasoningDetail)}({', '.join(kwargs)})"
    return f"({built} if {' and '.join(tests)} else {fallback})" if tests else built


def _emit_spoke(code: FunctionBuilder, kind: str, fields: dict[str, str], known: set[str], declares: bool) -> None:
    """The lines recording what an object template's piece gave (the bits of its fields that are not None, in
    `spoke`, added to `st.spoke` when the frames are done), or, when every field is None, that its kind gave
    nothing for this part (silent.py). `known`: the locals known not to be None (with the fields written as
    objects, "True")."""
    fixed = sum(part_bit(key) for key, local in fields.items() if local == "True" or local in known)
    varying = [(part_bit(key), local) for key, local in fields.items() if local != "True" and local not in known]
    each = [f"if {local} is not None: spoke |= {bit}" for bit, local in varying]
    if declares and not fixed and varying:  # (the piece may give nothing)
        code.line(f"if {' and '.join(f'{local} is None' for _, local in varying)}: "
                  f"st.silent.record({code.bind(kind)}, {code.bind(kind)})")
        if len(varying) == 1:
            code.line(f"else: spoke |= {varying[0][0]}")
            return
        code.line("else:")
        for line in each:
            code.line(f"    {line}")
        return
    if fixed:
        code.line(f"spoke |= {fixed}")
    for line in each:
        code.line(line)


def is_object_template(template: Any) -> bool:
    """A template written as an object (not a `$op` / `$each` directive): it always gives an object."""
    return isinstance(template, dict) and not any(isinstance(key, str) and key.startswith("$") for key in template)
