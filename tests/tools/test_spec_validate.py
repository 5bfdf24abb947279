"""`vllora-llm spec validate` on bad specs: each file beside its expected report (Smithy's errorfiles).

`bad_specs/<code>_<what>.yaml` (or a folder, for `extends` problems spanning files) holds one mistake; its
report is a syrupy snapshot. The code in the name is asserted too, so a blindly updated snapshot cannot hide
a regression. `all_at_once.yaml` holds several mistakes: they are all reported, sorted by place.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vllora_llm.tools.cli import main

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "tools" / "bad_specs"
CASES = sorted(p.name for p in BAD.iterdir() if p.suffix == ".yaml" or p.is_dir())
LINE = re.compile(
    r"^(?P<file>\S+):(?P<line>\d+):(?P<col>\d+) \[(?P<sev>ERROR|WARNING)\] (?P<code>SPEC\d{3}) (?P<path>\S+): .+"
)


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("VLLORA_SPEC_PATH", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["spec", "validate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def report(code: int, out: str, err: str, target: str) -> str:
    return f"$ vllora-llm spec validate {target}\n--- stdout\n{out}--- stderr\n{err}--- exit code {code}\n"


@pytest.mark.parametrize("case", CASES)
def test_bad_spec_report(case: str, capsys: pytest.CaptureFixture[str], snapshot: object) -> None:
    target = f"tests/tools/bad_specs/{case}"
    code, out, err = run(capsys, target)
    assert report(code, out, err, target) == snapshot

    lines = out.splitlines()
    assert lines, "a bad spec must produce a report"
    for line in lines:
        match = LINE.match(line)
        assert match, f"not a file:line:col [SEVERITY] CODE path: message line: {line!r}"
        assert match["file"].startswith(target)
    codes = {LINE.match(line)["code"] for line in lines}  # type: ignore[index]
    if case.startswith("spec"):
        expected = case.split("_", 1)[0].upper()
        assert expected in codes
        severity = "WARNING" if expected in ("SPEC022", "SPEC023", "SPEC045", "SPEC050", "SPEC051") else "ERROR"
        assert f"[{severity}] {expected}" in out
        assert code == (0 if severity == "WARNING" else 1)


def test_every_documented_code_has_a_bad_spec() -> None:
    documented = set(re.findall(r"^\| (SPEC\d{3}) \|", (ROOT / "specs" / "README.md").read_text(), re.M))
    covered = {case.split("_", 1)[0].upper() for case in CASES if case.startswith("spec")}
    assert len(documented) >= 23
    assert documented <= covered, f"no bad spec for {sorted(documented - covered)}"


def test_every_problem_is_reported_at_once_sorted(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "tests/tools/bad_specs/all_at_once.yaml")
    found = [LINE.match(line) for line in out.splitlines()]
    assert all(found)
    codes = [m["code"] for m in found if m]
    assert {"SPEC002", "SPEC010", "SPEC011", "SPEC012", "SPEC013", "SPEC014"} <= set(codes)
    places = [(int(m["line"]), int(m["col"])) for m in found if m]
    assert places == sorted(places) and len(places) == 7
    assert code == 1 and err == "7 error(s)\n"


def test_several_targets_in_one_run_are_merged_and_sorted(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "tests/tools/bad_specs/spec038_range_inverted.yaml", "tests/tools/bad_specs/spec014_unknown_policy.yaml"
    )
    files = [line.split(":", 1)[0] for line in out.splitlines()]
    assert files == sorted(files) and len(set(files)) == 2 and code == 1


def test_shipped_specs_are_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys) == (0, "", "")
    assert run(capsys, "specs/providers") == (0, "", "")


def test_missing_file_is_reported_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "tests/tools/bad_specs/no_such_spec.yaml")
    assert code == 1
    assert out.startswith("tests/tools/bad_specs/no_such_spec.yaml:1:1 [ERROR] SPEC001")


@pytest.mark.parametrize("argv", [["spec"], ["spec", "validate", "--strict"], ["spec", "explode"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage: vllora-llm" in capsys.readouterr().err


def test_a_routing_config_is_checked_as_one_every_problem_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "tests/tools/bad_specs/routing_all_at_once.yaml")
    found = [LINE.match(line) for line in out.splitlines()]
    assert all(found) and "SPEC003" not in out
    assert [(m["code"], m["path"]) for m in found if m] == [
        ("SPEC010", "models[0].price.per_output_tokens"),
        ("SPEC042", "models[0].fallbacks[1]"),
        ("SPEC043", "models[1].inference_provider.provider"),
        ("SPEC011", "models[2].inference_provider"),
    ]
    assert "no provider spec named 'antropic' (hint: did you mean 'anthropic'?)" in out
    assert (code, err) == (1, "4 error(s)\n")


def test_a_good_routing_config_is_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "tests/data/models.yaml") == (0, "", "")
    wrapped = tmp_path / "models.yaml"  # the mapping form, beside a spec of its own that a route names
    wrapped.write_text("models:\n  - model: a\n    inference_provider: {provider: xyzzy, model_name: m}\n")
    (tmp_path / "xyzzy.yaml").write_text(
        "apiVersion: vllora.dev/v1\nkind: ProviderSpec\nmetadata: {name: xyzzy, revision: 1}\nextends: openai\n"
        "endpoint: {base_url_env: XYZZY_BASE_URL}\nauth: {scheme: bearer, env: XYZZY_API_KEY}\n"
    )
    assert run(capsys, str(tmp_path)) == (0, "", "")
    code, out, _ = run(capsys, str(wrapped))  # alone, `xyzzy` is not on the search path
    assert code == 1 and "SPEC043 models[0].inference_provider.provider: no provider spec named 'xyzzy'" in out
    assert "(hint: known providers: anthropic, " in out
