"""Compiling a spec that is known to be valid: skip the checks that validation already made.

Validation compiles every template, checking each transform's arguments against its JSON Schema
(jsonschema) and compiling each JMESPath expression (jmespath). A spec read back from the compiled-spec cache
(`spec/cache.py`) passed all of that before it was stored, so the registry compiles it inside
`prevalidated()`: argument checks are skipped and a JMESPath getter compiles on its first use, and a process
start imports neither library. Outside the block nothing changes, but for what was compiled inside it: a
spec's override layers are combined when a model first needs the combination (`layers.py`), after the block,
and the combination repeats the transform arguments and JMESPath expressions of the layers it is made of.
`vouched` remembers each one compiled inside the block and answers True for it later, so that first call
skips the same checks (their result is known: the spec passed them) and imports neither library either.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_PREVALIDATED: ContextVar[bool] = ContextVar("vllora_spec_prevalidated", default=False)
_VOUCHED: set[Hashable] = set()
"""What was compiled inside `prevalidated()` (transform arguments, JMESPath expressions), as `vouched` keys."""


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


def vouched(key: Hashable) -> bool:
    """Inside `prevalidated()`: True, and `key` (what is being compiled) is remembered as checked. Outside: True
    for a key compiled inside it before (a check of the same thing would pass), else False."""
    if _PREVALIDATED.get():
        _VOUCHED.add(key)
        return True
    return key in _VOUCHED
