"""The extras of a template-mode response, read by the generated `decode_response` (lower_decode.py).

Why its own module: an extra is any template, and reading one through the body's views (views.py) takes a
form per template shape (`extra_read`): plain key paths, a path with list indexes, a flatten projection, a
transform keeping a list's items by a field, or whole top-level values. Each form is lowered here into
straight-line code that shares what it reads with the usage lines and with the extras read before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import msgspec

from .codegen import FunctionBuilder
from .extras import emit_keep
from .inline import ITEM_TESTS, ItemTest
from .lower_response import step
from .paths import is_simple, plain_keys, projection_steps, split_path
from .templates import lower_into, template_paths, template_roots
from .views import EACH, Views

__all__ = ["emit_extras", "extra_read", "extras_paths", "projection_path"]


def extra_read(template: Any) -> tuple[str, Any]:
    """How an extra is read from a viewed body: `("paths", paths)` (plain key paths, through the views),
    `("steps", steps)` (one path with list indexes, `$candidates[0].groundingMetadata`), `("roots", keys)`
    (any other template reading only these top-level keys, read whole: it is evaluated on an object of them),
    `("projection", (head, tails))` (keys and flatten projections, read through the views), `("tested",
    (keys, field, test))` (a transform keeping the items of the list at `keys` by their `field`, inline.py's
    `ITEM_TESTS`: its items' fields are tested, and it is evaluated on the body decoded again only when one
    passes), or `("whole", None)` (it reads the whole body: no views)."""
    if isinstance(template, dict) and template.get("$op") in ITEM_TESTS and isinstance(template.get("in"), str) \
            and template["in"].startswith("$") and not template["in"].startswith("$$"):
        keys = plain_keys(template["in"][1:].lstrip("."))
        form = ITEM_TESTS[template["$op"]]({k: v for k, v in template.items() if k not in ("$op", "in")})
        if keys and form is not None:
            return "tested", (keys, *form)
    paths = template_paths(template)
    if paths is not None:
        return "paths", paths
    if isinstance(template, str) and template.startswith("$") and not template.startswith("$$"):
        path = template[1:].lstrip(".")
        if path and is_simple(path):
            return "steps", tuple(split_path(path))
        projection = projection_steps(path) if path else None
        if projection is not None and projection[0] and projection[0][0]:
            head, tails = projection
            if all(head) and all(all(tail) and tail for tail in tails[:-1]) and all(tails[-1]):
                return "projection", projection
            return "roots", (head[0],)
        return "whole", None
    roots = template_roots(template)
    return ("roots", tuple(sorted(roots))) if roots is not None else ("whole", None)


def extras_paths(fields: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """The key paths the extras read through the views as plain paths (`extra_read`'s "paths")."""
    found: list[tuple[str, ...]] = []
    for template in fields.values():
        how, what = extra_read(template)
        if how == "paths":
            found.extend(sorted(what))
    return found


def emit_extras(code: FunctionBuilder, fields: Mapping[str, Any], views: Views, first: Mapping[str, str]) -> str:
    """Emit the lines of the spec's extras (each template evaluated in order, a value kept unless it is None or
    an empty list / object: extras.py) on `item`, the body (its view types `views`); return the local holding
    them (a dict, or None). On a viewed body, an extra with list indexes is read through the views, and one
    reading whole top-level values (a projection, a transform of them) is evaluated on an object of those.
    `first`: the locals holding the body's top-level values already read, by key."""
    out = code.temp()
    code.line(f"{out} = None")  # (a dict once a value is kept: most bodies hold none)
    read: dict[tuple[Any, ...], str] = {(key,): local for key, local in first.items()}  # (see `_read_steps`)
    for name, template in fields.items():
        where = ("response", "extras", str(name))
        how, what = extra_read(template) if views else ("plain", cast(Any, None))
        if how == "steps":
            value = _read_steps(code, what, views, read)
        elif how == "projection":
            value = _read_projection(code, what[0], what[1], views, read)
        elif how == "tested":
            value = _tested(code, template, where, what[0], what[1], what[2], views, read)
        elif how == "roots":
            roots = code.temp()
            fields_ = [f"{code.bind(key)}: {first.get(key) or step(code, 'data', views, (), key)}" for key in what]
            code.line(f"{roots} = {{{', '.join(fields_)}}}")
            code.line(f"item = {roots}")
            with code.other_item({}, {}):
                value = code.temp()
                code.line(f"{value} = {lower_into(template, where, code)}")
            code.line("item = data")
        else:
            value = lower_into(template, where, code)
        emit_keep(code, out, str(name), value)
    return out


def _read_steps(code: FunctionBuilder, steps: tuple[str | int, ...], views: Views, read: dict[tuple[Any, ...], str]
                ) -> str:
    """The lines reading a path of keys and list indexes from the viewed body `data` as paths.py's getter does
    (a key of a non-object, an index of a non-list or out of range: None); return the local holding it.
    `read`: the locals holding the paths read already (the body's top-level values, then each step read here:
    the extras' lines are straight-line code, so an extra reads what another read before from its local)."""
    holder, prefix = "data", cast(tuple[str, ...], ())
    for position, key in enumerate(steps):
        done = read.get(steps[:position + 1])
        if done is not None:
            holder = done
        elif isinstance(key, str):
            done = read[steps[:position + 1]] = code.temp()
            code.line(f"{done} = {step(code, holder, views, prefix, key)}")
        else:
            done = read[steps[:position + 1]] = code.temp()
            fits = holder if key in (0, -1) else (  # (a list's truth: not empty, one test less than `len`)
                f"len({holder}) > {key}" if key >= 0 else f"len({holder}) >= {-key}")
            code.line(f"{done} = {holder}[{key}] if type({holder}) is list and {fits} else None")
        prefix = (*prefix, key if isinstance(key, str) else EACH)
        holder = done
    return holder


def projection_path(head: tuple[str, ...], tails: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    """The view path a projection `head[]tail[]...` reads (a trailing `[]` flattens values read whole)."""
    path = list(head)
    for tail in tails:
        if tail:
            path += [EACH, *tail]
    return tuple(path)


def _key_of(code: FunctionBuilder, holder: str, views: Views, prefix: tuple[str, ...], key: str) -> str:
    """Reading `key` from `holder`, a value at view path `prefix` that may also be a plain object (an element
    of a list nested in a viewed list is plain data)."""
    view = views.get(prefix)
    plain = f"{holder}.get({code.bind(key)}) if type({holder}) is dict else None"
    if view is None:
        return plain
    return f"{holder}.{view[1][key]} if type({holder}) is {code.bind(view[0])} else ({plain})"


def _read_projection(code: FunctionBuilder, head: tuple[str, ...], tails: tuple[tuple[str, ...], ...],
                     views: Views, read: dict[tuple[Any, ...], str]) -> str:
    """The lines evaluating `head[]tail[]...` on the viewed body as `templates._inline_projection` does on plain
    data (a list flattened one level, the tail's keys read from each element, the non-null values kept; a key
    of a non-object or a flatten of a non-list is null); return the local holding it. What an extra keeps is
    the same for an empty list as for None (`emit_extras`): a list is made for the first value kept, and none
    kept leaves None (most bodies hold none: no list made and dropped per response)."""
    out = code.temp()
    code.line(f"{out} = {_read_steps(code, head, views, read)}")
    prefix: tuple[str, ...] = head
    for tail in tails:
        flat, each, element, kept = code.temp(), code.temp(), code.temp(), code.temp()
        prefix = (*prefix, EACH) if tail else prefix

        code.line(f"if type({out}) is list:")
        code.line(f"    {flat} = None")
        code.line(f"    for {each} in {out}:")
        code.line(f"        if type({each}) is list:")  # (a list in the list: its elements, flattened)
        code.line(f"            for {element} in {each}:")
        _keep(code, element, "                ", tail, prefix, views, kept, flat)
        code.line("        else:")
        _keep(code, each, "            ", tail, prefix, views, kept, flat)
        code.line(f"    {out} = {flat}")
        code.line("else:")
        code.line(f"    {out} = None")
        prefix = (*prefix, *tail)
    return out


def _keep(code: FunctionBuilder, holder: str, indent: str, tail: tuple[str, ...], prefix: tuple[str, ...],
          views: Views, kept: str, flat: str) -> None:
    """The lines of a projection reading `tail`'s keys from one element `holder` (at view path `prefix`) into
    `kept`, and adding the value to the list `flat` unless it is null (`_read_projection`)."""
    for depth, key in enumerate(tail):
        code.line(f"{indent}{kept} = {_key_of(code, holder, views, (*prefix, *tail[:depth]), key)}")
        holder = kept
    code.line(f"{indent}if {holder} is not None:")
    code.line(f"{indent}    if {flat} is None: {flat} = [{holder}]")
    code.line(f"{indent}    else: {flat}.append({holder})")


def _tested(code: FunctionBuilder, template: Any, where: tuple[str, ...], keys: tuple[str, ...], field: str,
            test: ItemTest, views: Views, read: dict[tuple[Any, ...], str]) -> str:
    """The lines of an extra that keeps the items of the list at `keys` by their `field` (see `extra_read`):
    each item's field tested through the views, and, when one passes, the template evaluated on the body decoded
    again as plain data (what it keeps is whole items, which views do not hold); return the local holding it."""
    items, item, value, out = _read_steps(code, keys, views, read), code.temp(), code.temp(), code.temp()
    code.line(f"{out} = None")
    code.line(f"if type({items}) is list:")
    code.line(f"    for {item} in {items}:")
    code.line(f"        {value} = {_key_of(code, item, views, (*keys, EACH), field)}")
    code.line(f"        if {test(value, code.bind)}:")
    code.line(f"            item = {code.bind(msgspec.json.decode)}(body)")
    with code.other_item({}, {}):
        code.indent += "            "
        code.line(f"{out} = {lower_into(template, where, code)}")
        code.indent = code.indent[:-12]
    code.line("            item = data")
    code.line("            break")
    return out
