"""`vllora-llm spec validate | render | transforms`: the spec author's tools."""

from __future__ import annotations

import json
import sys
from typing import Any

REDACTED_HEADERS = ("authorization", "x-api-key", "api-key", "x-goog-api-key")


def validate(paths: list[str]) -> int:
    from vllora_llm.engine.registry import validate_files

    diagnostics, notes = validate_files(paths)
    for note in notes:
        print(f"note: {note}")
    for diagnostic in diagnostics:
        print(diagnostic)
    errors = sum(1 for d in diagnostics if d.severity == "ERROR")
    if errors:
        print(f"{errors} error(s)", file=sys.stderr)
        return 1
    return 0


def _read_request(path: str) -> Any:
    if path == "-":
        return json.loads(sys.stdin.read())
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def render(
    provider: str, request_path: str, *, stream: bool, model: str | None, base_url: str | None, operation: str = "chat"
) -> int:
    from vllora_llm.engine.errors import LLMError
    from vllora_llm.engine.gateway import ChatCompletionRequest
    from vllora_llm.engine.gateway_ops import OPERATION_TYPES
    from vllora_llm.engine.registry import load_plan

    try:
        raw = _read_request(request_path)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {request_path}: {exc}", file=sys.stderr)
        return 2
    if model:
        raw["model"] = model
    try:
        plan = load_plan(provider)
        if operation == "chat":
            wire, warnings = plan.encode(ChatCompletionRequest.coerce(raw), stream=stream, base_url=base_url)
            wires = [wire]
        else:
            request = OPERATION_TYPES[operation][0].coerce(raw)
            wires, warnings = plan.operation(operation).encode(request, base_url=plan.resolve_base_url(base_url))
    except LLMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(f"warning: {warning.message}", file=sys.stderr)
    shown = []
    for wire in wires:
        headers = {k: ("<redacted>" if k.lower() in REDACTED_HEADERS else v) for k, v in wire.headers.items()}
        if plan.auth.scheme in ("bearer", "header") and plan.auth.env:
            name = plan.auth.name or "authorization"
            headers[name.lower()] = "<redacted>"
        shown.append({"method": wire.method, "url": wire.url, "headers": headers, "body": json.loads(wire.body)})
    # one call as an object; a fan-out (one call per input) as the list of its calls, in input order
    print(json.dumps(shown[0] if len(shown) == 1 else shown, indent=2, ensure_ascii=False))
    return 0


def transforms() -> int:
    from vllora_llm.engine.transforms import REGISTRY

    for name in sorted(REGISTRY):
        transform = REGISTRY[name]
        print(f"{name}")
        print(f"    {transform.doc}")
        properties = transform.args_schema.get("properties") or {}
        if properties:
            print(f"    args: {', '.join(sorted(properties))}")
        for example in transform.examples:
            args = f" with {json.dumps(example.args)}" if example.args else ""
            print(f"    {json.dumps(example.input)}{args} -> {json.dumps(example.output)}")
    return 0
