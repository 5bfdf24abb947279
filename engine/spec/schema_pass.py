"""The JSON Schema pass over a spec: the schema of each spec format, and jsonschema's errors turned into
diagnostics (the most specific branch of a oneOf, a did-you-mean for an unknown key, file:line:col).

The schema closes the vocabulary; what it cannot check is the semantic pass's (`validate.py`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

from .desugar import V1, V2, VERSIONS, version_of
from .diagnostics import Diagnostics
from .loader import Path, SourceDoc, format_path

SCHEMA_CODES = {
    "additionalProperties": "SPEC010",
    "required": "SPEC011",
    "type": "SPEC012",
    "pattern": "SPEC013",
    "minLength": "SPEC013",
    "propertyNames": "SPEC013",
    "enum": "SPEC014",
    "const": "SPEC014",
    "minimum": "SPEC015",
    "maximum": "SPEC015",
    "minItems": "SPEC015",
    "maxItems": "SPEC015",
}


@cache
def spec_schema(api_version: str = V1) -> dict[str, Any]:
    """The JSON Schema of a spec format (`vllora.dev/v1` or `vllora.dev/v2`)."""
    file = "provider-spec.v2.json" if api_version == V2 else "provider-spec.v1.json"
    text = resources.files("vllora_llm.specs").joinpath(f"schema/{file}").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _leaf_errors(error: Any) -> Iterator[Any]:
    """Descend through oneOf/anyOf to the most specific failures: those of the branch that got furthest.

    A branch that failed deeper inside the value beats one that failed at its top; between equals, a branch
    whose type fits the value beats one rejecting the type (`{unsupported: explode}` is a bad rule, not
    "expected null").
    """
    if error.validator in ("oneOf", "anyOf") and error.context:
        branches: dict[Any, list[Any]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)

        def score(errors: list[Any]) -> tuple[int, bool]:
            depth = max(len(e.relative_path) for e in errors)
            wrong_type = any(e.validator == "type" and not e.relative_path for e in errors)
            return depth, not wrong_type

        best = max(branches.values(), key=score)
        for sub in best:
            yield from _leaf_errors(sub)
    else:
        yield error


def close_match(word: str, choices: list[str]) -> str | None:
    from difflib import get_close_matches

    found = get_close_matches(word, choices, n=1)
    return found[0] if found else None


def _describe(error: Any) -> list[tuple[str, str, Path, bool, str | None]]:
    """(code, message, path, point-at-key, hint) for each problem one jsonschema error stands for."""
    path: Path = tuple(error.absolute_path)
    kind = error.validator
    code = SCHEMA_CODES.get(kind, "SPEC015")
    if kind == "additionalProperties":
        allowed = sorted((error.schema.get("properties") or {}).keys())
        extras = sorted((str(k) for k in set(error.instance) - set(allowed)), key=str)
        out = []
        for key in extras or ["?"]:
            close = close_match(key, allowed)
            hint = f"allowed keys: {', '.join(allowed)}" if allowed else None
            if close and hint:
                hint = f"did you mean {close!r}? {hint}"
            out.append((code, f"unknown key {key!r}", (*path, key), True, hint))
        return out
    if kind == "required":
        missing = error.message.split("'")[1] if error.message.count("'") >= 2 else error.message
        at_key = bool(path) and isinstance(path[-1], str)
        return [(code, f"missing required key {missing!r}", path, at_key, f"add {missing}: to this mapping")]
    if kind == "enum":
        choices = "|".join(str(v).lower() if isinstance(v, bool) else str(v) for v in error.validator_value)
        return [(code, f"{error.instance!r} is not one of {choices}", path, False, None)]
    if kind == "const":
        return [(code, f"{error.instance!r} must be {error.validator_value!r}", path, False, None)]
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        got = f"expected {expected}, got {type(error.instance).__name__} {error.instance!r}"
        hint = "quote the value to make it a string" if expected == "string" else None
        return [(code, got, path, False, hint)]
    if kind == "pattern":
        return [
            (
                code,
                f"{error.instance!r} does not match {error.validator_value}",
                path,
                False,
                error.schema.get("description"),
            )
        ]
    return [(code, error.message, path, False, None)]


def schema_pass(doc: SourceDoc, diags: Diagnostics) -> bool:
    """Validate against the JSON Schema; True when the document is structurally sound."""
    from jsonschema import Draft202012Validator

    if not isinstance(doc.data, dict):
        found = "the file is empty" if doc.data is None else f"the document is a {type(doc.data).__name__}"
        diags.add(
            doc.file,
            doc.mark(()),
            "SPEC003",
            "",
            f"{found}; a spec is a YAML mapping",
            hint="start with apiVersion: vllora.dev/v2, kind: ProviderSpec, metadata: {name, revision}",
        )
        return False
    ok = True
    partial = isinstance(doc.data.get("extends"), str)
    validator = Draft202012Validator(spec_schema(version_of(doc.data)))
    for top in validator.iter_errors(doc.data):
        for error in _leaf_errors(top):
            if partial and _inherited(error):
                continue  # checked on the merged spec (merged_pass)
            ok = False
            for code, message, path, at_key, hint in _describe(error):
                if message == "missing required key '$op'" and version_of(doc.data) == V2:
                    hint = ("vllora.dev/v2 calls a transform as {$op: NAME, ...args} (v1 wrote {name: NAME, args: "
                            "{...}} and adjust entries as {transform: ...}); `vllora-llm spec migrate FILE` rewrites "
                            "a v1 file")
                if path in (("apiVersion",), ("kind",)):
                    code = "SPEC003"
                    if path == ("apiVersion",):
                        message = f"{error.instance!r} is not one of {'|'.join(VERSIONS)}"
                    hint = (f"this library reads apiVersion: {' or '.join(VERSIONS)} (`vllora-llm spec migrate FILE` "
                            "turns a v1 file into v2), kind: ProviderSpec")
                diags.add(doc.file, doc.mark(path, key=at_key), code, format_path(path), message, hint=hint)
    return ok


def report_schema_errors(doc: SourceDoc, diags: Diagnostics, schema: Mapping[str, Any]) -> bool:
    """Validate any loaded document against `schema`, reporting like specs do; True when it is valid."""
    from jsonschema import Draft202012Validator

    ok = True
    for top in Draft202012Validator(schema).iter_errors(doc.data):
        for error in _leaf_errors(top):
            ok = False
            for code, message, path, at_key, hint in _describe(error):
                diags.add(doc.file, doc.mark(path, key=at_key), code, format_path(path), message, hint=hint)
    return ok


def _inherited(error: Any) -> bool:
    """A key missing from a block of an extending spec: the base may give it, so it is checked after merging.

    Not for `metadata` (never inherited) nor inside lists (a list replaces the base's, so its items are whole).
    """
    path = tuple(error.absolute_path)
    nested = bool(path) and path[0] != "metadata" and not any(isinstance(p, int) for p in path)
    return error.validator == "required" and nested


def merged_pass(merged: dict[str, Any], doc: SourceDoc, diags: Diagnostics) -> None:
    """Required keys still missing once `doc` is merged over its base (e.g. removed with null)."""
    from jsonschema import Draft202012Validator

    for top in Draft202012Validator(spec_schema()).iter_errors(merged):
        for error in _leaf_errors(top):
            if not _inherited(error):
                continue  # everything else was reported against the file it is in
            for code, message, path, _, _ in _describe(error):
                diags.add(
                    doc.file,
                    doc.key_marks.get(path) or doc.mark(("extends",)),
                    code,
                    format_path(path),
                    f"{message} (after merging over the base spec)",
                    hint="neither this spec nor its base gives it; add it here",
                )
