"""`vllora-llm spec compile PROVIDER [--operation chat]`: the source the compiler generates from a spec.

Every mapping of a plan that is lowered into code (request and response templates, the per-choice response
reader, stream event handlers) is printed under the file name its source is registered with in `linecache`:
the name a traceback through that code shows.
"""

from __future__ import annotations

import sys

OPERATIONS = ("chat",)


def run(provider: str, operation: str = "chat") -> int:
    from vllora_llm.engine.codegen import collect
    from vllora_llm.engine.errors import SpecError
    from vllora_llm.engine.plan import Plan
    from vllora_llm.engine.registry import discover, load_spec, unknown_spec_message

    files = discover()
    if provider not in files:
        print(f"error: {unknown_spec_message(provider, files)}", file=sys.stderr)
        return 1
    if operation not in OPERATIONS:
        print(f"error: {provider!r} has no operation {operation!r}; known: {', '.join(OPERATIONS)}", file=sys.stderr)
        return 1
    try:
        spec = load_spec(provider)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    with collect() as built:
        Plan(spec)
    blocks: dict[str, None] = {}  # (a model override's encoder repeats most of the base's functions: each once)
    for filename, source, names in built:
        shown = "".join(f"#   {name} = {_shown(value)}\n" for name, value in names.items() if name.startswith("_b"))
        blocks.setdefault(f"\n# ---- {filename}\n{shown}{source}")
    out = [f"# {provider} {operation}: {len(built)} generated functions, {len(blocks)} different\n", *blocks]
    sys.stdout.write("".join(out))
    return 0


def _shown(value: object) -> str:
    """A bound value as a reader wants it: a literal's repr, a function's name (its transform or template)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return repr(value)
    if isinstance(value, (list, tuple, dict)) and len(repr(value)) <= 80:
        return repr(value)
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None) or type(value).__name__
    return f"<{type(value).__name__} {name}>" if callable(value) else f"<{type(value).__name__}>"
