"""PyYAML's parse errors, said in plain words at the line where the author made the mistake.

PyYAML reports where the parser gave up, which is often the line after the mistake, in parser terms ("did not
find expected key", "mapping values are not allowed in this context"). The source text around that place
usually shows what happened: a line indented deeper than a key that already has its value, a dedent that
matches no enclosing key, a `{` or `[` or quote that is never closed. Each rule below recognises one of those.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

_KEY_WITH_VALUE = re.compile(r"^\s*(?:-\s+)?(?P<key>[^\s:#][^:#]*?):\s+(?P<value>[^\s#].*)$")
_KEY = re.compile(r"^\s*(?:-\s+)?(?P<key>[^\s:#][^:#]*?):(?:\s|$)")


class Explained(NamedTuple):
    line: int
    column: int
    problem: str
    hint: str


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _meaningful(lines: list[str], before: int) -> tuple[int, str] | None:
    """The nearest line above index `before` that holds something (not blank, not a comment)."""
    for index in range(before - 1, -1, -1):
        stripped = lines[index].strip()
        if stripped and not stripped.startswith("#"):
            return index, lines[index]
    return None


def _enclosing_indents(lines: list[str], before: int) -> list[int]:
    """The indents a dedent at line `before` could return to: those of the keys that enclose it."""
    indents: list[int] = []
    limit: int | None = None
    for index in range(before - 1, -1, -1):
        text = lines[index]
        if not text.strip() or text.lstrip().startswith("#") or not _KEY.match(text):
            continue
        width = _indent(text)
        if limit is None or width < limit:
            indents.append(width)
            limit = width
    return sorted(set(indents))


def _indentation(lines: list[str], row: int) -> Explained | None:
    if row >= len(lines):
        return None
    here = lines[row]
    width = _indent(here)
    above = _meaningful(lines, row)
    if above is None:
        return None
    above_row, above_text = above
    above_width = _indent(above_text)
    with_value = _KEY_WITH_VALUE.match(above_text)
    if width > above_width and with_value:
        key = with_value.group("key").strip()
        return Explained(
            row + 1, width + 1,
            f"line {row + 1} is indented deeper than `{key}:` on line {above_row + 1}, which already has its "
            "value on that line",
            f"indent it by {above_width} spaces to make it a sibling of `{key}`, or move the value of `{key}` "
            "onto lines of its own to nest under it",
        )
    enclosing = _enclosing_indents(lines, row)
    if width < above_width and width not in enclosing and enclosing:
        nearest = [str(n) for n in sorted(enclosing, reverse=True)]
        choices = f"{', '.join(nearest[:-1])} or {nearest[-1]}" if len(nearest) > 1 else nearest[0]
        return Explained(
            row + 1, width + 1,
            f"line {row + 1} is indented by {width} spaces, which lines up with no key above it",
            f"keys at the same level must start in the same column: indent it by {choices} spaces",
        )
    return None


def explain(exc: Any, text: str) -> Explained:
    """Where and what, in the author's terms, for a `yaml.MarkedYAMLError` raised while parsing `text`."""
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = str(exc.problem or exc)
    context = str(exc.context or "")
    opened = exc.context_mark
    lines = text.splitlines()
    if "another document" in problem:
        hint = "a spec file holds one YAML document; remove the ---"
        return Explained(line, column, f"invalid YAML: {problem}", hint)
    if "cannot start any token" in problem:
        return Explained(
            line, column, f"invalid YAML: {problem}",
            "indent with spaces, not tabs; quote a value that starts with @ or `",
        )
    if opened is not None and "flow" in context:
        bracket = "}" if "mapping" in context else "]"
        return Explained(
            opened.line + 1, opened.column + 1,
            f"invalid YAML: the {'{' if bracket == '}' else '['} opened on line {opened.line + 1} is never closed",
            f"end it with `{bracket}` (a value containing `,` `{{` `}}` `[` `]` or `: ` must be quoted)",
        )
    if opened is not None and "quoted scalar" in context:
        return Explained(
            opened.line + 1, opened.column + 1,
            f"invalid YAML: the quote opened on line {opened.line + 1} is never closed",
            "close it with the same quote character (write '' for a quote inside single quotes)",
        )
    if mark is not None and ("expected key" in problem or "not allowed here" in problem
                             or "mapping values are not allowed" in problem or "expected <block end>" in problem):
        found = _indentation(lines, mark.line)
        if found is not None:
            return Explained(found.line, found.column, f"invalid YAML: {found.problem}", found.hint)
        if "mapping values are not allowed" in problem:
            return Explained(
                line, column, f"invalid YAML: a second `: ` on line {line}",
                "quote a value that contains ': ' (e.g. \"a: b\")",
            )
    return Explained(line, column, f"invalid YAML: {problem}", "check the indentation and quoting around this place")
