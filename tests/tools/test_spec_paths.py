"""Spec commands find a user's specs: `--spec-path DIR` on every `spec` command, a spec file's path wherever a
provider name goes, and an unknown name answered with a guess and the places specs are looked for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllora_llm.engine.registry import clear_cache
from vllora_llm.tools.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
REQUEST = ROOT / "tests" / "tools" / "requests" / "tools.json"
MYPROXY = """\
apiVersion: vllora.dev/v1
kind: ProviderSpec
metadata: {name: myproxy, revision: 1}
extends: openai
endpoint: {base_url: "https://llm.internal.example/v1"}
"""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLLORA_SPEC_PATH", raising=False)
    clear_cache()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "myproxy.yaml").write_text(MYPROXY, encoding="utf-8")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_spec_command_takes_spec_path() -> None:
    parser = build_parser()
    spec = next(a for a in parser._subparsers._group_actions[0].choices.values() if a.prog.endswith(" spec"))  # type: ignore[union-attr]
    commands = spec._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert commands, "no spec commands"
    for name, command in commands.items():
        assert any("--spec-path" in action.option_strings for action in command._actions), name


@pytest.mark.parametrize("how", ["spec-path", "file-path"])
def test_render_finds_a_user_spec(how: str, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    where = ["myproxy", "--spec-path", str(folder)] if how == "spec-path" else [str(folder / "myproxy.yaml")]
    code, out, err = run(capsys, "spec", "render", where[0], str(REQUEST), *where[1:])
    assert (code, err) == (0, "")
    assert json.loads(out)["url"] == "https://llm.internal.example/v1/chat/completions"


def test_docs_and_validate_find_a_user_spec(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "spec", "docs", str(folder / "myproxy.yaml"))
    assert code == 0 and out.startswith("# myproxy")
    (folder / "broken.yaml").write_text(MYPROXY.replace("myproxy", "broken") + "params: {max_tokns: {}}\n")
    code, out, _ = run(capsys, "spec", "validate", "--spec-path", str(folder))
    assert code == 1 and "broken.yaml:6:" in out and "did you mean 'max_tokens'?" in out


def test_an_unknown_name_gets_a_guess_and_the_search_path(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "spec", "render", "opena", str(REQUEST))
    assert code == 1
    assert "did you mean 'openai'?" in err
    assert "VLLORA_SPEC_PATH" in err and "--spec-path" in err


def test_docs_names_the_search_path_too(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "spec", "docs", "myproxy")
    assert code == 1 and "VLLORA_SPEC_PATH" in err
