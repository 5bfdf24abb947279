"""Routing config: the vllora gateway's own `models.yaml`, read as it is, plus what routing needs.

The gateway's file is a list of model entries (`model`, `model_provider`, `inference_provider: {provider,
model_name, endpoint}`, `price` in USD per million tokens, `limits`, `capabilities`, ...). On top of
those fields an entry may carry `api_key_env`, `base_url`, `api_version`, `defaults` (request parameters used when the
request has none) and an ordered `fallbacks` list of other entries' `model` names, with `fallback_on` naming
error classes that also move to the next target. The file is validated like a spec: every problem at once,
with file:line:col (`specs/schema/models-config.v1.json`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from difflib import get_close_matches
from functools import cache
from importlib import resources
from os import PathLike
from typing import TYPE_CHECKING, Any

import msgspec

from .errors import SpecError
from .gateway import Usage
from .spec.diagnostics import Diagnostics

if TYPE_CHECKING:
    from .spec.loader import SourceDoc


class Price(msgspec.Struct, kw_only=True):
    """USD per million tokens, the gateway's `price` block."""

    per_input_token: float = 0.0
    per_output_token: float = 0.0
    per_cached_input_token: float | None = None
    per_cached_input_write_token: float | None = None
    per_image: float | dict[str, float] | None = None
    """USD per generated image (not per million): one price, or keyed by `quality/size`, `size`, `quality`."""
    valid_from: Any = None


class InferenceProvider(msgspec.Struct, kw_only=True):
    provider: str
    model_name: str
    endpoint: str | None = None


class ModelEntry(msgspec.Struct, kw_only=True):
    model: str
    inference_provider: InferenceProvider
    model_provider: str | None = None
    price: Price | None = None
    input_formats: list[str] = msgspec.field(default_factory=list)
    output_formats: list[str] = msgspec.field(default_factory=list)
    capabilities: list[str] = msgspec.field(default_factory=list)
    type: str = "completions"
    limits: dict[str, Any] | None = None
    description: str | None = None
    parameters: Any = None
    is_virtual: bool = False
    # routing additions
    api_key_env: str | None = None
    base_url: str | None = None
    api_version: str | None = None
    """One of the versions the provider's spec declares (its `versions:`); default: the spec's own."""
    defaults: dict[str, Any] | None = None
    fallbacks: list[str] = msgspec.field(default_factory=list)
    fallback_on: list[str] = msgspec.field(default_factory=list)

    @property
    def target_base_url(self) -> str | None:
        return self.base_url or self.inference_provider.endpoint


class RoutingConfig(msgspec.Struct):
    entries: dict[str, ModelEntry]
    file: str = "<memory>"

    def chain(self, model: str) -> list[ModelEntry]:
        """The entry for `model` followed by its fallbacks (each once, in order)."""
        first = self.entries[model]
        out = [first]
        for name in first.fallbacks:
            entry = self.entries[name]
            if entry not in out:
                out.append(entry)
        return out


