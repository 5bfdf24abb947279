"""View types: the Structs a payload is decoded into, holding only the fields a mapping reads (DESIGN §5).

From the key paths the spec's mappings read (`("usageMetadata", "totalTokenCount")`, the choices list and the
paths read in each of its elements) the compiler derives one msgspec Struct per object it only walks through,
with a field per key read below it; a value read as a whole stays a plain decoded value (`Any`). msgspec then
skips every other field in C instead of building dicts for it. Each Struct sits in a union with every other
JSON kind (`list | str | int | float | bool | None`), so a payload of another shape decodes without error into
a value the generated readers see as "not an object" — exactly what the dict readers see. The generated code
reads a view's field by attribute (`FunctionBuilder.step`); the field names are `f0`, `f1`, ... renamed to
the wire keys, so any key works.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Union

import msgspec

EACH = "[]"
"""The step into each element of a list in a key path (`("candidates", EACH, "index")`)."""

Views = dict[tuple[str, ...], tuple[type, dict[str, str]]]
"""Key path → (view Struct decoded there, attribute of each wire key): what `FunctionBuilder.step` reads."""

_OTHER_JSON = (list, str, int, float, bool, type(None))


class _Node:
    __slots__ = ("keys", "whole")

    def __init__(self) -> None:
        self.whole = False  # the value here is read as a whole
        self.keys: dict[str, _Node] = {}


def view_type(paths: Iterable[tuple[str, ...]], text: Iterable[tuple[str, ...]] = ()) -> tuple[Any, Views] | None:
    """The msgspec type decoding a payload into views of exactly `paths`, and where each view sits; None when
    the paths ask for a list and an object at the same place (no view can serve both). A path of `text` (read
    only as JSON text, templates.template_paths) with nothing read below it is kept undecoded (`msgspec.Raw`;
    None when absent)."""
    root = _Node()
    as_text = set(text)
    for path in sorted({*paths, *as_text}):  # (a set of paths: the same fields in every process)
        node = root
        for key in path:
            node = node.keys.setdefault(key, _Node())
        node.whole = True
    views: Views = {}
    built = _build(root, (), views, as_text)
    return None if built is None else (built, views)


def _build(node: _Node, prefix: tuple[str, ...], views: Views, text: set[tuple[str, ...]]) -> Any:
    if node.whole or not node.keys:
        return msgspec.Raw if prefix in text and not node.keys and prefix and prefix[-1] != EACH else Any
    if EACH in node.keys:
        if len(node.keys) > 1:
            return None
        element = _build(node.keys[EACH], (*prefix, EACH), views, text)
        return None if element is None else Union[(list[element], dict, *_OTHER_JSON[1:])]  # type: ignore[valid-type]
    fields: list[tuple[str, Any, Any]] = []
    attributes: dict[str, str] = {}
    for position, (key, child) in enumerate(node.keys.items()):
        typed = _build(child, (*prefix, key), views, text)
        if typed is None:
            return None
        attributes[key] = f"f{position}"
        fields.append((f"f{position}", typed, None))
    steps = ("each" if key == EACH else key if key.isidentifier() else "x" for key in prefix)
    name = "_".join(("View", *steps))  # (what `spec compile` shows for it)
    struct = msgspec.defstruct(name, fields, rename={a: k for k, a in attributes.items()}, gc=False)
    views[prefix] = (struct, attributes)
    return Union[(struct, *_OTHER_JSON)]


def relative(views: Views, prefix: tuple[str, ...]) -> Views:
    """The views below `prefix`, keyed by their path from it (an element's views, for the reader of one element)."""
    n = len(prefix)
    return {path[n:]: view for path, view in views.items() if path[:n] == prefix}
