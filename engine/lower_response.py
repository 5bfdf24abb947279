"""The response spec's per-choice reading, lowered into one generated function (see codegen.py).

`read_choice(raw, ctx) -> (index, pieces, finish)` reads one choice of a response (or of a whole-response
stream event): the raw value at `index:` (None without one), the unified pieces of its content parts, each
part's kind found as `kind_by` says and rendered by its kind's template, and the raw value at
`finish_reason.from`. Both the response decoder and the whole-response stream decoder call it, so there is one
reading of a choice, fast for every shape: paths of plain keys become `.get` lines, the `kind_by: present`
scan an `if/elif` chain over the keys, each kind's template a call of its own generated function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .codegen import FunctionBuilder
from .errors import InvalidRequestError, ProviderError
from .gateway import ChatCompletionMessageWithFinishReason, Choice
from .paths import compile_getter, plain_keys
from .silent import SILENT_KIND, response_warnings
from .templates import compile_template, lower_into, template_paths
from .transforms import Context
from .views import EACH, Views, view_type

ReadChoice = Callable[[Any, Context], tuple[Any, list[dict[str, Any]], Any]]


def _read(code: FunctionBuilder, holder: str, path: str) -> str:
    """Emit lines reading `path` from the local `holder` (the function's item: a view where the compiler
    decoded one, see views.py) as paths.py's getters do (None as soon as a step is missing or not an object);
    return the local holding the value. A path that is not plain keys is a call of its compiled getter."""
    keys = plain_keys(path)
    out = code.temp()
    if keys is None:
        code.line(f"{out} = {code.bind(compile_getter(path))}({holder})")
        return out
    for depth, key in enumerate(keys):
        code.line(f"{out} = {code.step(holder, keys[:depth], key)}")
        holder = out
    return out


def event_views(response_spec: Mapping[str, Any], stream_spec: Mapping[str, Any]) -> tuple[Any, Views] | None:
    """The view type of a whole-response stream event (views.py): the paths its top level, each choice and the
    usage map read. None when one of them is not plain keys, a template reads a whole object, or there is no
    `choices:` path (the event is its one choice): then events decode into dicts."""
    if "choices" not in response_spec:
        return None
    finish = dict(response_spec.get("finish_reason") or {"from": "finish_reason"})
    tops = [stream_spec.get("error_when"), response_spec.get("id", "id"), response_spec.get("model", "model"),
            (response_spec.get("blocked") or {}).get("when")]
    each = [response_spec.get("index"), response_spec.get("parts", "content"), finish["from"]]
    choices = plain_keys(str(response_spec["choices"]))
    paths: list[tuple[str, ...]] = []
    for path, under in [*((p, ()) for p in tops), *((p, (*(choices or ()), EACH)) for p in each)]:
        keys = plain_keys(str(path)) if path is not None else ()
        if keys is None or choices is None:
            return None
        if keys:
            paths.append((*under, *keys))
    for template in (response_spec.get("usage") or {}).values():
        found = template_paths(template)
        if found is None:
            return None
        paths.extend(found)
    return view_type(paths)


def lower_choice(spec: Mapping[str, Any], views: Views | None = None) -> ReadChoice:
    """The generated `read_choice` of a template-mode `response:` spec (`views`: a choice's view types)."""
    code = FunctionBuilder(("raw", "ctx"), "read_choice", views)
    index = _read(code, "raw", str(spec["index"])) if "index" in spec else "None"
    parts = _read(code, "raw", str(spec.get("parts", "content")))
    kinds = {str(kind): compile_template(template, ("response", "kinds", str(kind)))
             for kind, template in (spec.get("kinds") or {}).items()}
    kind_by = dict(spec.get("kind_by") or {"field": "type"})
    code.line("pieces = []")
    code.line(f"for part in {parts} or ():")
    if "field" in kind_by:
        field = str(kind_by["field"])
        keys = plain_keys(field)
        if keys is not None and len(keys) == 1:
            code.line(f"    kind = part.get({code.bind(keys[0])}) if type(part) is dict else None")
        else:
            code.line(f"    kind = {code.bind(compile_getter(field))}(part)")
        code.line(f"    render = {code.bind(kinds)}.get(kind if type(kind) is str else str(kind)) "
                  "if kind is not None else None")
        code.line(f"    if render is not None: pieces.append(render(part, ctx) or {{{code.bind(SILENT_KIND)}: kind}})")
    else:  # the first `present` key whose value is truthy names the kind; a kind without a template adds nothing
        code.line("    if type(part) is not dict: continue")
        for position, (key, kind) in enumerate(kind_by.get("present", ())):
            test = f"{'if' if position == 0 else 'elif'} part.get({code.bind(str(key))}):"
            render = kinds.get(str(kind))
            code.line(f"    {test} pieces.append({code.bind(render)}(part, ctx) or "  # (empty: a marker, silent.py)
                      f"{{{code.bind(SILENT_KIND)}: {code.bind(str(kind))}}})" if render is not None
                      else f"    {test} pass")
    finish = dict(spec.get("finish_reason") or {"from": "finish_reason"})
    reason = _read(code, "raw", str(finish["from"]))
    function: ReadChoice = code.build(f"{index}, pieces, {reason}")
    return function


def kinds_declared(spec: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """Each response part kind → the pieces its template declares (`{text}`, `{tool_call}`, ...)."""
    return {str(kind): frozenset(str(key) for key in template) if isinstance(template, dict) else frozenset()
            for kind, template in (spec.get("kinds") or {}).items()}


def lower_usage(fields: Mapping[str, Any], views: Views | None = None) -> Callable[[Any, Context], dict[str, int]]:
    """The `usage:` map as one generated function `read_usage(item, ctx) -> counts`: each count's template
    evaluated in order; an int kept, another number (a float, a bool) kept as its int, anything else left out.
    `views`: the item's view types."""
    code = FunctionBuilder(("item", "ctx"), "read_usage", views)
    code.line("out = {}")
    for key, template in fields.items():
        code.line(f"_n = {lower_into(template, ('response', 'usage', key), code)}")
        name = code.bind(key)
        code.line(f"if type(_n) is int: out[{name}] = _n")
        code.line(f"elif isinstance(_n, (int, float)): out[{name}] = int(_n)")
    function: Callable[[Any, Context], dict[str, int]] = code.build("out")
    return function


class _SilentContext(Context):
    """The context of a response decoder's templates, one per decoder: a response's warnings are never
    returned, so `warn` drops them (a list kept across calls would only grow)."""

    __slots__ = ()

    def warn(self, code: str, message: str, param: str | None = None) -> None:
        return None


def _blocked(reason: Any, data: Any, provider: str) -> InvalidRequestError:
    return InvalidRequestError(f"the prompt was blocked ({reason})", provider=provider, error_type=str(reason),
                               body=data)


def _not_a_list(choices: Any, provider: str) -> ProviderError:
    return ProviderError(f"the response's choices are a {type(choices).__name__}, not a list: {str(choices)[:80]!r}",
                         provider=provider)


def lower_response(spec: Mapping[str, Any], provider: str, translate: Callable[[Any, bool], str | None],
                   read_usage: Callable[[Any, Context], dict[str, int]], message: Callable[..., Any],
                   usage_of: Callable[..., Any], read_extras: Callable[[Any, Context], Any] | None = None
                   ) -> Callable[[Any, ReadChoice], Any]:
    """A template-mode `response:` spec as one generated function `decode_response(data, read_choice)`: the
    choices (or the body as the one choice), the `blocked` check, each choice read by `read_choice` into a
    message and its finish reason, the id, the model and the usage. `translate`, `read_usage`, `message`
    (`message_from_pieces`), `usage_of` (`build_usage`) and `read_extras` (extras.py; None: the spec declares
    no extras, and no line reads them) are the pieces it calls."""
    code = FunctionBuilder(("data", "read_choice"), "decode_response")
    name = code.bind(provider)
    code.line(f"ctx = {code.bind(_SilentContext(provider))}")
    choices = _read(code, "data", str(spec["choices"])) if "choices" in spec else "[data]"
    blocked = dict(spec.get("blocked") or {})
    if "when" in blocked:
        code.line(f"if not {choices}:")
        code.indent = "    "
        reason = _read(code, "data", str(blocked["when"]))
        code.line(f"if {reason}: raise {code.bind(_blocked)}({reason}, data, {name})")
        code.indent = ""
    code.line(f"if {choices} and type({choices}) is not list: raise {code.bind(_not_a_list)}({choices}, {name})")
    code.line("choices = []")
    code.line("silent = None")
    code.line(f"for position, raw in enumerate({choices} or ()):")
    code.line("    index, pieces, reason = read_choice(raw, ctx)")
    code.line("    if not isinstance(index, int): index = position")
    code.line(f"    message = {code.bind(message)}(pieces, index)")
    code.line("    for piece in pieces:")  # a kind's template rendered nothing: see silent.py
    code.line(f"        if {code.bind(SILENT_KIND)} in piece:")
    code.line("            silent = [*(silent or ()), (pieces, message)]")
    code.line("            break")
    code.line(f"    choices.append({code.bind(Choice)}(message=message, index=index, "
              f"finish_reason={code.bind(translate)}(reason, bool(message.tool_calls))))")
    ident = _read(code, "data", str(spec.get("id", "id")))
    model = _read(code, "data", str(spec.get("model", "model")))
    result = (f"{code.bind(ChatCompletionMessageWithFinishReason)}(choices=choices, "
              f"id=str({ident}) if {ident} is not None else None, "
              f"model=str({model}) if {model} is not None else None, "
              f"usage={code.bind(usage_of)}({code.bind(read_usage)}(data, ctx)), provider={name}, "
              f"warnings={code.bind(response_warnings)}(silent, {code.bind(kinds_declared(spec))}) if silent else []"
              + (f", extras={code.bind(read_extras)}(data, ctx))" if read_extras is not None else ")"))
    function: Callable[[Any, ReadChoice], Any] = code.build(result)
    return function


EventTop = Callable[[Any], tuple[Any, Any, Any, Any, Any, Any]]


def lower_event_top(response_spec: Mapping[str, Any], stream_spec: Mapping[str, Any],
                    usage_roots: tuple[str, ...] | None, views: Views | None = None) -> EventTop:
    """What a whole-response stream event's top level holds, as one generated function `read_event_top(data)
    -> (error, choices, id, model, usage inputs, blocked)`: the value at `error_when`, the choices (or
    `[data]`), the id and the model, what its usage read depends on (the values at the usage map's top-level
    keys, see `UsageMap.inputs`; None when that cannot be told) and, when there are no choices, the value at
    `blocked.when` (else None). `views`: the event's view types."""
    code = FunctionBuilder(("data",), "read_event_top", views)
    error = _read(code, "data", str(stream_spec["error_when"])) if "error_when" in stream_spec else "None"
    choices = _read(code, "data", str(response_spec["choices"])) if "choices" in response_spec else "[data]"
    ident = _read(code, "data", str(response_spec.get("id", "id")))
    model = _read(code, "data", str(response_spec.get("model", "model")))
    if usage_roots is None:
        inputs = "None"
    else:
        values = "".join(f"({code.step('data', (), root)}), " for root in usage_roots)
        inputs = f"({values})"
    when = (response_spec.get("blocked") or {}).get("when")
    blocked = "None"
    if when:
        code.line(f"if not {choices}:")
        code.indent = "    "
        reason = _read(code, "data", str(when))
        code.indent = ""
        code.line("else:")
        code.line(f"    {reason} = None")
        blocked = reason
    function: EventTop = code.build(f"{error}, {choices}, {ident}, {model}, {inputs}, {blocked}")
    return function
