"""Provider API versions as data: a spec's `versions:` block names the other versions a client may choose.

A provider's API moves by dated or numbered versions (a header value, a path segment), and each version changes a
few things on the wire (the auth header, the path, a field). The spec's `metadata.api_version` is the default;
`versions: {<name>: <patch>}` lists the others, each a patch of spec blocks merged over the spec like `extends`.
Choosing a version (``from_provider(..., api_version=...)``, ``spec render --api-version``) applies its patch
once, before compiling, so the hot path never looks at versions. `{api_version}` in endpoint paths and header
values is filled with the chosen version.
"""

from __future__ import annotations

from collections.abc import Mapping
from difflib import get_close_matches
from typing import Any

from .errors import MappingError
from .paths import deep_copy, deep_merge_into

__all__ = ["declared_versions", "with_api_version"]

_NOT_PATCHED = frozenset({"note"})
"""Keys of a version entry that describe it rather than patch the spec."""


def declared_versions(spec: Mapping[str, Any]) -> list[str]:
    """The default version (first) and every version the spec's `versions:` block declares."""
    default = (spec.get("metadata") or {}).get("api_version")
    found = [str(default)] if default is not None else []
    found.extend(str(name) for name in (spec.get("versions") or {}) if str(name) not in found)
    return found


def with_api_version(spec: Mapping[str, Any], version: str | None) -> Mapping[str, Any]:
    """`spec` as it reads for API `version` (its patch merged, `{api_version}` filled); `spec` itself when the
    version is the default and nothing needs filling. An undeclared version is a `MappingError` listing the
    declared ones (with a did-you-mean)."""
    metadata = spec.get("metadata") or {}
    name = str(metadata.get("name", "?"))
    default = metadata.get("api_version")
    chosen = str(default) if version is None and default is not None else version
    patch: Mapping[str, Any] = {}
    if chosen is not None and chosen != default:
        versions = spec.get("versions") or {}
        entry = versions.get(chosen)
        if entry is None:
            declared = declared_versions(spec)
            close = get_close_matches(chosen, declared, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise MappingError(f"{name} declares no API version {chosen!r} (declared: "
                               f"{', '.join(declared) or 'none'}){hint}", provider=name)
        patch = {key: value for key, value in (entry or {}).items() if key not in _NOT_PATCHED}
    if not patch and chosen == default and not _mentions_version(spec):
        return spec
    out: dict[str, Any] = deep_copy(dict(spec))
    if patch:
        deep_merge_into(out, deep_copy(dict(patch)))
    if chosen is not None:
        out["metadata"] = {**out.get("metadata", {}), "api_version": chosen}
        _fill_paths(out, chosen)
    return out


def _mentions_version(spec: Mapping[str, Any]) -> bool:
    endpoint = spec.get("endpoint") or {}
    if any("{api_version}" in str((entry or {}).get("path", "")) for entry in endpoint.values()
           if isinstance(entry, Mapping)):
        return True
    return any("{api_version}" in str(((op or {}).get("endpoint") or {}).get("path", ""))
               for op in (spec.get("operations") or {}).values() if isinstance(op, Mapping))


def _fill_paths(spec: dict[str, Any], version: str) -> None:
    """`{api_version}` in every endpoint path (chat, stream, operations) → `version`."""
    for entry in (spec.get("endpoint") or {}).values():
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            entry["path"] = entry["path"].replace("{api_version}", version)
    for overlay in spec.get("overrides") or ():
        for entry in ((overlay or {}).get("endpoint") or {}).values():
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                entry["path"] = entry["path"].replace("{api_version}", version)
    for op in (spec.get("operations") or {}).values():
        endpoint = (op or {}).get("endpoint") if isinstance(op, dict) else None
        if isinstance(endpoint, dict) and isinstance(endpoint.get("path"), str):
            endpoint["path"] = endpoint["path"].replace("{api_version}", version)
