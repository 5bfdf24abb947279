"""Deterministic values that satisfy a JSON Schema: the local provider server's tool arguments and JSON answers.

An app developed against the server must get values its own validation accepts, so the generator follows the
schema keywords that constrain a value (types, `required`, `enum`/`const`, `$ref`/`$defs`, combinators, string
formats and lengths, numeric bounds, array sizes) rather than returning placeholders. String slots are filled,
in document order, from `strings` (the caller passes the quoted phrases of the user's message and the tool
results), then "example", so a test can steer what comes back without a model. `pattern` is not followed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

PLACEHOLDER = "example"
MAX_DEPTH = 24
"""Below this depth only what the schema requires is generated, so recursive schemas end."""
OPTIONAL_DEPTH = 6
"""Optional properties and array items beyond `minItems` are generated down to this depth."""
MAX_NODES = 5_000
"""At most this many values in one answer: a schema that requires an endless tree gets `null`s beyond it."""
MAX_SIZE = 1_000
"""`minItems`, `minProperties` and `minLength` are honoured up to this size (a reply, not a memory test)."""

FORMATS: dict[str, str] = {
    "date": "2026-01-01",
    "date-time": "2026-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "duration": "P1D",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "iri": "https://example.com/",
    "uri-reference": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
_COMBINED_KEYS = ("properties", "required", "$defs", "definitions")


def example_value(schema: Any, strings: Sequence[str] = (), root: Any = None) -> Any:
    """A value valid against `schema` (a JSON Schema as a dict or bool); `None` gives `{}`."""
    if schema is None:
        return {}
    return _Filler(schema if root is None else root, strings).value(schema, 0)


def example_arguments(schema: Any, strings: Sequence[str] = ()) -> dict[str, Any]:
    """Tool-call arguments: always a JSON object, whatever the parameters schema says."""
    value = example_value(schema, strings)
    return value if isinstance(value, dict) else {}


class _Filler:
    def __init__(self, root: Any, strings: Sequence[str]) -> None:
        self.root = root
        self.strings = list(strings)
        self.next_string = 0
        self.nodes = 0

    def value(self, schema: Any, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            return None
        if schema is True or schema is None:
            return self._string({})
        if not isinstance(schema, dict) or depth > MAX_DEPTH:
            return None
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        if "default" in schema:
            return schema["default"]
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = self._resolve(ref)
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return self.value(self._merge([target, rest]) if _constrains(rest) else target, depth + 1)
        if isinstance(schema.get("allOf"), list) and schema["allOf"]:
            parts = [self._deref(part) for part in schema["allOf"]]
            rest = {k: v for k, v in schema.items() if k != "allOf"}
            return self.value(self._merge([rest, *parts]), depth + 1)
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                rest = {k: v for k, v in schema.items() if k != key}
                return self.value(self._merge([rest, self._deref(_first_not_null(branches))]), depth + 1)
        kind = _kind(schema)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, depth)
        if kind in ("integer", "number"):
            return _number(schema, integer=kind == "integer")
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self._string(schema)

    # ---- kinds ----------------------------------------------------------------------------------------------

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = [name for name in schema.get("required") or () if isinstance(name, str)]
        names = list(properties) if depth < OPTIONAL_DEPTH else [n for n in properties if n in required]
        names += [name for name in required if name not in names]
        extra = schema.get("additionalProperties")
        out: dict[str, Any] = {}
        for name in names:
            out[name] = self.value(properties.get(name, extra if isinstance(extra, dict) else True), depth + 1)
        minimum = schema.get("minProperties")
        if isinstance(minimum, int) and extra is not False:
            while len(out) < min(minimum, MAX_SIZE):
                out[f"key{len(out) + 1}"] = self.value(extra if isinstance(extra, dict) else True, depth + 1)
        return out

    def _array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        prefix = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else []
        items = schema.get("items", {"type": "string"})
        if isinstance(items, list):  # draft 4-7 tuple form
            prefix, items = items, schema.get("additionalItems", True)
        least = schema.get("minItems") if isinstance(schema.get("minItems"), int) else 0
        most = schema.get("maxItems") if isinstance(schema.get("maxItems"), int) else None
        count = min(max(least, len(prefix), 1 if depth < OPTIONAL_DEPTH else 0), MAX_SIZE)
        if most is not None:
            count = min(count, most)
        if items is False:
            count = min(count, len(prefix))
        out = [self.value(prefix[i] if i < len(prefix) else items, depth + 1) for i in range(count)]
        if schema.get("uniqueItems") is True:
            out = _made_unique(out)
        return out

    def _string(self, schema: dict[str, Any]) -> str:
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt in FORMATS:
            return FORMATS[fmt]
        if self.next_string < len(self.strings):
            text = self.strings[self.next_string]
            self.next_string += 1
        else:
            text = PLACEHOLDER
        least, most = schema.get("minLength"), schema.get("maxLength")
        if isinstance(least, int) and len(text) < least:
            text += "x" * (min(least, MAX_SIZE) - len(text))
        if isinstance(most, int) and len(text) > most:
            text = text[: max(most, 0)]
        return text

    # ---- references and combinators ------------------------------------------------------------------------

    def _resolve(self, ref: str) -> Any:
        """A local `$ref` (`#`, `#/$defs/x`, `#/definitions/x`, any JSON pointer); anything else allows all."""
        if ref == "#":
            return self.root
        if not ref.startswith("#/"):
            return True
        node = self.root
        for raw in ref[2:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                return True
        return node

    def _deref(self, schema: Any) -> Any:
        for _ in range(MAX_DEPTH):
            if not (isinstance(schema, dict) and isinstance(schema.get("$ref"), str)):
                break
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = self._merge([self._resolve(schema["$ref"]), rest]) if _constrains(rest) else self._resolve(
                schema["$ref"]
            )
        return schema

    def _merge(self, schemas: list[Any], depth: int = 0) -> dict[str, Any]:
        """One schema that asks for everything the given ones ask for (for `allOf` and `$ref` siblings):
        properties and `required` are united, other keywords taken from the first that has them."""
        if depth > MAX_DEPTH:
            return {}
        merged: dict[str, Any] = {}
        properties: dict[str, Any] = {}
        required: list[str] = []
        for schema in schemas:
            if not isinstance(schema, dict):
                continue
            schema = self._deref(schema)
            if not isinstance(schema, dict):
                continue
            for name, sub in (schema.get("properties") or {}).items():
                properties[name] = self._merge([properties[name], sub], depth + 1) if name in properties else sub
            required += [n for n in schema.get("required") or () if n not in required]
            for key, value in schema.items():
                if key not in _COMBINED_KEYS:
                    merged.setdefault(key, value)
        if properties:
            merged["properties"] = properties
            merged.setdefault("type", "object")
        if required:
            merged["required"] = required
        return merged


def _constrains(schema: dict[str, Any]) -> bool:
    """Whether a schema says anything about a value (annotations alone do not)."""
    return any(key not in ("description", "title", "examples", "$comment", "$defs", "definitions") for key in schema)


def _first_not_null(branches: list[Any]) -> Any:
    for branch in branches:
        if not (isinstance(branch, dict) and branch.get("type") == "null"):
            return branch
    return branches[0]


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind.lower()  # OpenAPI-dialect schemas (Gemini's responseSchema) name types in upper case
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema or "minItems" in schema:
        return "array"
    if any(key in schema for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
        return "number"
    return "string"


def _number(schema: dict[str, Any], *, integer: bool) -> int | float:
    """1, moved into [minimum, maximum] (exclusive bounds too, draft 4 and later) and onto `multipleOf`."""
    low, low_open = _bound(schema, "minimum", "exclusiveMinimum")
    high, high_open = _bound(schema, "maximum", "exclusiveMaximum")
    value: float = 1
    if low is not None and (value < low or (low_open and value <= low)):
        value = (math.floor(low) + 1 if low_open else math.ceil(low)) if integer else (low + 1 if low_open else low)
    if high is not None and (value > high or (high_open and value >= high)):
        if integer:
            value = math.ceil(high) - 1 if high_open else math.floor(high)
        else:
            value = (high - 1 if low is None else (low + high) / 2) if high_open else high
    step = schema.get("multipleOf")
    if isinstance(step, (int, float)) and not isinstance(step, bool) and step > 0:
        value = math.ceil(value / step) * step
        if high is not None and (value > high or (high_open and value >= high)):
            value = math.floor(high / step) * step
            if high_open and value >= high:
                value -= step
    if integer or float(value).is_integer():
        return int(value)
    return value


def _bound(schema: dict[str, Any], inclusive: str, exclusive: str) -> tuple[float | None, bool]:
    limit = schema.get(exclusive)
    if isinstance(limit, (int, float)) and not isinstance(limit, bool):
        return float(limit), True
    limit = schema.get(inclusive)
    if isinstance(limit, (int, float)) and not isinstance(limit, bool):
        return float(limit), schema.get(exclusive) is True  # draft 4: a boolean beside the bound
    return None, False


def _made_unique(values: list[Any]) -> list[Any]:
    """`uniqueItems`: repeated strings get a number appended, repeated numbers are counted up."""
    out: list[Any] = []
    for value in values:
        candidate, n = value, 1
        while candidate in out and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            n += 1
            candidate = f"{value} {n}" if isinstance(value, str) else value + n - 1
        out.append(candidate)
    return out
