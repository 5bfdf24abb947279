"""`vllora-llm spec matrix --operation embeddings|images|responses`: which provider offers an operation, and how it
takes each of the operation's parameters, computed from the specs (like the chat matrix)."""

from __future__ import annotations

import json
from typing import Any


def cell(rule: Any, name: str) -> str:
    """`yes`, `yes (field)` when the provider's name differs, or `no`."""
    if not isinstance(rule, dict) or rule.get("unsupported") is not None:
        return "no" if name != "model" or rule is not None else "yes (URL)"
    target = rule.get("to") or name.rsplit(".", 1)[-1]
    return "yes" if target == name.rsplit(".", 1)[-1] else f"yes (`{target}`)"


def build(operation: str) -> tuple[list[str], list[str], dict[str, dict[str, str]]]:
    """(providers, parameters, provider → parameter → cell); a provider without the operation has no cells."""
    from vllora_llm.engine.gateway_ops import operation_params
    from vllora_llm.engine.registry import discover, load_spec

    providers = sorted(discover())
    params = list(operation_params(operation))
    cells: dict[str, dict[str, str]] = {}
    for provider in providers:
        op = (load_spec(provider).get("operations") or {}).get(operation)
        if isinstance(op, dict):
            rules = op.get("params") or {}
            cells[provider] = {p: cell(rules.get(p), p) for p in params}
    return providers, params, cells


def run(operation: str, fmt: str) -> int:
    providers, params, cells = build(operation)
    if fmt == "json":
        print(json.dumps({"operation": operation, "providers": {p: cells.get(p) for p in providers}}, indent=2))
        return 0
    lines = [f"| {operation} | " + " | ".join(providers) + " |", "|---|" + "---|" * len(providers)]
    absent = "via chat" if operation == "responses" else "no"  # the Responses API is translated where not native
    lines.append("| offered | " + " | ".join("yes" if p in cells else absent for p in providers) + " |")
    for param in params:
        lines.append(f"| {param} | " + " | ".join(cells[p][param] if p in cells else "—" for p in providers) + " |")
    print("\n".join(lines))
    return 0
