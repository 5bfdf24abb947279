"""Finding, merging and caching specs: the spec search path, `extends`, and compiled-plan caching.

Search order (later wins for the same name): the built-in specs shipped in `vllora_llm.specs`, then each
folder of `VLLORA_SPEC_PATH` (os.pathsep-separated), then `spec_path=` arguments.

`extends: base` merge rules: mappings merge key by key, recursively; lists and scalars in the child replace
the base's; a key set to null in the child removes it from the result (e.g. `params: {n: null}` drops the
base's rule, so the policy applies); `metadata` is the child's own, inheriting only `api_version`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SpecError
from .layers import merge_layer
from .plan import Plan
from .prevalidated import prevalidated
from .spec import cache as spec_cache
from .spec.diagnostics import Diagnostic, Diagnostics

if TYPE_CHECKING:
    from .spec.loader import SourceDoc

# The loader (PyYAML) and the validator (jsonschema) are imported where they are used: a process whose
# specs all come from the compiled-spec cache (spec/cache.py) never imports either.

ENV_VAR = "VLLORA_SPEC_PATH"
TESTS_SUFFIX = ".tests"
"""`<name>.tests.yaml` beside a spec holds its protocol tests (`vllora-llm spec test`)."""


@dataclass(slots=True)
class SpecFile:
    name: str
    path: Path
    display: str
    builtin: bool
    shadows: list[str] = field(default_factory=list)


def _close_matches(name: str, known: list[str]) -> list[str]:
    """The best near miss of `name` (for error hints; difflib is imported only when one is needed)."""
    from difflib import get_close_matches

    return get_close_matches(name, known, n=1)


def builtin_dir() -> Path:
    from vllora_llm import specs  # (its folder: what `importlib.resources.files` gives, without importing it)

    return Path(specs.__path__[0]) / "providers"


def search_dirs(spec_path: Iterable[str | os.PathLike[str]] = ()) -> list[tuple[Path, bool]]:
    dirs: list[tuple[Path, bool]] = [(builtin_dir(), True)]
    env = os.environ.get(ENV_VAR, "")
    dirs += [(Path(p), False) for p in env.split(os.pathsep) if p]
    dirs += [(Path(p), False) for p in spec_path]
    return dirs


def _display(path: Path, builtin: bool) -> str:
    if builtin:
        return f"specs/providers/{path.name}"
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def discover(spec_path: Iterable[str | os.PathLike[str]] = ()) -> dict[str, SpecFile]:
    """Every spec on the search path by name; a later folder's spec shadows an earlier one's."""
    found: dict[str, SpecFile] = {}
    for folder, builtin in search_dirs(spec_path):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
            if path.stem.endswith(TESTS_SUFFIX):
                continue  # a spec's protocol tests (`<name>.tests.yaml`), not a spec
            name = path.stem
            entry = SpecFile(name, path, _display(path, builtin), builtin)
            if name in found:
                entry.shadows = [*found[name].shadows, found[name].display]
            found[name] = entry
    return found


merge = merge_layer
"""`extends` merges a child over its base as override layers merge: mappings key by key, a null removes."""


def _load_checked(entry: SpecFile, diags: Diagnostics) -> SourceDoc | None:
    """The file checked against its format's schema, then in the compiler's form (spec/desugar.py) and
    checked there, its diagnostics placed and named where the file has them."""
    from .spec.desugar import internal
    from .spec.loader import load_file
    from .spec.validate import schema_pass, semantic_pass

    doc = load_file(str(entry.path), entry.display, diags)
    if doc is None:
        return None
    if not schema_pass(doc, diags):
        return doc
    lowered = internal(doc, diags)
    before = len(diags.items)
    semantic_pass(lowered, diags, file_stem=entry.name)
    if lowered.aliases:
        diags.items[before:] = [_placed(d, lowered) for d in diags.items[before:]]
    return lowered


def _placed(diagnostic: Diagnostic, doc: SourceDoc) -> Diagnostic:
    """A diagnostic about the compiler's form, named by the path the file has (`params.x.transform.pattern`,
    not `params.x.transform.args.pattern`)."""
    from dataclasses import replace

    from .spec.loader import format_path

    for new in sorted(doc.aliases, key=len, reverse=True):
        prefix = format_path(new)
        if diagnostic.path == prefix or diagnostic.path.startswith((prefix + ".", prefix + "[")):
            return replace(diagnostic, path=format_path(doc.source_path(new)) + diagnostic.path[len(prefix):])
    return diagnostic


def resolve(
    name: str, files: dict[str, SpecFile], diags: Diagnostics, *, used: list[str] | None = None
) -> dict[str, Any] | None:
    """The merged data of spec `name` (following `extends`), reporting problems into `diags`; `used` receives
    the names of the specs it was made from (the extends chain)."""
    chain: list[SourceDoc] = []
    seen: list[str] = used if used is not None else []
    current = name
    while True:
        entry = files.get(current)
        if entry is None:
            return None
        doc = _load_checked(entry, diags)
        if doc is None or not isinstance(doc.data, dict):
            return None
        chain.append(doc)
        seen.append(current)
        parent = doc.data.get("extends")
        if not parent:
            break
        if parent in seen:
            diags.add(
                doc.file,
                doc.mark(("extends",)),
                "SPEC021",
                "extends",
                f"extends cycle: {' -> '.join([*seen, parent])}",
                hint="a spec cannot extend itself, directly or through others; remove one extends",
            )
            return None
        if parent not in files:
            diags.add(
                doc.file,
                doc.mark(("extends",)),
                "SPEC020",
                "extends",
                f"no spec named {parent!r}",
                hint=f"did you mean {close[0]!r}?"
                if (close := _close_matches(parent, list(files)))
                else f"known specs: {', '.join(sorted(files))}",
            )
            return None
        current = parent
    merged: dict[str, Any] = {}
    layers_from: dict[tuple[str, ...], str] = {}  # where override layers are → the format of the file giving them
    for doc in reversed(chain):
        data = dict(doc.data)
        data.pop("extends", None)
        metadata = data.pop("metadata", {})
        inherited = {"api_version": merged.get("metadata", {}).get("api_version")} if merged else {}
        merged = merge(merged, data)
        merged["metadata"] = {**{k: v for k, v in inherited.items() if v is not None}, **metadata}
        _note_layers(data, layers_from)
    _settle_layers(merged, layers_from)
    if len(chain) > 1:
        from .spec.validate import inherited_variables_pass, merged_pass

        merged_pass(merged, chain[0], diags)
        inherited_variables_pass(merged, chain, diags)
    return merged


def _note_layers(data: dict[str, Any], layers_from: dict[tuple[str, ...], str]) -> None:
    from .spec.desugar import version_of

    version = version_of(data)
    if "overrides" in data:
        layers_from[()] = version
    for name, operation in (data.get("operations") or {}).items():
        if isinstance(operation, dict) and "overrides" in operation:
            layers_from[(str(name),)] = version


def _settle_layers(merged: dict[str, Any], layers_from: dict[tuple[str, ...], str]) -> None:
    """Override layers written in v1 (the last matching layer is used) as layers that add up (v2, what the
    plan does): see spec/desugar.py."""
    from .spec.desugar import V1, settle_v1_layers, settle_v1_operation_layers

    if layers_from.get(()) == V1 and isinstance(merged.get("overrides"), list):
        base = {k: v for k, v in merged.items() if k != "overrides"}
        merged["overrides"] = settle_v1_layers(merged["overrides"], base)
    operations = merged.get("operations")
    if isinstance(operations, dict):
        operations = merged["operations"] = dict(operations)  # (a child's own block may be shared, not copied)
    for name, version in layers_from.items():
        if name and version == V1 and isinstance(operations, dict) and isinstance(operations.get(name[0]), dict):
            operations[name[0]] = settle_v1_operation_layers(operations[name[0]])


def validate_files(paths: Sequence[str | os.PathLike[str]] = ()) -> tuple[list[Diagnostic], list[str]]:
    """Diagnostics for the given spec files or folders (all specs on the search path when empty). A routing
    config (the gateway's models.yaml: a list of entries) is checked as one, its providers against the specs."""
    diags = Diagnostics()
    files = discover()
    notes: list[str] = []
    targets: list[SpecFile] = []
    if paths:
        for raw in paths:
            path = Path(raw)
            items = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path]
            for item in (i for i in items if not (path.is_dir() and i.stem.endswith(TESTS_SUFFIX))):
                entry = SpecFile(item.stem, item, _display(item, False), False)
                found = files.get(item.stem)
                if found is not None:
                    same = found.path.resolve() == item.resolve()
                    entry.shadows = found.shadows if same else [*found.shadows, found.display]
                if entry.shadows:
                    notes.append(f"{entry.display} overrides {', '.join(entry.shadows)}")
                files[item.stem] = entry
                targets.append(entry)
    else:
        targets = list(files.values())
        notes = [f"{entry.display} overrides {', '.join(entry.shadows)}" for entry in targets if entry.shadows]
    routing = [(entry, doc) for entry in targets if (doc := _routing_doc(entry, diags)) is not None]
    for entry, _ in routing:  # a models.yaml is no provider spec: not a name `extends` or a route may use
        if files.get(entry.name) is entry:
            del files[entry.name]
    checked = {id(entry) for entry, _ in routing}
    for entry in targets:
        if id(entry) in checked:
            continue
        if not entry.path.exists():
            diags.add(entry.display, (1, 1), "SPEC001", "", "no such file")
            continue
        resolve(entry.name, files, diags)
    if routing:
        from .routing import check_routing

        for _, doc in routing:
            check_routing(doc, diags, set(files))
    return diags.sorted(), notes


