"""Routing config: the vllora gateway's own `models.yaml`, read as it is, plus what routing needs.

The gateway's file is a list of model entries (`model`, `model_provider`, `inference_provider: {provider,
model_name, endpoint}`, `price` in USD per million tokens, `limits`, `capabilities`, ...). On top of
those fields an entry may carry `api_key_env`, `base_url`, `defaults` (request parameters used when the
request has none) and an ordered `fallbacks` list of other entries' `model` names, with `fallback_on` naming
error classes that also move to the next target. The file is validated like a spec: every problem at once,
with file:line:col (`specs/schema/models-config.v1.json`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
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


def _entries_of(doc: SourceDoc) -> tuple[list[Any], tuple[str | int, ...]]:
    if isinstance(doc.data, Mapping) and "models" in doc.data:
        return list(doc.data["models"] or ()), ("models",)
    return list(doc.data or ()), ()


def load_routing(path: str, display: str | None = None) -> RoutingConfig:
    """Read and validate a routing file; every problem is reported at once in one `SpecError`."""
    from .spec.loader import format_path, load_file  # imported here: `import vllora_llm.client` needs no YAML
    from .spec.validate import report_schema_errors

    diags = Diagnostics()
    name = display or path
    doc = load_file(path, name, diags)
    diags.raise_if_errors(f"routing config {name!r} is invalid")
    assert doc is not None
    report_schema_errors(doc, diags, _schema())
    diags.raise_if_errors(f"routing config {name!r} is invalid")
    raw, prefix = _entries_of(doc)
    entries: dict[str, ModelEntry] = {}
    for i, item in enumerate(raw):
        where = (*prefix, i)
        entry = msgspec.convert(item, ModelEntry)
        if entry.model in entries:
            diags.add(
                name,
                doc.mark((*where, "model")),
                "SPEC041",
                format_path((*where, "model")),
                f"model {entry.model!r} is listed twice",
            )
        entries[entry.model] = entry
    for i, item in enumerate(raw):
        for j, target in enumerate(item.get("fallbacks") or ()):
            if target not in entries:
                spot = (*prefix, i, "fallbacks", j)
                diags.add(
                    name,
                    doc.mark(spot),
                    "SPEC042",
                    format_path(spot),
                    f"fallback {target!r} is not a model in this file",
                )
    diags.raise_if_errors(f"routing config {name!r} is invalid")
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