@cache
def _schema() -> dict[str, Any]:
    text = resources.files("vllora_llm.specs").joinpath("schema/models-config.v1.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def is_routing_data(data: Any) -> bool:
    """A gateway models.yaml: a list of model entries (mappings with `model` or `inference_provider`), or a
    mapping holding them under `models` (a provider spec is a mapping with apiVersion / kind)."""
    if isinstance(data, list):
        return any(isinstance(item, Mapping) and ("model" in item or "inference_provider" in item) for item in data)
    return isinstance(data, Mapping) and "models" in data and "apiVersion" not in data and "kind" not in data


def _entries_of(doc: SourceDoc) -> tuple[list[Any], tuple[str | int, ...]]:
    if isinstance(doc.data, Mapping) and "models" in doc.data:
        models = doc.data["models"]
        return (list(models) if isinstance(models, list) else []), ("models",)
    return (list(doc.data) if isinstance(doc.data, list) else []), ()


def check_routing(doc: SourceDoc, diags: Diagnostics, providers: Collection[str] | None = None) -> None:
    """Report every problem of a loaded routing file at once: the schema's, models listed twice (SPEC041),
    fallbacks naming no model (SPEC042) and, when `providers` is given, providers no spec has (SPEC043).
    Each check reads the raw data defensively, so one broken entry does not hide the others' problems."""
    from .spec.loader import format_path
    from .spec.validate import report_schema_errors

    def report(spot: tuple[str | int, ...], code: str, message: str, hint: str | None = None) -> None:
        diags.add(doc.file, doc.mark(spot), code, format_path(spot), message, hint=hint)

    report_schema_errors(doc, diags, _schema())
    raw, prefix = _entries_of(doc)
    items = [(i, item) for i, item in enumerate(raw) if isinstance(item, Mapping)]
    names: set[str] = set()
    for i, item in items:
        name = item.get("model")
        if isinstance(name, str):
            if name in names:
                report((*prefix, i, "model"), "SPEC041", f"model {name!r} is listed twice")
            names.add(name)
    for i, item in items:
        fallbacks = item.get("fallbacks")
        for j, target in enumerate(fallbacks if isinstance(fallbacks, list) else ()):
            if isinstance(target, str) and target not in names:
                close = get_close_matches(target, sorted(names), n=1)
                report((*prefix, i, "fallbacks", j), "SPEC042", f"fallback {target!r} is not a model in this file",
                       f"did you mean {close[0]!r}?" if close else None)
    if providers is None:
        return
    known = sorted(providers)
    for i, item in items:
        inference = item.get("inference_provider")
        provider = inference.get("provider") if isinstance(inference, Mapping) else None
        if isinstance(provider, str) and provider and provider not in providers:
            close = get_close_matches(provider, known, n=1)
            report((*prefix, i, "inference_provider", "provider"), "SPEC043",
                   f"no provider spec named {provider!r}",
                   f"did you mean {close[0]!r}?" if close else f"known providers: {', '.join(known)}")


def load_routing(
    path: str, display: str | None = None, *, spec_path: Sequence[str | PathLike[str]] = ()
) -> RoutingConfig:
    """Read and validate a routing file; every problem is reported at once in one `SpecError`. Providers are
    checked against the specs on the search path (built-ins, ``VLLORA_SPEC_PATH``, `spec_path`)."""
    from .registry import discover
    from .spec.loader import load_file  # imported here: `import vllora_llm.client` needs no YAML

    diags = Diagnostics()
    name = display or path
    doc = load_file(path, name, diags)
    if doc is not None:
        check_routing(doc, diags, set(discover(spec_path)))
    diags.raise_if_errors(f"routing config {name!r} is invalid")
    assert doc is not None
    raw, _ = _entries_of(doc)
    entries = {entry.model: entry for entry in (msgspec.convert(item, ModelEntry) for item in raw)}
    return RoutingConfig(entries=entries, file=name)


def image_cost(count: int, price: Price, size: str | None, quality: str | None) -> float | None:
    """USD for `count` images at `price.per_image` (the most specific key that is priced), or None."""
    table = price.per_image
    if table is None:
        return None
    if not isinstance(table, dict):
        return count * table
    for key in (f"{quality}/{size}", size, quality, "default"):
        if key is not None and key in table:
            return count * table[key]
    return None


def cost_of(usage: Usage, price: Price) -> float:
    """USD for `usage`: cached input and cache writes at their own prices when the config gives them."""
    details = usage.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details else 0
    written = (details.cache_creation_tokens or 0) if details else 0
    cached_price = price.per_cached_input_token if price.per_cached_input_token is not None else price.per_input_token
    write_price = (
        price.per_cached_input_write_token if price.per_cached_input_write_token is not None else price.per_input_token
    )
    fresh = max(usage.prompt_tokens - cached - written, 0)
    total = (
        fresh * price.per_input_token
        + cached * cached_price
        + written * write_price
        + usage.completion_tokens * price.per_output_token
    )
    return round(total / 1_000_000, 10)


def parse_model_id(model: str) -> tuple[str, str] | None:
    """`provider/model` → (provider, model); None when there is no provider prefix."""
    if "/" not in model:
        return None
    provider, _, name = model.partition("/")
    return (provider, name) if provider and name else None


def unknown_model_error(model: str, config: RoutingConfig | None) -> SpecError:
    known = ", ".join(sorted(config.entries)) if config else ""
    hint = f"; known models: {known}" if known else ""
    return SpecError(f"no route for model {model!r}: not in the routing config and not a 'provider/model' id{hint}")