def _routing_doc(entry: SpecFile, diags: Diagnostics) -> SourceDoc | None:
    """The loaded document when `entry` is a routing config (the gateway's models.yaml), else None. Its
    loading problems go to `diags`; a spec's are reported when it is resolved."""
    from .routing import is_routing_data
    from .spec.loader import load_file

    if not entry.path.is_file():
        return None
    scratch = Diagnostics()
    doc = load_file(str(entry.path), entry.display, scratch)
    if doc is None or not is_routing_data(doc.data):
        return None
    diags.items.extend(scratch.items)
    return doc


_PLANS: dict[tuple[Any, ...], Plan] = {}


def load_spec(name: str, spec_path: Sequence[str | os.PathLike[str]] = ()) -> dict[str, Any]:
    return _load_validated(name, discover(spec_path))[0]


def unknown_spec_message(name: str, files: Iterable[str]) -> str:
    """Why `name` was not found and where user specs are looked for (the words every caller shows)."""
    known = sorted(files)
    close = _close_matches(name, known)
    guess = f"did you mean {close[0]!r}? " if close else ""
    return (
        f"no provider spec named {name!r}; {guess}known: {', '.join(known)}. Your own specs are found in the folders "
        f"of {ENV_VAR} ({os.pathsep}-separated), `spec_path=` (or `--spec-path DIR` on the command line), "
        "or given as a file path"
    )


