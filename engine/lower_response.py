"""The readers the response spec's generated functions share (see codegen.py).

A whole response's `decode_response` (lower_decode.py) and a whole-response stream's event handler
(stream_whole.py) are lowered from the same spec with the same readers (`read_path`, `read_fields`,
`part_paths`, `object_keys`) and view types (views.py, `event_views`): paths of plain keys become `.get`
lines, or attribute reads of a view. `read_usage` reads the `usage:` map (`usage_lines`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .codegen import FunctionBuilder
from .errors import InvalidRequestError, ProviderError
from .paths import compile_getter, is_simple, plain_keys, split_path
from .templates import calls_out, lower_into, template_paths
from .transforms import Context
from .views import EACH, Views, relative, view_type


def step(code: FunctionBuilder, holder: str, views: Views, prefix: tuple[str, ...], key: str) -> str:
    """The expression reading `key` from the local `holder`, the value at key path `prefix` of a value whose
    view types are `views` (`FunctionBuilder.step` for a value other than the function's item)."""
    view = views.get(prefix)
    if view is not None:
        return f"{holder}.{view[1][key]} if type({holder}) is {code.bind(view[0])} else None"
    return f"{holder}.get({code.bind(key)}) if type({holder}) is dict else None"


def read_path(code: FunctionBuilder, holder: str, path: str, views: Views | None,
              first: Mapping[str, str] | None = None) -> str:
    """`_read` from a local whose view types are `views` (None: those of the function's item). `first`: the
    locals already holding the holder's fields (`read_fields`), by key."""
    keys = plain_keys(path)
    out = code.temp()
    if keys is None:
        code.line(f"{out} = {code.bind(compile_getter(path))}({holder})")
        return out
    if first is not None and keys[0] in first:
        if len(keys) == 1:
            return first[keys[0]]
        head = keys[0]
        code.line(f"{out} = {first[head]}")
        holder, keys = out, keys[1:]
        views = relative(views, (head,)) if views is not None else None
    for depth, key in enumerate(keys):
        expr = code.step(holder, keys[:depth], key) if views is None else step(code, holder, views, keys[:depth], key)
        code.line(f"{out} = {expr}")
        holder = out
    return out


def read_fields(code: FunctionBuilder, holder: str, views: Views, paths: list[str]) -> dict[str, str]:
    """Emit the reads of the first key of each of `paths` (plain keys) from the local `holder`, a value whose
    view types are `views`, under one type test; return the local of each key (see `read_path`'s `first`)."""
    keys = list(dict.fromkeys(found[0] for path in paths if (found := plain_keys(path))))
    if not keys:
        return {}
    out = {key: code.temp() for key in keys}
    view = views.get(())
    if view is not None:
        code.line(f"if type({holder}) is {code.bind(view[0])}:")
        for key in keys:
            code.line(f"    {out[key]} = {holder}.{view[1][key]}")
    else:
        code.line(f"if type({holder}) is dict:")
        for key in keys:
            code.line(f"    {out[key]} = {holder}.get({code.bind(key)})")
    code.line("else:")
    code.line(f"    {' = '.join(out.values())} = None")
    return out


def part_paths(spec: Mapping[str, Any], text: set[tuple[str, ...]] | None = None
               ) -> list[tuple[str, ...]] | None:
    """The key paths of a content part that the kind detection and the kind templates read (its view);
    None when one of them reads the part whole or is not plain keys. A `present` key read as an object
    (`object_keys`) is read through the paths below it. With `text`, the paths read only as JSON text go there
    (see `templates.template_paths`)."""
    kind_by = dict(spec.get("kind_by") or {"field": "type"})
    paths: list[tuple[str, ...]] = []
    if "field" in kind_by:
        keys = plain_keys(str(kind_by["field"]))
        if keys is None:
            return None
        paths.append(keys)
    else:
        objects = object_keys(spec)
        paths.extend((str(key),) for key, _ in kind_by.get("present", ()) if str(key) not in objects)
    found_text: set[tuple[str, ...]] = set()
    for template in (spec.get("kinds") or {}).values():
        found = template_paths(template, found_text)
        if found is None:
            return None
        paths.extend(found)
    if text is None:
        paths.extend(found_text)
    else:
        text |= found_text - set(paths)  # (a path also read as a value is decoded)
    return paths


def object_keys(spec: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The `kind_by: present` keys whose value the kind templates read only below it, as an object: each with
    the keys they read in it. Such a key is present when its value is an object holding one of those keys (not
    null), or is another value that is truthy; any other present key, when its value is truthy."""
    kind_by = dict(spec.get("kind_by") or {})
    reads: set[tuple[str, ...]] = set()
    for template in (spec.get("kinds") or {}).values():
        found = template_paths(template)
        if found is None:
            return {}
        reads |= found
    out: dict[str, tuple[str, ...]] = {}
    for key, _ in kind_by.get("present", ()):
        below = sorted(path for path in reads if path[0] == str(key))
        if below and all(len(path) > 1 for path in below):
            out[str(key)] = tuple(dict.fromkeys(path[1] for path in below))
    return out


ExtraRead = tuple[str, tuple[str, ...], int | None, tuple[str, ...]]
"""An extra read from a view: (name, key path from the event, or the choice index and the key path from that
choice; see `extras_reads`)."""


def extras_reads(fields: Mapping[str, Any] | None, response_spec: Mapping[str, Any]) -> list[ExtraRead] | None:
    """How a whole-response stream's extras are read from the event's views, when every extra is one path: of
    plain keys from the event (`$usageMetadata.x`: `(name, keys, None, ())`), or of plain keys from one choice
    (`$candidates[0].groundingMetadata`: `(name, (), 0, keys)`). None when an extra is anything else (it is
    then read from the event's text, extras.py) or there is none."""
    if not fields:
        return None
    choices = plain_keys(str(response_spec["choices"])) if "choices" in response_spec else None
    out: list[ExtraRead] = []
    for name, template in fields.items():
        if not isinstance(template, str) or not template.startswith("$") or template.startswith("$$"):
            return None
        path = template[1:].lstrip(".")
        if not path or not is_simple(path):
            return None
        steps = split_path(path)
        if all(isinstance(step, str) for step in steps):
            out.append((str(name), tuple(str(step) for step in steps), None, ()))
            continue
        if choices is None or len(steps) <= len(choices) + 1 or tuple(steps[:len(choices)]) != choices:
            return None
        index, rest = steps[len(choices)], steps[len(choices) + 1:]
        if not isinstance(index, int) or not all(isinstance(step, str) for step in rest):
            return None
        out.append((str(name), (), index, tuple(str(step) for step in rest)))
    return out


def event_views(response_spec: Mapping[str, Any], stream_spec: Mapping[str, Any],
                extras: list[ExtraRead] | None = None) -> tuple[Any, Views] | None:
    """The view type of a whole-response stream event (views.py): the paths its top level, each choice, each
    content part (kind detection and kind templates) and the usage map read. None when a top-level, choice or
    usage path is not plain keys or a usage template reads a whole object, or there is no `choices:` path (the
    event is its one choice): then events decode into dicts. A part read whole stays a plain value."""
    if "choices" not in response_spec:
        return None
    finish = dict(response_spec.get("finish_reason") or {"from": "finish_reason"})
    tops = [stream_spec.get("error_when"), response_spec.get("id", "id"), response_spec.get("model", "model"),
            (response_spec.get("blocked") or {}).get("when")]
    each = [response_spec.get("index"), finish["from"]]
    choices = plain_keys(str(response_spec["choices"]))
    parts = plain_keys(str(response_spec.get("parts", "content")))
    paths: list[tuple[str, ...]] = []
    for path, under in [*((p, ()) for p in tops), *((p, (*(choices or ()), EACH)) for p in each)]:
        keys = plain_keys(str(path)) if path is not None else ()
        if keys is None or choices is None:
            return None
        if keys:
            paths.append((*under, *keys))
    if parts is None or choices is None:
        return None
    under = (*choices, EACH, *parts)
    text: set[tuple[str, ...]] = set()
    in_part = part_paths(response_spec, text)
    paths.extend([under] if in_part is None else [(*under, EACH, *path) for path in in_part])
    for template in (response_spec.get("usage") or {}).values():
        found = template_paths(template)
        if found is None:
            return None
        paths.extend(found)
    for _, keys, index, rest in extras or ():  # (each read whole: a plain value in the view)
        paths.append(keys if index is None else (*choices, EACH, *rest))
    return view_type(paths, [(*under, EACH, *path) for path in text] if in_part is not None else ())


def parts_not_a_list(parts: Any) -> None:
    """Raised for a choice whose content parts are neither a list nor empty (a string would be read character
    by character); the decoder turns it into a ProviderError / StreamError naming the provider."""
    raise TypeError(f"a choice's content parts are a {type(parts).__name__}, not a list")


def kinds_declared(spec: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """Each response part kind → the pieces its template declares (`{text}`, `{tool_call}`, ...)."""
    return {str(kind): frozenset(str(key) for key in template) if isinstance(template, dict) else frozenset()
            for kind, template in (spec.get("kinds") or {}).items()}


def lower_usage(fields: Mapping[str, Any], views: Views | None = None) -> Callable[[Any, Context], dict[str, int]]:
    """The `usage:` map as one generated function `read_usage(item, ctx) -> counts` (`usage_lines` on a new
    dict, every count evaluated)."""
    code = FunctionBuilder(("item", "ctx"), "read_usage", views)
    code.line("usage = {}")
    usage_lines(fields, code, incremental=False)
    function: Callable[[Any, Context], dict[str, int]] = code.build("usage")
    return function


def usage_lines(fields: Mapping[str, Any], code: FunctionBuilder, incremental: bool) -> int:
    """Emit the `usage:` map's lines into `code` (its item is `item`, the counts go into the local `usage`):
    each count's template evaluated in order, an int stored in `usage`, another number (a float, a bool)
    stored as its int, anything else left as it was. Return the size of the `seen` list they use.

    `incremental` (a stream's `usage` kept across events, whose every event may carry a usage block with
    growing counts): a count whose template calls a transform is evaluated again only when the values it
    reads differ from those it read last time (kept in its slot of the local `seen`): templates are functions
    of what they read, so the same inputs give the value `usage` already holds (or, left out, left it as it
    was). A template lowered to plain lines (a reference, a `sum` written inline) costs less than that test."""
    _prefetch(code, [path for template in fields.values() for path in sorted(template_paths(template) or ())])
    inputs: dict[str, list[str]] = {}
    for key, template in fields.items():  # every value a count reads, read once, first
        paths = template_paths(template)
        if not incremental or paths is None or not calls_out(template):
            continue  # (reads the whole item, or costs less than the test: evaluated every time)
        inputs[key] = [_read_once(code, path) for path in sorted(paths)]
    slots = 0
    for key, template in fields.items():
        name = code.bind(key)
        reads = inputs.get(key)
        indent = code.indent
        if reads is not None:
            code.line(f"_k = ({''.join(f'{local}, ' for local in reads)})")
            code.line(f"if _k != seen[{slots}]:")
            code.line(f"    seen[{slots}] = _k")
            slots += 1
            code.indent = indent + "    "
        before = dict(code.reads)
        code.line(f"_n = {lower_into(template, ('response', 'usage', key), code)}")
        code.line(f"if type(_n) is int: usage[{name}] = _n")
        code.line(f"elif _n is not None and isinstance(_n, (int, float)): usage[{name}] = int(_n)")
        if reads is not None:
            code.reads = before  # (a local read in the branch is not assigned when it is skipped)
            code.indent = indent
    return slots


def read_paths(code: FunctionBuilder, paths: list[tuple[str, ...]],
               also: Iterable[tuple[str, ...]] = ()) -> list[str]:
    """Emit the reads of key paths from `item` not read yet (a view's fields under one type test); return the
    local holding each path's value. `also`: paths read later (by other templates), read with them here."""
    _prefetch(code, [*paths, *also])
    return [_read_once(code, path) for path in paths]


def _prefetch(code: FunctionBuilder, paths: list[tuple[str, ...]]) -> None:
    """Emit the reads of `paths` (key paths from `item`) whose holder is a view Struct, the fields of each holder
    under one type test, into locals the templates lowered after use (`code.reads`). A path's steps through
    views are read so too (`usage.cache_creation` with `usage`'s counts, then its own fields under one test)."""
    wanted: dict[tuple[str, ...], list[str]] = {}
    for path in paths:
        for depth in range(2, len(path) + 1):
            sub = path[:depth]
            if sub not in code.reads and sub[:-1] in code.views:
                keys = wanted.setdefault(sub[:-1], [])
                if sub[-1] not in keys:
                    keys.append(sub[-1])
    for parent, keys in sorted(wanted.items(), key=lambda found: len(found[0])):  # (a holder before its fields)
        holder = _read_once(code, parent)
        view, attributes = code.views[parent]
        locals_ = [code.reads.setdefault((*parent, key), code.temp()) for key in keys]
        code.line(f"if type({holder}) is {code.bind(view)}:")
        for key, local in zip(keys, locals_, strict=True):
            code.line(f"    {local} = {holder}.{attributes[key]}")
        code.line("else:")
        code.line(f"    {' = '.join(locals_)} = None")


def _read_once(code: FunctionBuilder, path: tuple[str, ...]) -> str:
    """Emit the reads of key path `path` from `item` not emitted yet (shared with the templates lowered after,
    see `templates.lower_into`); return the local holding its value."""
    holder = "item"
    for depth in range(1, len(path) + 1):
        local = code.reads.get(path[:depth])
        if local is None:
            local = code.reads[path[:depth]] = code.temp()
            code.line(f"{local} = {code.step(holder, path[:depth - 1], path[depth - 1])}")
        holder = local
    return holder


class _SilentContext(Context):
    """The context of a response decoder's templates, one per decoder: a response's warnings are never
    returned, so `warn` drops them (a list kept across calls would only grow)."""

    def warn(self, code: str, message: str, param: str | None = None) -> None:
        return None


def _blocked(reason: Any, data: Any, provider: str) -> InvalidRequestError:
    return InvalidRequestError(f"the prompt was blocked ({reason})", provider=provider, error_type=str(reason),
                               body=data)


def _not_a_list(choices: Any, provider: str) -> ProviderError:
    return ProviderError(f"the response's choices are a {type(choices).__name__}, not a list: {str(choices)[:80]!r}",
                         provider=provider)
