"""The code rules as tests: ruff clean, `mypy --strict` on engine/ and runtime/, no provider names there.

mypy cannot follow setuptools' editable-install hook, so it runs over a temporary tree in which
`vllora_llm/engine` and `vllora_llm/runtime` are links to the source folders, the installed layout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKER = ROOT.parent / "shared" / "tools" / "check_provider_names.py"


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


def test_no_provider_names_in_engine_or_runtime() -> None:
    assert CHECKER.exists(), f"the shared checker is missing: {CHECKER}"
    result = _run(sys.executable, str(CHECKER))
    assert result.returncode == 0, result.stdout