def _load_validated(name: str, files: dict[str, SpecFile]) -> tuple[dict[str, Any], list[str]]:
    """The merged, validated data of spec `name` and the names of the specs it was made from."""
    if name not in files:
        raise SpecError(unknown_spec_message(name, files))
    diags = Diagnostics()
    used: list[str] = []
    merged = resolve(name, files, diags, used=used)
    diags.raise_if_errors(f"provider spec {name!r} is invalid")
    assert merged is not None
    return merged, used


def load_plan(name: str, spec_path: Sequence[str | os.PathLike[str]] = (), api_version: str | None = None) -> Plan:
    """The compiled plan for provider `name`, built once per (name, search path, API version) and cached;
    across processes the validated spec data is cached too (spec/cache.py), so a process start skips YAML and
    validation. `api_version` chooses one of the versions the spec declares (default: its `metadata`'s)."""
    key = (name, tuple(str(p) for p in spec_path), os.environ.get(ENV_VAR, ""), api_version)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _compile(name, discover(spec_path), api_version)
        _PLANS[key] = plan
    return plan


def _compile(name: str, files: dict[str, SpecFile], api_version: str | None = None) -> Plan:
    paths = {spec: str(entry.path) for spec, entry in files.items()}
    schemas = str(builtin_dir().parent / "schema")
    cached = spec_cache.lookup(name, paths, schemas)
    if cached is not None:
        with prevalidated():  # validated when it was stored: no argument checks, JMESPath compiled on use
            return Plan(cached, api_version)
    merged, used = _load_validated(name, files)
    plan = Plan(merged, api_version)
    spec_cache.store(name, paths, used, merged, schemas)
    return plan


def clear_cache() -> None:
    _PLANS.clear()
