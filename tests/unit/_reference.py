"""A plain reference for the generated `read_choice`: the response mapping read through getters and templates,
with no code generation, so the generated reader can be compared with it on every payload."""

from __future__ import annotations

from typing import Any

from vllora_llm.engine.paths import compile_getter
from vllora_llm.engine.silent import SILENT_KIND
from vllora_llm.engine.templates import compile_template


def reference_read_choice(spec: dict[str, Any]) -> Any:
    """`read_choice` written plainly: getters, the kind found as `kind_by` says, each kind's template."""
    index = compile_getter(spec["index"]) if "index" in spec else None
    parts = compile_getter(spec.get("parts", "content"))
    kinds = {str(k): compile_template(v) for k, v in (spec.get("kinds") or {}).items()}
    kind_by = spec.get("kind_by") or {"field": "type"}
    kind_field = compile_getter(kind_by["field"]) if "field" in kind_by else None
    finish = compile_getter((spec.get("finish_reason") or {}).get("from", "finish_reason"))

    def kind_of(part: Any) -> str | None:
        if kind_field is not None:
            value = kind_field(part)
            return str(value) if value is not None else None
        if isinstance(part, dict):
            for key, kind in kind_by.get("present", ()):
                if part.get(key):
                    return str(kind)
        return None

    def read(raw: Any, ctx: Any) -> Any:
        pieces = []
        for part in parts(raw) or ():
            kind = kind_of(part)
            render = kinds.get(kind) if kind is not None else None
            if render is not None:
                pieces.append(render(part, ctx) or {SILENT_KIND: kind})  # (a kind that rendered nothing)
        return (index(raw) if index is not None else None), pieces, finish(raw)

    return read
