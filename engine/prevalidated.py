"""Compiling a spec that is known to be valid: skip the checks that validation already made.

Validation compiles every template, checking each transform's arguments against its JSON Schema
(jsonschema) and compiling each JMESPath expression (jmespath). A spec read back from the compiled-spec cache
(`spec/cache.py`) passed all of that before it was stored, so the registry compiles it inside
`prevalidated()`: argument checks are skipped and a JMESPath getter compiles on its first use, and a process
start imports neither library. Outside the block nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_PREVALIDATED: ContextVar[bool] = ContextVar("vllora_spec_prevalidated", default=False)


@contextmanager
def prevalidated() -> Iterator[None]:
    """Compile inside this block only data that passed validation (a compiled-spec cache hit)."""
    token = _PREVALIDATED.set(True)
    try:
        yield
    finally:
        _PREVALIDATED.reset(token)


def is_prevalidated() -> bool:
    return _PREVALIDATED.get()
