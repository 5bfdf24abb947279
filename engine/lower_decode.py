"""A template-mode `response:` spec lowered into one generated function, `decode_response(body)`.

The body is decoded into view Structs holding only the fields the mapping reads (`response_views`, views.py:
msgspec skips every other field in C instead of building dicts for it), then read by the generated lines: the
choices (or the body as the one choice), the `blocked` check, in each choice its index, its content parts
(each part's kind found as `kind_by` says, `emit_parts`, and what its kind's template gives gathered into the
message, response_pieces.py) and its finish reason; then the id, the model, the usage (its `Usage` built in
the lines, `_emit_usage`) and the extras. A spec whose reads cannot be viewed (a path that is not plain keys,
a template reading the whole body) reads plain decoded dicts with the same lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

import msgspec

from .codegen import OBJECT, FunctionBuilder
from .decode_extras import emit_extras, extra_read, extras_paths, projection_path
from .gateway import (
    ChatCompletionMessage,
    ChatCompletionMessageWithFinishReason,
    Choice,
    CompletionTokensDetails,
    PromptTokensDetails,
    TextContent,
    Usage,
)
from .lower_response import (
    _blocked,
    _not_a_list,
    _SilentContext,
    kinds_declared,
    object_keys,
    part_paths,
    parts_not_a_list,
    read_fields,
    read_path,
    read_paths,
)
from .paths import compile_getter, plain_keys
from .response_pieces import emit_finish, emit_message_piece, reasoning_text
from .silent import response_warnings
from .stream_base import STRAY
from .templates import lower_into, template_paths
from .views import EACH, Views, relative, view_type

if TYPE_CHECKING:
    from .response import FinishMap

__all__ = ["lower_response", "response_views"]

_ASSISTANT = ChatCompletionMessage(role="assistant")
"""The empty message each response's message is a copy of (`lower_response`); never handed out itself. Its fields
are None but `role`, a str: a shallow copy shares nothing mutable with it."""

USAGE_COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "cache_creation_tokens",
                "reasoning_tokens")
"""The counts of the `usage:` map the unified `Usage` holds (`response.usage_from`'s arguments)."""


def blocked_when(spec: Mapping[str, Any]) -> str | None:
    """The path of the `blocked` check's reason (a body without choices whose prompt was blocked), if any."""
    when = (spec.get("blocked") or {}).get("when")
    return str(when) if when is not None and "choices" in spec else None


def _roots(templates: Iterable[Any]) -> list[str]:
    """The top-level keys `templates` read (each key a path of its own, for `read_fields`)."""
    out: list[str] = []
    for template in templates:
        how, what = extra_read(template)
        if how == "paths":
            out.extend(path[0] for path in what if path)
        elif how == "steps" and isinstance(what[0], str):
            out.append(what[0])
        elif how in ("tested", "projection"):
            out.append(what[0][0])
        elif how == "roots":
            out.extend(what)
    return [key for key in dict.fromkeys(out) if plain_keys(key) == (key,)]


def response_views(spec: Mapping[str, Any]) -> tuple[Any, Views] | None:
    """The view type of a response body (views.py): the paths its top level, each choice, each content part
    (kind detection and kind templates), the usage map and the extras read; None when one of them is not plain
    keys (or an extra reads the whole body): the body then decodes into dicts. Parts read whole stay plain
    values."""
    one = "choices" not in spec
    choices = () if one else plain_keys(str(spec["choices"]))
    parts = plain_keys(str(spec.get("parts", "content")))
    if choices is None or parts is None:
        return None
    each = () if one else (*choices, EACH)
    finish = dict(spec.get("finish_reason") or {"from": "finish_reason"})
    tops = [spec.get("id", "id"), spec.get("model", "model"), (spec.get("blocked") or {}).get("when")]
    paths: list[tuple[str, ...]] = []
    for path, under in [*((p, ()) for p in tops), *((p, each) for p in (spec.get("index"), finish["from"]))]:
        keys = plain_keys(str(path)) if path is not None else ()
        if keys is None:
            return None
        if keys:
            paths.append((*under, *keys))
    in_part = part_paths(spec)
    paths.extend([(*each, *parts)] if in_part is None else [(*each, *parts, EACH, *path) for path in in_part])
    for template in (spec.get("usage") or {}).values():
        found = template_paths(template)
        if found is None:
            return None
        paths.extend(found)
    for template in (spec.get("extras") or {}).values():
        how, what = extra_read(template)
        if how == "whole":
            return None
        if how == "paths":
            paths.extend(what)
        elif how == "steps":
            paths.append(tuple(EACH if isinstance(key, int) else key for key in what))
        elif how == "tested":
            paths.append((*what[0], EACH, what[1]))
        elif how == "projection":
            paths.append(projection_path(*what))
        else:
            paths.extend((root,) for root in what)
    return view_type(paths)


def emit_parts(code: FunctionBuilder, spec: Mapping[str, Any], parts: str, part_views: Views,
               branch: Callable[[str, Any, str, str | None], None]) -> None:
    """Emit the loop over the content parts in the local `parts` (a choice's; each part's view types
    `part_views`): each part (`item`) has its kind found as `kind_by` says, and `branch(kind, template, marker,
    truthy)` emits that kind's lines (`marker`: the expression naming the kind; `truthy`: the part's key known
    to be set there, if any). A kind without a template adds nothing."""
    from .stream_whole import present_test  # (compile time only: that module imports this one's importers)

    kinds = {str(kind): template for kind, template in (spec.get("kinds") or {}).items()}
    kind_by = dict(spec.get("kind_by") or {"field": "type"})
    part_view = part_views.get(())
    indent = code.indent
    code.line(f"if {parts} and type({parts}) is not list: {code.bind(parts_not_a_list)}({parts})")
    code.line(f"for item in {parts} or ():")
    code.indent = indent + "    "
    branches: list[tuple[str, str, str, str | None, str | None]] = []
    if "field" in kind_by:
        field = str(kind_by["field"])
        keys = plain_keys(field)
        known = keys is not None  # (a kind read by keys: the item is an object, its view where there is one)
        if keys is not None:
            code.line(f"kind = {read_path(code, 'item', field, part_views)}")
        else:
            code.line(f"kind = {code.bind(compile_getter(field))}(item)")
        code.line("if type(kind) is str: name = kind")  # (the usual kind: one test)
        code.line("elif kind is None: continue")
        code.line("else: name = str(kind)")
        branches = [(f"name == {code.bind(kind)}", kind, "name", None, None) for kind in kinds]
    else:  # the first `present` key (`object_keys`) names the kind
        code.line(f"if type(item) is not {code.bind(part_view[0]) if part_view is not None else 'dict'}: continue")
        known = True
        objects = object_keys(spec)
        for key, kind in kind_by.get("present", ()):
            if part_view is not None:
                test = present_test(code, str(key), objects.get(str(key)), part_views)
            else:
                test = f"item.get({code.bind(str(key))})"
                if str(key) in objects:
                    inner = " or ".join(f"_o.get({code.bind(name)}) is not None" for name in objects[str(key)])
                    test = f"(({inner}) if type(_o := {test}) is dict else _o)"
            branches.append((test, str(kind), code.bind(str(kind)), None if str(key) in objects else str(key),
                             str(key) if str(key) in objects and "_o := " in test else None))
    for position, (test, kind, marker, truthy, held) in enumerate(branches):
        code.line(f"{'if' if position == 0 else 'elif'} {test}:")
        template = kinds.get(kind)
        code.indent = indent + "        "
        if template is None:
            code.line("pass")
        else:
            code.reads = {}  # (what one branch read is not read in another)
            if held is not None:
                code.reads[(held,)] = "_o"  # (the kind's test read it)
            if known and part_view is not None:  # (the item is its view: its fields read without a test)
                code.known.add("item")
            elif known:  # (straight-line code in the branch: each object read is tested once, the item not again)
                code.reads[OBJECT, "item"] = "item"
                code.dicts = True
            branch(kind, template, marker, truthy)
            code.dicts = False
            code.known.discard("item")
            code.reads = {}
        code.indent = indent + "    "
    code.indent = indent


def lower_response(spec: Mapping[str, Any], provider: str, finish: FinishMap, usage_fields: Mapping[str, Any],
                   extras_fields: Mapping[str, Any] | None, views: Views | None, decoder: Callable[[bytes], Any],
                   not_json: Callable[[bytes, str], Any], malformed: Callable[[BaseException, str], Exception]
                   ) -> Callable[[bytes], Any]:
    """The generated `decode_response(body)` of a template-mode `response:` spec (see the module docstring):
    the body's bytes are decoded by `decoder` into `data`, the view types `views` (`response_views`; None:
    plain dicts); `body` is decoded again as plain data only where an error or extra needs it. `finish` is the
    spec's `FinishMap` (lowered inline), `usage_fields` its `usage:` map, `extras_fields` its `extras`. A body
    that is not JSON raises what `not_json(body, provider)` raises; a field of the wrong type, what
    `malformed(exc, provider)` gives (raised from the exception). One function, one frame per response."""
    views = views or {}
    code = FunctionBuilder(("body",), "decode_response")
    name = code.bind(provider)
    code.line(f"ctx = {code.bind(_SilentContext(provider))}")
    one = "choices" not in spec  # (the body is the one choice: its lines once, no loop)
    choices_keys = () if one else plain_keys(str(spec["choices"]))
    each = () if one else (*(choices_keys or ("?",)), EACH)
    parts_keys = plain_keys(str(spec.get("parts", "content")))
    choice_views = relative(views, each)
    part_views = relative(views, (*each, *(parts_keys or ("?",)), EACH)) if parts_keys is not None else {}
    finish_from = str(dict(spec.get("finish_reason") or {"from": "finish_reason"})["from"])
    choice_paths = [str(path) for path in (spec.get("index"), spec.get("parts", "content"), finish_from) if path]
    first = read_fields(code, "data", views, [  # (the top-level values read, under one type test)
        *(str(spec[key]) for key in ("choices",) if key in spec), *(choice_paths if one else ()),
        *(str(path) for path in (spec.get("id", "id"), spec.get("model", "model"), blocked_when(spec)) if path),
        *_roots(usage_fields.values()), *_roots((extras_fields or {}).values())])
    choices = read_path(code, "data", str(spec["choices"]), views, first) if not one else "[data]"
    blocked = dict(spec.get("blocked") or {})
    if "when" in blocked and not one:
        code.line(f"if not {choices}:")
        code.indent = "    "
        reason = read_path(code, "data", str(blocked["when"]), views, first)
        plain = f"{code.bind(msgspec.json.decode)}(body)" if views else "data"  # (the error carries plain data)
        code.line(f"if {reason}: raise {code.bind(_blocked)}({reason}, {plain}, {name})")
        code.indent = ""
    if not one:
        code.line(f"if {choices} and type({choices}) is not list: raise {code.bind(_not_a_list)}({choices}, {name})")
    code.line("silent = None")
    if one:
        code.line("raw = data")
    else:
        code.line("choices = []")
        code.line("position = -1")  # (a counter, not `enumerate`: no iterator object and tuple per response)
        code.line(f"for raw in {choices} or ():")
        code.indent = "    "
        code.line("position += 1")
    code.reads = {}
    # (the body is the choice: its top-level values are read; else a choice's, under one type test)
    in_choice = first if one else read_fields(code, "raw", choice_views, choice_paths)
    index = read_path(code, "raw", str(spec["index"]), choice_views, in_choice) if "index" in spec else None
    start = "0" if one else "position"
    code.line(f"index = {index} if type({index}) is int else {start}" if index is not None else f"index = {start}")
    parts = read_path(code, "raw", str(spec.get("parts", "content")), choice_views, in_choice)
    code.line("content = calls = details = refusal = quiet = None")
    answers = frozenset(str(tool) for tool in spec.get("answer_tools") or ())
    declared = kinds_declared(spec)
    with code.other_item(part_views, {}):
        emit_parts(code, spec, parts, part_views, lambda kind, template, marker, truthy: emit_message_piece(
            code, kind, template, marker, answers, bool(declared.get(kind)), truthy))
    reason = read_path(code, "raw", finish_from, choice_views, in_choice)
    # The message in its built form: a copy of an empty assistant message, the fields gathered set on it (the
    # content wrapped as the constructor's `__post_init__` wraps a str), without a Python call of the constructor
    code.line(f"message = {code.bind(cast(Any, _ASSISTANT).__copy__)}()")
    code.line(f"if content is not None: message.content = {code.bind(TextContent)}(content)")
    code.line("if calls is not None: message.tool_calls = calls")
    code.line(f"if details is not None: message.reasoning = {code.bind(reasoning_text)}(details); "
              "message.reasoning_details = details")
    code.line("if refusal is not None: message.refusal = refusal")
    code.line("if quiet is not None: silent = [*(silent or ()), (quiet, message)]")  # (see silent.py)
    finished = emit_finish(code, finish, reason, "calls")
    choice = f"{code.bind(Choice)}(message=message, index=index, finish_reason={finished})"
    code.line(f"choices = [{choice}]" if one else f"choices.append({choice})")
    code.indent = ""
    code.reads = {}
    ident = read_path(code, "data", str(spec.get("id", "id")), views, first)
    model = read_path(code, "data", str(spec.get("model", "model")), views, first)
    code.line("item = data")  # (what the usage and extras templates read)
    with code.other_item(views, {(key,): local for key, local in first.items()}):
        code.dicts = True  # (straight-line code from here: the usage and extras lines share their reads)
        usage = _emit_usage(code, usage_fields, extras_paths(extras_fields or {}) if views else ())
        extras = emit_extras(code, extras_fields or {}, views, first) if extras_fields else None
        code.dicts = False
    text = code.bind(str)
    result = (f"{code.bind(ChatCompletionMessageWithFinishReason)}(choices=choices, "
              f"id={ident} if type({ident}) is str or {ident} is None else {text}({ident}), "
              f"model={model} if type({model}) is str or {model} is None else {text}({model}), "
              f"usage={usage}, provider={name}, "
              f"warnings={code.bind(response_warnings)}(silent, {code.bind(declared)}) if silent else []"
              + (f", extras={extras})" if extras is not None else ")"))
    code.lines = [  # (the decode and the reading in the function itself: no frame of their own per response)
        "try:", f"    data = {code.bind(decoder)}(body)",
        f"except {code.bind(msgspec.DecodeError)}:",
        f"    {code.bind(not_json)}(body, {name})  # raises with a preview when it is not JSON at all", "    raise",
        "try:", *(f"    {line}" for line in code.lines), f"    return {result}",
        f"except {code.bind(STRAY)} as exc:  # (a field of the wrong type: a ProviderError saying what was wrong)",
        f"    raise {code.bind(malformed)}(exc, {name}) from exc"]
    function: Callable[[bytes], Any] = code.build("")
    return function


def _emit_usage(code: FunctionBuilder, fields: Mapping[str, Any], also: Iterable[tuple[str, ...]] = ()) -> str:
    """Emit the lines reading each count of the `usage:` map `fields` from `item` into a local (an int, a
    number as its int, else None: what `read_usage` keeps in its dict), then the `Usage` of those counts as
    `response.usage_from` builds it (a count the map does not declare is None: its tests are left out); return
    the local holding it (None when the map gave no count at all, as `build_usage` of an empty dict). `also`:
    the key paths the extras read after, read with the counts (one type test per holder)."""
    if not fields:
        return "None"
    read_paths(code, sorted({path for template in fields.values() for path in template_paths(template) or ()}),
               also)
    counts: dict[str, str] = {}
    for key, template in fields.items():
        local = counts[str(key)] = code.temp()
        code.line(f"{local} = {lower_into(template, ('response', 'usage', str(key)), code)}")
        code.line(f"if type({local}) is not int: {local} = int({local}) "
                  f"if {local} is not None and isinstance({local}, (int, float)) else None")
    out, prompt, completion = code.temp(), code.temp(), code.temp()
    code.line(f"if {' or '.join(f'{local} is not None' for local in counts.values())}:")
    for local, name in ((prompt, "prompt_tokens"), (completion, "completion_tokens")):
        count = counts.get(name)
        code.line(f"    {local} = {count} if {count} is not None else 0" if count else f"    {local} = 0")
    total = counts.get("total_tokens")
    cached, created = counts.get("cached_tokens"), counts.get("cache_creation_tokens")
    reasoning = counts.get("reasoning_tokens")
    prompt_details = "None" if not cached and not created else (
        f"{code.bind(PromptTokensDetails)}(cached_tokens={cached or 'None'}, "
        f"cache_creation_tokens={created or 'None'}) "
        f"if {' or '.join(f'{local} is not None' for local in (cached, created) if local)} else None")
    completion_details = "None" if not reasoning else (
        f"{code.bind(CompletionTokensDetails)}(reasoning_tokens={reasoning}) if {reasoning} is not None else None")
    code.line(f"    {out} = {code.bind(Usage)}(prompt_tokens={prompt}, completion_tokens={completion}, "
              f"total_tokens={f'{total} if {total} is not None else ' if total else ''}{prompt} + {completion}, "
              f"prompt_tokens_details={prompt_details}, completion_tokens_details={completion_details})")
    code.line(f"else: {out} = None")
    return out
