"""`vllora-llm spec validate | render | transforms`: the spec author's tools."""

from __future__ import annotations

import json
import sys
from typing import Any

REDACTED_HEADERS = ("authorization", "x-api-key", "api-key", "x-goog-api-key")


def validate(paths: list[str]) -> int:
    from vllora_llm.engine.registry import validate_files

    diagnostics, notes = validate_files(paths)
    diagnostics = sorted([*diagnostics, *_sample_checks(paths, diagnostics)])
    for note in notes:
        print(f"note: {note}")
    for diagnostic in diagnostics:
        print(diagnostic)
    errors = sum(1 for d in diagnostics if d.severity == "ERROR")
    if errors:
        print(f"{errors} error(s)", file=sys.stderr)
        return 1
    return 0


def _sample_checks(paths: list[str], found: list[Any]) -> list[Any]:
    """SPEC050 for every valid spec that has protocol tests beside it (tools/spec_samples.py)."""
    from pathlib import Path

    from vllora_llm.engine.errors import SpecError
    from vllora_llm.engine.registry import TESTS_SUFFIX, discover, load_spec

    from .spec_samples import sample_diagnostics

    broken = {d.file for d in found if d.severity == "ERROR"}
    if paths:
        files = [f for raw in paths for f in (sorted(Path(raw).glob("*.y*ml")) if Path(raw).is_dir() else [Path(raw)])]
        targets = [(f, f.stem, str(f), [str(f.parent)]) for f in files if not f.stem.endswith(TESTS_SUFFIX)]
    else:
        targets = [(e.path, e.name, e.display, []) for e in discover().values()]
    out: list[Any] = []
    for file, name, display, search in targets:
        tests = file.with_name(file.stem + TESTS_SUFFIX + file.suffix)
        if display in broken or not tests.is_file():
            continue
        try:
            merged = load_spec(name, search)
        except SpecError:
            continue
        label = str(Path(display).with_name(tests.name))
        out += sample_diagnostics(file, display, merged, tests, label)
    return out


def _read_request(path: str) -> Any:
    if path == "-":
        return json.loads(sys.stdin.read())
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _parse_options(options: list[str]) -> dict[str, str] | None:
    """`--option k=v` pairs (later wins); None when one has no `=`."""
    out: dict[str, str] = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not key:
            return None
        out[key.strip()] = value
    return out


def render(
    provider: str,
    request_path: str,
    *,
    stream: bool,
    model: str | None,
    base_url: str | None,
    options: list[str] | None = None,
    operation: str = "chat",
    api_version: str | None = None,
) -> int:
    """Print the wire request. The streamed call when `--stream` or the request's own `"stream": true`
    says so; `options` (`region=eu-west-1`) fill the endpoint placeholders the spec declares; `api_version`
    picks one of the versions it declares."""
    from vllora_llm.engine.errors import LLMError
    from vllora_llm.engine.gateway import ChatCompletionRequest
    from vllora_llm.engine.gateway_ops import OPERATION_TYPES
    from vllora_llm.engine.registry import load_plan

    values = _parse_options(options or [])
    if values is None:
        print("error: --option takes KEY=VALUE (e.g. --option region=eu-west-1)", file=sys.stderr)
        return 2
    try:
        raw = _read_request(request_path)
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {request_path}: {exc}", file=sys.stderr)
        return 2
    if model and isinstance(raw, dict):
        raw["model"] = model
    plan = None
    try:
        plan = load_plan(provider, api_version=api_version).bind(values)
        if operation == "chat":
            request = ChatCompletionRequest.coerce(raw)
            stream = stream or request.stream is True
            wire, warnings = plan.encode(request, stream=stream, base_url=base_url)
            wires = [wire]
        else:
            op_request = OPERATION_TYPES[operation][0].coerce(raw)
            stream = stream or getattr(op_request, "stream", None) is True  # (a Responses request may say so)
            wires, warnings = plan.operation(operation).encode(op_request, base_url=plan.resolve_base_url(base_url),
                                                               stream=stream)
    except LLMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        unfilled = [name for name in sorted(plan.placeholders) if f"{{{name}}}" in str(exc)] if plan else []
        if unfilled:
            flags = " or ".join("--region R" if name == "region" else f"--option {name}=..." for name in unfilled)
            print(f"hint: fill the endpoint's placeholders with {flags}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(f"warning: {warning.message}", file=sys.stderr)
    from vllora_llm.engine.redaction import mask_url_passwords

    shown = []
    for wire in wires:
        headers = {k: ("<redacted>" if k.lower() in REDACTED_HEADERS else v) for k, v in wire.headers.items()}
        if plan.auth.scheme in ("bearer", "header") and plan.auth.env:
            name = plan.auth.name or "authorization"
            headers[name.lower()] = "<redacted>"
        url = mask_url_passwords(wire.url)
        shown.append({"method": wire.method, "url": url, "headers": headers, "body": json.loads(wire.body)})
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
