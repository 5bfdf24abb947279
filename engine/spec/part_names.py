"""Names a spec gives that the engine reads from a closed list: the stream parts an `events:` handler gives,
the pieces a response part kind's template gives, the kinds `kind_by.present` names. A name off the list would
be ignored at run time (an answer without its text, no error), so each one is reported with a "did you mean".

SPEC044 (error): a handler or kind template gives a part the engine does not read (`txt: $delta.text`).
SPEC045 (warning): a `kinds` template that `kind_by.present` never names, so it never runs (`tool_cal`).
"""

from __future__ import annotations

from collections.abc import Mapping
from difflib import get_close_matches
from typing import Any

from .diagnostics import Diagnostics
from .loader import Path, SourceDoc, format_path

STREAM_PARTS = ("text", "reasoning", "reasoning_signature", "reasoning_redacted", "tool_call_start",
                "tool_call_args", "finish", "usage", "meta", "end", "error", "extras")
RESPONSE_PIECES = ("text", "tool_call", "reasoning", "refusal")


def _close(word: str, choices: tuple[str, ...] | list[str]) -> str | None:
    found = get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def _unknown_parts(doc: SourceDoc, where: Path, template: Any, known: tuple[str, ...], what: str,
                   diags: Diagnostics) -> None:
    if not isinstance(template, Mapping) or "$op" in template or "$each" in template:
        return
    for key in template:
        name = str(key)
        value = template[key]
        if name.startswith("$") or name in known or (isinstance(value, Mapping) and "$op" in value):
            continue  # (a key computed by a transform is there for what the transform does: `forbid` raises)
        guess = _close(name, known)
        diags.add(doc.file, doc.mark((*where, key), key=True), "SPEC044", format_path((*where, key)),
                  f"{name!r} is not a {what} the engine reads (it would be ignored)",
                  hint=f"did you mean {guess!r}?" if guess else f"use one of {'|'.join(known)}")


def check_event_parts(doc: SourceDoc, events: Mapping[str, Any], diags: Diagnostics) -> None:
    """SPEC044 for every handler (and switch case) of `stream.events`."""
    for name, handler in events.items():
        where: Path = ("stream", "events", name)
        if isinstance(handler, Mapping) and ("switch" in handler or "cases" in handler):  # (an extending spec
            # may give only the cases of its base's switch)
            for case, template in (handler.get("cases") or {}).items():
                _unknown_parts(doc, (*where, "cases", case), template, STREAM_PARTS, "stream part", diags)
            _unknown_parts(doc, (*where, "default"), handler.get("default"), STREAM_PARTS, "stream part", diags)
        else:
            _unknown_parts(doc, where, handler, STREAM_PARTS, "stream part", diags)


def check_kinds(doc: SourceDoc, response: Mapping[str, Any], diags: Diagnostics) -> None:
    """SPEC044 for the pieces of each `response.kinds` template; SPEC045 for a kind `kind_by.present` (when
    this file declares it) never names."""
    kinds = response.get("kinds") or {}
    if not isinstance(kinds, Mapping):
        return
    for kind, template in kinds.items():
        _unknown_parts(doc, ("response", "kinds", kind), template, RESPONSE_PIECES, "response piece", diags)
    present = (response.get("kind_by") or {}).get("present") if isinstance(response.get("kind_by"), Mapping) else None
    if not isinstance(present, list):
        return
    named = [str(entry[1]) for entry in present if isinstance(entry, list) and len(entry) == 2]
    for kind in kinds:
        if str(kind) not in named:
            guess = _close(str(kind), [k for k in named if k not in kinds])
            where: Path = ("response", "kinds", kind)
            diags.add(doc.file, doc.mark(where, key=True), "SPEC045", format_path(where),
                      f"kind {str(kind)!r} is named by no kind_by.present entry, so this template never runs",
                      hint=f"did you mean {guess!r}?" if guess else "name it in kind_by.present: [[key, kind], ...]",
                      severity="WARNING")
