"""Model-family `overrides`: every layer whose globs match a model applies, in order, merged like `extends`.

A plan builds what it needs (a request encoder; an operation's encoder, decoder and error builder) once per
set of matching layers, on first use, and remembers the choice per model name. Each layer alone is built when
the plan is (so a broken one fails at load), but for a spec read back from the compiled-spec cache: that one
was built whole before it was stored, so a layer is built when a model first needs it, inside
`prevalidated()` as the rest of that plan was (a process start then builds only the layers it uses).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from .prevalidated import is_prevalidated, prevalidated

T = TypeVar("T")

MAX_MODELS = 4096
"""Model names remembered per plan (a bounded memo: model names come from callers)."""


def merge_layer(base: Any, layer: Any) -> Any:
    """`layer` over `base` as `extends` merges: mappings key by key, a null removes, anything else replaces."""
    if isinstance(base, dict) and isinstance(layer, dict):
        out = dict(base)
        for key, value in layer.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = merge_layer(out[key], value)
            else:
                out[key] = value
        return out
    return layer


class Layers(Generic[T]):
    """`build(spec)` for the base spec and for each combination of matching override layers."""

    def __init__(self, spec: Mapping[str, Any], layers: Sequence[Mapping[str, Any]],
                 build: Callable[[dict[str, Any]], T]) -> None:
        self._spec = {k: v for k, v in spec.items() if k != "overrides"}
        self._layers = [(tuple(layer["match"]), {k: v for k, v in layer.items() if k != "match"})
                        for layer in layers]
        self._build = build
        self.base: T = build(self._spec)
        self._by_set: dict[tuple[int, ...], T] = {(): self.base}
        self.by_model: dict[str, T] = {}
        """What `for_model` chose for each model it was asked about (read directly on every request)."""
        self._cached = is_prevalidated()
        """Built from a compiled-spec cache hit: every layer alone is known to build; each is built on first use."""
        if not self._cached:
            for i in range(len(self._layers)):  # each layer compiled once now, so a broken one fails at load
                self._by_set[(i,)] = build(merge_layer(self._spec, self._layers[i][1]))

    def for_model(self, model: str) -> T:
        found = self.by_model.get(model)
        if found is None:
            matching = tuple(i for i, (globs, _) in enumerate(self._layers)
                             if any(fnmatch.fnmatchcase(model, g) for g in globs))
            found = self._by_set.get(matching)
            if found is None and self._cached:
                with prevalidated():  # (as at load: a combination's checks then skip what these layers hold)
                    for i in matching:
                        if (i,) not in self._by_set:
                            self._by_set[(i,)] = self._build(merge_layer(self._spec, self._layers[i][1]))
                found = self._by_set.get(matching)
            if found is None:
                spec: Any = self._spec
                for i in matching:
                    spec = merge_layer(spec, self._layers[i][1])
                found = self._by_set[matching] = self._build(spec)
            if len(self.by_model) < MAX_MODELS:
                self.by_model[model] = found
        return found
