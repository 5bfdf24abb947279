"""The code rules as tests: ruff clean, `mypy --strict` on engine/ and runtime/, no provider names there.

mypy cannot follow setuptools' editable-install hook, so it runs over a temporary tree in which
`vllora_llm/engine` and `vllora_llm/runtime` are links to the source folders, the installed layout.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_WORDS = re.compile(r"openai|anthropic|gemini|google|bedrock|claude|vertex|mistral|groq|cohere|azure", re.I)


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean() -> None:
    result = _run(sys.executable, "-m", "ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_on_engine_and_runtime(tmp_path: Path) -> None:
    package = tmp_path / "vllora_llm"
    package.mkdir()
    for entry in (ROOT / "vllora_llm").iterdir():
        (package / entry.name).symlink_to(entry)
    (package / "engine").symlink_to(ROOT / "engine")
    (package / "runtime").symlink_to(ROOT / "runtime")
    result = _run(sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--config-file",
                  str(ROOT / "pyproject.toml"), "-p", "vllora_llm.engine", "-p", "vllora_llm.runtime", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring constants: prose may name a provider, code may not."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def provider_names(source: str, filename: str) -> Iterator[str]:
    """Every identifier, attribute, import or string literal (docstrings aside) that names a provider."""
    tree = ast.parse(source, filename)
    docs = _docstrings(tree)
    for node in ast.walk(tree):
        text: str | None = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            text = node.value
        elif isinstance(node, ast.Name):
            text = node.id
        elif isinstance(node, ast.Attribute):
            text = node.attr
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.alias | ast.arg):
            text = getattr(node, "name", None) or getattr(node, "arg", None)
        if text and PROVIDER_WORDS.search(text):
            yield f"{filename}:{getattr(node, 'lineno', '?')}: {text[:60]!r}"


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ('"""Anthropic is named in a docstring only."""\nx = 1\n', 0),
        ('def f():\n    """Gemini prose."""\n    return "gemini"\n', 1),
        ("import botocore.bedrock as b\n", 1),
        ("def f(anthropic_version): pass\n", 1),
        ("obj.openai_key = 1\n", 1),
    ],
)
def test_the_provider_name_check_sees_code_not_prose(source: str, found: int) -> None:
    assert len(list(provider_names(source, "x.py"))) == found


def test_no_provider_names_in_engine_or_runtime() -> None:
    hits = [
        hit
        for folder in ("engine", "runtime")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for hit in provider_names(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert hits == [], "providers are data: add a generic operator instead of\n" + "\n".join(hits)
