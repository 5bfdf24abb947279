"""Spec regular expressions run on caller input, so they must not backtrack exponentially.

A quantified group that itself holds a quantifier (``(a+)+``, ``(\\w*)*``, ``(x+y?)+``) can take seconds on a
few dozen characters; such patterns are refused when a spec is validated (SPEC031), and every pattern is
applied to at most `MAX_REGEX_INPUT` characters of a value, which bounds the polynomial cases (adjacent
quantifiers such as ``a*a*b``, not refused, stay under a second there).
"""

from __future__ import annotations

import re
from typing import Any

try:  # Python 3.11+: the parser module is private, with the same API as the old sre_parse
    from re import _parser as _sre  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_parse as _sre

__all__ = ["MAX_REGEX_INPUT", "regex_problem"]

MAX_REGEX_INPUT = 1_000
"""Characters of a value a spec pattern is applied to (the rest is not searched): a search is quadratic in
the input for any pattern that starts with a quantifier (``a*b`` on 30,000 characters: 1.2 s)."""

_REPEATS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", _sre.MAX_REPEAT)}


def _has_repeat(items: Any) -> bool:
    for op, av in items:
        if op in _REPEATS:
            _low, high, _sub = av
            if high > 1 or high == _sre.MAXREPEAT:
                return True
        if _children_have_repeat(op, av):
            return True
    return False


def _children_have_repeat(op: Any, av: Any) -> bool:
    if op is _sre.SUBPATTERN:
        return _has_repeat(av[-1])
    if op is _sre.BRANCH:
        return any(_has_repeat(branch) for branch in av[1])
    if op in _REPEATS:
        return _has_repeat(av[2])
    return False


def _nested(items: Any) -> bool:
    for op, av in items:
        if op in _REPEATS:
            _low, high, sub = av
            if (high > 1 or high == _sre.MAXREPEAT) and _has_repeat(sub):
                return True
            if _nested(sub):
                return True
        elif (op is _sre.SUBPATTERN and _nested(av[-1])) or (
                op is _sre.BRANCH and any(_nested(branch) for branch in av[1])):
            return True
    return False


def regex_problem(pattern: str) -> str | None:
    """Why `pattern` may not be used on caller input (invalid, or a nested quantifier), or None."""
    try:
        parsed = _sre.parse(pattern)
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        return f"invalid regular expression {pattern!r}: {exc}"
    if _nested(list(parsed)):
        return (f"the regular expression {pattern!r} nests a quantifier inside a repeated group, which can take "
                "exponential time on some inputs; rewrite it without the nesting (e.g. `(a+)+` as `a+`)")
    return None
