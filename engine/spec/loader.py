"""Read a spec file into plain data plus the line:col of every node.

Uses PyYAML's safe composer (a spec can never construct objects or run code) and walks the node tree
itself, so every value, and every key, keeps its source position for diagnostics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from .diagnostics import Diagnostics
from .yaml_errors import explain

Path = tuple[str | int, ...]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader is ~10x faster where present

MAX_NODES = 100_000
"""Most nodes a file may expand to, aliases counted at each use (a "billion laughs" file stops here)."""
MAX_DEPTH = 64
"""Deepest nesting a file may have (the deepest shipped spec nests about 12)."""


class _TooLarge(Exception):
    def __init__(self, node: yaml.Node, message: str, hint: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message
        self.hint = hint


class _Budget:
    __slots__ = ("nodes",)

    def __init__(self) -> None:
        self.nodes = 0


@dataclass(slots=True)
class SourceDoc:
    """A loaded spec: its data, where it came from, and the positions of its nodes."""

    file: str
    data: Any
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    aliases: dict[Path, Path] = field(default_factory=dict)
    """Rewritten nodes (spec/desugar.py): a path of the compiler's form → where it is written in the file."""

    def source_path(self, path: Path) -> Path:
        """Where `path` (of the compiler's form, after desugaring) is written in the file."""
        path = tuple(path)
        for _ in range(16):  # a rewritten node inside a rewritten node: translate until nothing matches
            for cut in range(len(path), 0, -1):
                found = self.aliases.get(path[:cut])
                if found is not None:
                    path = (*found, *path[cut:])
                    break
            else:
                return path
        return path

    def mark(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """The position of `path`, or of its nearest ancestor that has one."""
        table = self.key_marks if key else self.marks
        probe = self.source_path(path) if self.aliases else tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if not key and probe in self.key_marks:
                return self.key_marks[probe]
            probe = probe[:-1]
        return self.marks.get((), (1, 1))


def format_path(path: Path) -> str:
    """`('params', 'n', 'unsupported')` → `params.n.unsupported`; list indexes as `[i]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _pos(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def load_text(text: str, file: str, diags: Diagnostics) -> SourceDoc | None:
    """Parse `text`; on a YAML error, report SPEC001 and return None."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        found = explain(exc, text)
        diags.add(file, (found.line, found.column), "SPEC001", "", found.problem, hint=found.hint)
        return None
    except yaml.YAMLError as exc:
        diags.add(file, (1, 1), "SPEC001", "", f"invalid YAML: {exc}")
        return None
    except RecursionError:
        diags.add(file, (1, 1), "SPEC001", "", "invalid YAML: nested too deeply to be read",
                  hint=f"a spec nests at most {MAX_DEPTH} levels")
        return None
    doc = SourceDoc(file=file, data=None)
    if node is None:
        doc.data = None
        return doc
    constructor = yaml.SafeLoader("")
    before = len(diags.items)
    try:
        doc.data = _build(node, (), doc, diags, constructor, _Budget())
    except _TooLarge as exc:
        diags.add(file, _pos(exc.node), "SPEC001", "", exc.message, hint=exc.hint)
        return None
    if any(d.code == "SPEC001" for d in diags.items[before:]):
        return None  # a value that could not be read: report that, not its knock-on schema errors
    return doc


_CORE = "tag:yaml.org,2002:"


def _bad_node(node: yaml.Node, path: Path, doc: SourceDoc, diags: Diagnostics, message: str) -> None:
    hint = "a spec is plain data (mappings, lists, strings, numbers, booleans, null): remove the tag"
    diags.add(doc.file, _pos(node), "SPEC001", format_path(path), message, hint=hint)


def _allowed(node: yaml.Node, path: Path, doc: SourceDoc, diags: Diagnostics, ctor: yaml.SafeLoader) -> bool:
    """Only the safe loader's own tags; `!!python/object` and custom tags are SPEC001, never constructed."""
    if node.tag in ctor.yaml_constructors:
        return True
    tag = "!!" + node.tag[len(_CORE) :] if node.tag.startswith(_CORE) else node.tag
    _bad_node(node, path, doc, diags, f"the YAML tag {tag} is not allowed")
    return False


def _construct(node: yaml.Node, path: Path, doc: SourceDoc, diags: Diagnostics, ctor: yaml.SafeLoader) -> Any:
    if not _allowed(node, path, doc, diags, ctor):
        return None
    try:
        return ctor.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, TypeError) as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        _bad_node(node, path, doc, diags, f"invalid YAML value: {problem}")
        return None


def _build(
    node: yaml.Node, path: Path, doc: SourceDoc, diags: Diagnostics, ctor: yaml.SafeLoader, budget: _Budget
) -> Any:
    budget.nodes += 1
    if budget.nodes > MAX_NODES:
        raise _TooLarge(node, f"the YAML expands to more than {MAX_NODES:,} nodes (aliases counted at each use)",
                        "YAML aliases (*name) repeat what they point to: use fewer of them")
    if len(path) > MAX_DEPTH:
        raise _TooLarge(node, f"the YAML nests deeper than {MAX_DEPTH} levels (at {format_path(path[:8])}…)",
                        "flatten the template; no spec needs this depth")
    doc.marks[path] = _pos(node)
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and not _allowed(node, path, doc, diags, ctor):
        return None
    if isinstance(node, yaml.MappingNode):
        try:
            ctor.flatten_mapping(node)
        except yaml.YAMLError as exc:
            _bad_node(node, path, doc, diags, f"invalid YAML merge: {getattr(exc, 'problem', None) or exc}")
            return None
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):  # (an alias bomb as a key would expand in full)
                if _allowed(key_node, path, doc, diags, ctor):
                    _bad_node(key_node, path, doc, diags, "a mapping key must be a plain value, not a list or mapping")
                return None
            key = _construct(key_node, path, doc, diags, ctor)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                key = str(key)
            child = (*path, key if isinstance(key, (str, int)) else str(key))
            if key in out:
                diags.add(
                    doc.file,
                    _pos(key_node),
                    "SPEC002",
                    format_path(child),
                    f"duplicate key {key!r}",
                    hint="YAML keeps only the last one; remove one of them",
                )
            doc.key_marks[child] = _pos(key_node)
            out[key] = _build(value_node, child, doc, diags, ctor, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), doc, diags, ctor, budget) for i, item in enumerate(node.value)]
    return _construct(node, path, doc, diags, ctor)


def load_file(file_path: str, display: str, diags: Diagnostics) -> SourceDoc | None:
    with open(file_path, encoding="utf-8") as handle:
        text = handle.read()
    return load_text(text, display, diags)
