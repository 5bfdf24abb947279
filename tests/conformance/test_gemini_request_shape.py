"""Every rendered Gemini request body has the shape of the v1beta protos' `GenerateContentRequest`.

The protos (tests/recordings/schemas/gemini/google/ai/generativelanguage/v1beta/*.proto) are the
official wire definition; REST JSON is their proto3 JSON mapping (lowerCamelCase names, or `json_name`).
A small parser reads their messages, fields, maps, oneofs and enums; the check walks each rendered body
(every non-error case of requests/gemini.yaml) and fails on a key the message does not have, a scalar of
the wrong JSON type, or an enum value the enum does not list. It reads the protos kept in tests/recordings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from vllora_llm.tools.protocol_tests import Case, render

from ._support import RECORDINGS, load_cases

PROTOS = RECORDINGS / "schemas" / "gemini" / "google" / "ai" / "generativelanguage" / "v1beta"
ROOT = "GenerateContentRequest"
URL_FIELDS = frozenset({"model"})  # path parameters: in the URL, never in the body


@dataclass
class Field:
    name: str
    json_name: str
    type: str
    repeated: bool = False
    map_value: str | None = None
    oneof: str | None = None


@dataclass
class Message:
    name: str  # fully qualified inside the package: `Tool.GoogleSearch`
    fields: dict[str, Field] = field(default_factory=dict)


# ---- the proto parser -------------------------------------------------------------------------------------

_BLOCK = re.compile(r"^(message|enum|oneof)\s+(\w+)$")
_FIELD = re.compile(
    r"^(?:(repeated|optional)\s+)?(?:map\s*<\s*([\w.]+)\s*,\s*([\w.]+)\s*>|([\w.]+))\s+(\w+)\s*=\s*\d+\s*(?:\[(.*)\])?$",
    re.S,
)
_ENUM_VALUE = re.compile(r"^(\w+)\s*=\s*-?\d+\s*(?:\[.*\])?$", re.S)
_JSON_NAME = re.compile(r'json_name\s*=\s*"([^"]+)"')


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _strip_comments(text: str) -> str:
    out, i, in_string = [], 0, False
    while i < len(text):
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\":
                out.append(text[i + 1])
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif text.startswith("//", i):
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def parse_protos(folder: Path) -> tuple[dict[str, Message], dict[str, set[str]]]:
    messages: dict[str, Message] = {}
    enums: dict[str, set[str]] = {}
    for path in sorted(folder.glob("*.proto")):
        _parse(_strip_comments(path.read_text(encoding="utf-8")), messages, enums)
    return messages, enums


def _parse(text: str, messages: dict[str, Message], enums: dict[str, set[str]]) -> None:
    scopes: list[tuple[str, str]] = []  # (kind, qualified name)
    buf: list[str] = []
    i, brackets, in_string = 0, 0, False
    while i < len(text):
        ch = text[i]
        if in_string:
            buf.append(ch)
            in_string = ch != '"'
            i += 1
            continue
        if ch == '"':
            in_string = True
        elif ch == "[":
            brackets += 1
        elif ch == "]":
            brackets -= 1
        elif ch == "{" and not brackets:
            head = " ".join("".join(buf).split())
            buf = []
            match = _BLOCK.match(head)
            if match is None:  # service, rpc, option ... = {...}: not wire shapes, skip the whole block
                i = _skip_block(text, i)
                continue
            kind, name = match.groups()
            outer = next((q for k, q in reversed(scopes) if k == "message"), "")
            qualified = f"{outer}.{name}" if outer else name
            scopes.append((kind, qualified))
            if kind == "message":
                messages[qualified] = Message(qualified)
            elif kind == "enum":
                enums[qualified] = set()
            i += 1
            continue
        elif ch == "}" and not brackets:
            scopes.pop()
            buf = []
            i += 1
            continue
        elif ch == ";" and not brackets:
            _statement(" ".join("".join(buf).split()), scopes, messages, enums)
            buf = []
            i += 1
            continue
        buf.append(ch)
        i += 1


def _skip_block(text: str, start: int) -> int:
    depth, i, in_string = 0, start, False
    while i < len(text):
        ch = text[i]
        if in_string:
            in_string = ch != '"'
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                i += 1
                if i < len(text) and text[i] == ";":
                    i += 1
                return i
        i += 1
    return i


def _statement(stmt: str, scopes: list[tuple[str, str]], messages: dict[str, Message],
               enums: dict[str, set[str]]) -> None:
    if not scopes or stmt.startswith(("option ", "reserved ", "syntax", "package", "import")):
        return
    kind, qualified = scopes[-1]
    oneof = None
    if kind == "oneof":
        oneof = qualified.rsplit(".", 1)[-1]
        kind, qualified = "message", qualified.rsplit(".", 1)[0]
    if kind == "enum":
        match = _ENUM_VALUE.match(stmt)
        if match:
            enums[qualified].add(match.group(1))
        return
    match = _FIELD.match(stmt)
    if match is None:
        return
    label, _map_key, map_value, plain, name, options = match.groups()
    json_name = _JSON_NAME.search(options or "")
    messages[qualified].fields[json_name.group(1) if json_name else camel(name)] = Field(
        name=name, json_name=json_name.group(1) if json_name else camel(name), type=plain or "map",
        repeated=label == "repeated", map_value=map_value, oneof=oneof,
    )


MESSAGES, ENUMS = parse_protos(PROTOS)


# ---- the check --------------------------------------------------------------------------------------------

_INTS = frozenset({"int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64"})
_FLOATS = frozenset({"float", "double"})


def _resolve(type_name: str, scope: str) -> str:
    """A type name as written in `scope` → its qualified name (innermost scope first, as protoc does)."""
    name = type_name.removeprefix("google.ai.generativelanguage.v1beta.")
    parts = scope.split(".") if scope else []
    while True:
        candidate = ".".join([*parts, name])
        if candidate in MESSAGES or candidate in ENUMS:
            return candidate
        if not parts:
            return name
        parts.pop()


def shape_problems(value: Any, type_name: str, scope: str, where: str) -> list[str]:
    if type_name == "google.protobuf.Value":
        return []
    if type_name == "google.protobuf.Struct":
        return [] if isinstance(value, dict) else [f"{where}: expected an object, got {value!r}"]
    if type_name in ("google.protobuf.Duration", "google.protobuf.Timestamp", "string", "bytes"):
        return [] if isinstance(value, str) else [f"{where}: expected a string, got {value!r}"]
    if type_name == "bool":
        return [] if isinstance(value, bool) else [f"{where}: expected a boolean, got {value!r}"]
    if type_name in _INTS:
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and value.isdigit())
        return [] if ok else [f"{where}: expected an integer, got {value!r}"]
    if type_name in _FLOATS:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected a number, got {value!r}"]
    qualified = _resolve(type_name, scope)
    if qualified in ENUMS:
        return [] if value in ENUMS[qualified] else [f"{where}: {value!r} is not a {qualified} value"]
    message = MESSAGES.get(qualified)
    if message is None:
        return [f"{where}: unknown type {type_name!r} (scope {scope!r})"]
    if not isinstance(value, dict):
        return [f"{where}: expected a {qualified} object, got {value!r}"]
    problems: list[str] = []
    chosen: dict[str, str] = {}
    for key in value:
        group = message.fields[key].oneof if key in message.fields else None
        if group is not None and chosen.setdefault(group, key) != key:
            problems.append(f"{where}: {chosen[group]!r} and {key!r} are both in {qualified}'s oneof {group}")
    for key, item in value.items():
        spec = message.fields.get(key)
        if spec is None:
            problems.append(f"{where}.{key}: {qualified} has no field {key!r} (fields: {sorted(message.fields)})")
            continue
        here = f"{where}.{key}"
        if spec.map_value is not None:
            if not isinstance(item, dict):
                problems.append(f"{here}: expected a map, got {item!r}")
                continue
            for k, v in item.items():
                problems += shape_problems(v, spec.map_value, qualified, f"{here}[{k!r}]")
        elif spec.repeated:
            if not isinstance(item, list):
                problems.append(f"{here}: expected a list, got {item!r}")
                continue
            for n, element in enumerate(item):
                problems += shape_problems(element, spec.type, qualified, f"{here}[{n}]")
        else:
            problems += shape_problems(item, spec.type, qualified, here)
    return problems


NEWER_THAN_THE_PROTOS = {  # Gemini 3's thinkingConfig.thinkingLevel: the recorded v1beta protos predate it
    "gemini:reasoning_effort_is_a_level_on_3", "gemini:reasoning_effort_none_on_3_is_the_least_level"}


def _body_cases() -> list[Any]:
    cases = [c for c in load_cases("requests") if c.provider == "gemini" and "error" not in c.expect
             and c.id not in NEWER_THAN_THE_PROTOS]
    return [pytest.param(c, id=c.id) for c in cases]


@pytest.mark.parametrize("case", _body_cases())
def test_rendered_body_matches_the_protos(case: Case) -> None:
    wire, _ = render(case)
    body = json.loads(wire.body)
    assert not URL_FIELDS & set(body), f"{case.where}: {sorted(URL_FIELDS & set(body))} belong in the URL"
    problems = shape_problems(body, ROOT, "", "body")
    assert not problems, f"{case.where} ({case.id}):\n" + "\n".join(problems)


# ---- the checker itself ------------------------------------------------------------------------------------

def test_parser_reads_the_messages_it_needs() -> None:
    request = MESSAGES[ROOT].fields
    assert {"contents", "systemInstruction", "generationConfig", "tools", "toolConfig", "cachedContent",
            "safetySettings"} <= set(request)
    assert MESSAGES["GenerationConfig"].fields["responseJsonSchema"].name == "response_json_schema_ordered"
    assert MESSAGES["GenerationConfig"].fields["_responseJsonSchema"].name == "response_json_schema"
    assert MESSAGES["Schema"].fields["properties"].map_value == "Schema"
    assert {"thought", "thoughtSignature", "functionCall", "functionResponse", "inlineData", "fileData"} <= set(
        MESSAGES["Part"].fields)
    assert {"AUTO", "ANY", "NONE", "VALIDATED"} <= ENUMS["FunctionCallingConfig.Mode"]
    assert "OBJECT" in ENUMS["Type"]
    assert MESSAGES["Part"].fields["functionCall"].oneof == "data" and MESSAGES["Part"].fields["thought"].oneof is None


@pytest.mark.parametrize(("body", "wrong"), [
    ({"contents": [{"role": "user", "parts": [{"txt": "x"}]}]}, "Part has no field 'txt'"),
    ({"generationConfig": {"max_output_tokens": 5}}, "no field 'max_output_tokens'"),
    ({"generationConfig": {"temperature": "hot"}}, "expected a number"),
    ({"toolConfig": {"functionCallingConfig": {"mode": "REQUIRED"}}}, "'REQUIRED' is not a FunctionCallingConfig.Mode"),
    ({"tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "OBJECT", "nullable": "yes"}}]}]},
     "expected a boolean"),
    ({"tools": {"functionDeclarations": []}}, "expected a list"),
    ({"contents": [{"parts": [{"text": "x", "inlineData": {"mimeType": "a/b", "data": ""}}]}]}, "oneof data"),
    ({"generationConfig": {"responseSchema": {"type": "object"}}}, "'object' is not a Type value"),
])
def test_checker_catches_wrong_shapes(body: dict[str, Any], wrong: str) -> None:
    problems = shape_problems(body, ROOT, "", "body")
    assert any(wrong in p for p in problems), problems
