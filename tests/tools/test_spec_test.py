"""`vllora-llm spec test`: the protocol tests beside specs (`<name>.tests.yaml`).

Every shipped spec's cases pass (this is where the suite runs them); the four seed providers have cases;
a user's folder gets a pass/fail table and a diff per failure (a snapshot: read by people); a malformed case
file is an error naming its place.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vllora_llm.engine.registry import builtin_dir, clear_cache
from vllora_llm.tools.cli import main

HERE = Path(__file__).resolve().parent / "spec_tests"


@pytest.fixture(autouse=True)
def _builtin_specs_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE.parent.parent.parent)
    monkeypatch.delenv("VLLORA_SPEC_PATH", raising=False)
    clear_cache()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["spec", "test", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_every_shipped_spec_passes_its_protocol_tests(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    rows = [line.split() for line in out.splitlines()[1:] if line.strip()]
    assert code == 0, out + err
    assert rows and all(row[-1] == "PASS" for row in rows)
    providers = {row[0].split(":")[0] for row in rows}
    assert {"openai", "anthropic", "gemini", "bedrock"} <= providers
    assert {"requests", "responses", "streams"} == {row[1] for row in rows}
    shipped = {p.name.removesuffix(".tests.yaml") for p in builtin_dir().glob("*.tests.yaml")}
    assert providers == shipped


def test_a_failing_user_spec_gets_a_table_and_diffs(capsys: pytest.CaptureFixture[str], snapshot: object) -> None:
    code, out, err = run(capsys, "--spec-path", "tests/tools/spec_tests", "myproxy")
    assert code == 1
    assert f"$ vllora-llm spec test myproxy\n--- stdout\n{out}--- stderr\n{err}" == snapshot


def test_a_spec_file_path_finds_its_tests(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "tests/tools/spec_tests/myproxy.yaml")
    assert code == 1 and "myproxy:renames_max_completion_tokens  requests   PASS" in out


def test_a_malformed_case_file_names_the_place(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "tests/tools/spec_tests/bad/myproxy.yaml")
    assert code == 1
    assert "myproxy.tests.yaml:2 (myproxy:typo_in_a_key): unknown key 'expct'" in err


def test_a_spec_without_tests_is_reported_when_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "xai")
    assert code == 1 and "no protocol tests (xai.tests.yaml beside the spec)" in err


def test_failures_are_failures_under_python_O() -> None:
    """`python -O` strips `assert` statements; the case checks must not depend on them."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-O", "-m", "vllora_llm.tools.cli", "spec", "test",
                           "tests/tools/spec_tests/assert_based/myproxy.yaml"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1 and "0 passed, 2 failed" in done.stderr, done.stdout + done.stderr
