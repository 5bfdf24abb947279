"""`vllora-llm spec migrate FILE [-o OUT]`: a `vllora.dev/v1` spec rewritten as `vllora.dev/v2`.

The file must be a valid v1 spec (its diagnostics are printed otherwise). What changes: transform calls are
written one way (`{$op: NAME, ...args}`, a bare `NAME`, a list for a pipeline; adjust entries are calls), the
names of transforms merged into others are today's, a rule's `template: {$op: ...}` without `in` joins its
`transform` pipeline, and override layers get what they need to mean the same thing now that matching layers
add up (v1 used only the last matching one). The result compiles to the same plan. YAML comments are not
carried over (the data is written anew): keep the v1 file beside it to copy them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

HEADER = "# Migrated to vllora.dev/v2 by `vllora-llm spec migrate` (the v1 file's comments are not carried over).\n"


def migrate(path: Path) -> tuple[str | None, list[Any]]:
    """The v2 text of the v1 spec at `path`, or None and the diagnostics that stop it."""
    from vllora_llm.engine.registry import SpecFile, discover, resolve
    from vllora_llm.engine.spec.desugar import V2, settle_v1_layers, settle_v1_operation_layers, to_v2, version_of
    from vllora_llm.engine.spec.diagnostics import Diagnostics
    from vllora_llm.engine.spec.loader import load_file

    diags = Diagnostics()
    doc = load_file(str(path), str(path), diags)
    if doc is None or not isinstance(doc.data, dict):
        return None, diags.sorted() or [f"{path}: not a spec"]
    if version_of(doc.data) == V2:
        return path.read_text(encoding="utf-8"), []
    files = discover([str(path.resolve().parent)])
    files[path.stem] = SpecFile(path.stem, path, str(path), False)
    merged = resolve(path.stem, files, diags)
    if merged is None or diags.errors:
        return None, diags.sorted()
    data = to_v2(doc.data)
    base = to_v2({k: v for k, v in merged.items() if k != "overrides"})
    own_layers = data.get("overrides")
    if isinstance(own_layers, list) and own_layers:
        data["overrides"] = settle_v1_layers(own_layers, base)
    for name, operation in (data.get("operations") or {}).items():
        layers = operation.get("overrides") if isinstance(operation, dict) else None
        if isinstance(layers, list) and layers:
            whole = {**{k: v for k, v in base["operations"][name].items() if k != "overrides"}, "overrides": layers}
            operation["overrides"] = settle_v1_operation_layers(whole)["overrides"]
    fold_templates(data)
    return HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110,
                                   default_flow_style=None), []


def fold_templates(data: dict[str, Any]) -> None:
    """`template: {$op: X, ...}` with no `in` (the value itself) and no `map` or `each` beside it runs right
    before the rule's `transform`: written as the first call of that pipeline."""
    from vllora_llm.engine.spec.desugar import _get, _params_blocks

    layered = _names_in_layers(data)
    for block in _params_blocks(data):
        rules = _get(data, block)
        for name, rule in (rules or {}).items() if isinstance(rules, dict) else ():
            if (block[:2] if block[0] == "operations" else ()) + (name,) in layered:
                continue  # a layer changes this rule: its template and transform stay apart, as they merge apart
            template = rule.get("template") if isinstance(rule, dict) else None
            if not (isinstance(template, dict) and "$op" in template and "in" not in template):
                continue
            if "map" in rule or "each" in rule:
                continue
            existing = rule.get("transform")
            first = template["$op"] if list(template) == ["$op"] and isinstance(template["$op"], str) else template
            calls = [first, *(existing if isinstance(existing, list) else [existing] if existing else [])]
            del rule["template"]
            rule["transform"] = calls[0] if len(calls) == 1 else calls


def _names_in_layers(data: dict[str, Any]) -> set[tuple[str, ...]]:
    """The rules some override layer or API version patch writes: (name,) for chat, (operations, op, name)."""
    found: set[tuple[str, ...]] = set()
    for key in ("overrides", "versions"):
        holder = data.get(key)
        layers = holder if isinstance(holder, list) else list(holder.values()) if isinstance(holder, dict) else []
        found |= {(str(n),) for layer in layers if isinstance(layer, dict) for n in (layer.get("params") or {})}
    for op, operation in (data.get("operations") or {}).items():
        for layer in (operation.get("overrides") or ()) if isinstance(operation, dict) else ():
            found |= {("operations", str(op), str(n)) for n in (layer.get("params") or {})}
    return found


def run(file: str, out: str | None) -> int:
    text, problems = migrate(Path(file))
    if text is None:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{file}: not migrated ({sum(1 for p in problems if getattr(p, 'severity', 'ERROR') == 'ERROR')} "
              "error(s))", file=sys.stderr)
        return 1
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
