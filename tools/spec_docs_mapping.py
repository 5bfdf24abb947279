"""The mapping half of `vllora-llm spec docs`: how a spec builds messages and reads responses, streams and
errors, said as tables a reader can check against the provider's own documentation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

PART_KINDS = ("text", "image_url", "input_audio", "file", "tool_call", "tool_result", "reasoning",
              "redacted_reasoning", "refusal")


def _code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def _rows(header: tuple[str, str], rows: list[tuple[str, str]]) -> list[str]:
    return [f"| {header[0]} | {header[1]} |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows), ""]


def messages_section(spec: Mapping[str, Any]) -> list[str]:
    messages = spec.get("messages") or {}
    out = ["## Messages", ""]
    if messages.get("mode", "passthrough") == "passthrough":
        out.append("Sent in the unified (OpenAI) shape, as they are.")
        if messages.get("roles"):
            out.append("Roles renamed: " + ", ".join(f"`{a}` → `{b}`" for a, b in messages["roles"].items()) + ".")
        if messages.get("drop_fields"):
            out.append("Fields removed from every message, part and tool call: "
                       + ", ".join(f"`{f}`" for f in messages["drop_fields"]) + ".")
        if (messages.get("tool_results") or {}).get("require_call"):
            out.append("A tool message must answer an earlier assistant tool call (else a `MappingError`).")
        return [*out, ""]
    out += [f"Built turn by turn into `{messages.get('to', 'messages')}`.", ""]
    rows: list[tuple[str, str]] = []
    system = messages.get("system")
    if isinstance(system, Mapping) and system.get("to"):
        how = ", ".join(f"{k} `{v}`" for k, v in system.items() if k not in ("to", "template"))
        rows.append(("system / developer", f"lifted to `{system['to']}`" + (f" ({how})" if how else "")))
    for unified, provider in (messages.get("roles") or {}).items():
        rows.append((f"role `{unified}`", f"role `{provider}`"))
    if messages.get("first_role"):
        rows.append(("first turn", f"must have role `{messages['first_role']}`"))
    if messages.get("merge_consecutive_roles"):
        rows.append(("consecutive turns of one role", "merged into one turn"))
    if (messages.get("tool_results") or {}).get("require_call"):
        rows.append(("tool message", "must answer an earlier assistant tool call"))
    if messages.get("order"):
        rows.append(("parts order", _code(messages["order"])))
    rows.append(("turn", _code(messages.get("turn", {"role": "$role", "content": "$parts"}))))
    out += _rows(("unified", "provider"), rows)
    parts = messages.get("parts") or {}
    out += _rows(("part kind", "template"),
                 [(f"`{kind}`", _code(parts[kind]) if kind in parts else "not supported (`MappingError`)")
                  for kind in PART_KINDS])
    return out


def response_section(spec: Mapping[str, Any]) -> list[str]:
    response = spec.get("response") or {}
    out = ["## Responses", ""]
    if response.get("mode", "passthrough") == "passthrough":
        return [*out, "Decoded as the unified (OpenAI) shape, as it is.", ""]
    rows = [(f"`{key}`", _code(response[key])) for key in ("id", "model", "choices", "index", "parts", "kind_by")
            if key in response]
    rows += [(f"part kind `{kind}`", _code(template)) for kind, template in (response.get("kinds") or {}).items()]
    finish = response.get("finish_reason") or {}
    if finish:
        rows.append(("`finish_reason`", f"from {_code(finish.get('from'))}"))
        rows += [(f"↳ `{wire}`", f"`{unified}`") for wire, unified in (finish.get("map") or {}).items()]
    rows += [(f"usage `{field}`", _code(template)) for field, template in (response.get("usage") or {}).items()]
    if response.get("blocked"):
        rows.append(("blocked prompt", f"when {_code(response['blocked'])}: `InvalidRequestError`"))
    return [*out, *_rows(("unified", "read from the body"), rows)]


def stream_section(spec: Mapping[str, Any]) -> list[str]:
    stream = spec.get("stream") or {}
    out = ["## Streams", "", f"Framing `{stream.get('framing', 'sse')}`, mode `{stream.get('mode', 'passthrough')}`."]
    facts = [(key, stream[key]) for key in ("event_type", "terminal", "done_data", "error_when", "stray_lines")
             if key in stream]
    out += [f"- `{key}`: {_code(value)}" for key, value in facts]
    out.append("")
    events = stream.get("events") or {}
    if not events:
        return out
    rows: list[tuple[str, str]] = []
    for name, mapping in events.items():
        if isinstance(mapping, Mapping) and "switch" in mapping:
            rows.append((f"`{name}`", f"by {_code(mapping['switch'])}:"))
            rows += [(f"↳ `{case}`", _code(value)) for case, value in (mapping.get("cases") or {}).items()]
        else:
            rows.append((f"`{name}`", _code(mapping)))
    return [*out, *_rows(("event", "gives"), rows)]


def extras_section(spec: Mapping[str, Any]) -> list[str]:
    """The provider fields the spec keeps in `extras` (on responses, chunks and the stream aggregate)."""
    out = ["## Extras", ""]
    response = (spec.get("response") or {}).get("extras") or {}
    stream = spec.get("stream") or {}
    rows = [(f"`{name}`", f"response: {_code(template)}") for name, template in response.items()]
    own = stream.get("extras") or (response if stream.get("mode") == "whole_response" else {})
    rows += [(f"`{name}`", f"each stream event: {_code(template)}") for name, template in own.items()]
    for event, mapping in (stream.get("events") or {}).items():
        templates = ([(f"{event}` / `{case}", value) for case, value in (mapping.get("cases") or {}).items()]
                     if isinstance(mapping, Mapping) and "switch" in mapping else [(str(event), mapping)])
        for label, template in templates:
            if isinstance(template, Mapping) and isinstance(template.get("extras"), Mapping):
                rows += [(f"`{name}`", f"event `{label}`: {_code(value)}")
                         for name, value in template["extras"].items()]
    if not rows:
        return [*out, "None declared: `extras` is empty (`extras=\"raw\"` on the client keeps the whole body).", ""]
    return [*out, "Provider fields kept in `extras` (a value that is null or empty is left out; a stream's aggregate "
            "concatenates lists and keeps the last other value):", "",
            *_rows(("extra", "read from"), rows)]


def errors_section(spec: Mapping[str, Any]) -> list[str]:
    errors = spec.get("errors") or {}
    if not errors:
        return ["## Errors", "", "Read with the defaults (an OpenAI-shaped `error` object).", ""]
    return ["## Errors", "", *_rows(("field", "read from"), [(f"`{k}`", _code(v)) for k, v in errors.items()])]


def mapping_sections(spec: Mapping[str, Any]) -> list[str]:
    return [*messages_section(spec), *response_section(spec), *stream_section(spec), *extras_section(spec),
            *errors_section(spec)]
