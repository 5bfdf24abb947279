"""Usage summed over the turns of a tool loop: tokens, token details and cost, field by field."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from vllora_llm.engine.gateway import Usage

__all__ = ["add_usage"]

S = TypeVar("S", bound=msgspec.Struct)


def _add(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, msgspec.Struct):
        values = {f: _add(getattr(a, f), getattr(b, f)) for f in a.__struct_fields__}
        return msgspec.structs.replace(a, **values)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a + b
    return b


def add_usage(total: Usage | None, more: Usage | None) -> Usage | None:
    """`total + more` (either may be None); a new Usage, the inputs are not changed."""
    result: Usage | None = _add(total, more)
    return result
