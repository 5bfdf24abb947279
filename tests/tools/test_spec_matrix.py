"""`vllora-llm spec matrix`: the parameter table of DESIGN §2, computed from the specs.

- The seed table is parsed from DESIGN §2 (copied as tests/recordings/seed_table.md): the rows, labels and Notes
  must be DESIGN's, and every cell of a seed provider's spec must equal DESIGN's cell (one test per provider).
- The Markdown output is a syrupy snapshot (it is read by people).
- README.md's "Parameter support" block must be exactly `spec matrix --all` output.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vllora_llm.engine.registry import clear_cache, discover
from vllora_llm.tools.cli import main
from vllora_llm.tools.matrix import END, ROWS, SEED, START, build, classify, column_for, readme_block, render_md

ROOT = Path(__file__).resolve().parents[2]
DESIGN = ROOT / "tests" / "recordings" / "seed_table.md"


@pytest.fixture(autouse=True)
def _builtin_specs_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("VLLORA_SPEC_PATH", raising=False)
    clear_cache()


def design_table() -> tuple[list[str], list[list[str]]]:
    """DESIGN §2's table: (header cells, rows of cells), each cell stripped."""
    text = DESIGN.read_text(encoding="utf-8")
    section = text.split("## 2.", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    assert cells and set("".join(cells[1])) <= set("-: "), "DESIGN §2 no longer holds a Markdown table"
    return cells[0], cells[2:]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["spec", "matrix", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_rows_labels_notes_and_columns_are_designs() -> None:
    header, rows = design_table()
    assert header == ["Parameter", *(title for _, title in SEED), "Notes"]
    assert [r[0] for r in rows] == [row.label for row in ROWS]
    assert [r[-1] for r in rows] == [row.notes for row in ROWS]


DEVIATIONS: dict[tuple[str, str], tuple[str, str]] = {
    # (provider, row label) → (the cell the specs give, why it differs from DESIGN §2's seed table)
    ("anthropic", "user"): ("yes", "the Anthropic issue maps user → metadata.user_id, which the Messages API has"),
    ("anthropic", "response_format (JSON schema, …)"): (
        "yes", "issue #22: json_schema → the native output_config.format (json_object warns: no JSON mode)"),
    ("gemini", "provider_specific.thinking"): (
        "yes", "issue #22: thinking → generationConfig.thinkingConfig (thinkingBudget, includeThoughts)"),
    ("bedrock", "response_format (JSON schema, …)"): (
        "yes", "issue #22: json_schema → the native outputConfig.textFormat (json_object warns: no JSON mode)"),
}


@pytest.mark.parametrize(("provider", "title"), SEED, ids=[name for name, _ in SEED])
def test_seed_table_cells(provider: str, title: str) -> None:
    assert provider in discover(), f"specs/providers/{provider}.yaml is missing"
    header, rows = design_table()
    position = header.index(title)
    expected = {row.label: cells[position] for row, cells in zip(ROWS, rows, strict=True)}
    for (name, label), (cell, _why) in DEVIATIONS.items():
        if name == provider:
            expected[label] = cell
    (column,) = [c for c in build() if c.name == provider]
    got = {row.label: column.cells[row.param].verdict for row in ROWS}
    assert got == expected


def test_markdown(capsys: pytest.CaptureFixture[str], snapshot: object) -> None:
    code, out, err = run(capsys)
    assert (code, err) == (0, "")
    assert out == snapshot


def test_readme_block_is_the_all_providers_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    block = readme_block((ROOT / "README.md").read_text(encoding="utf-8"))
    assert block is not None, f"README.md lost its {START} … {END} markers"
    code, out, _ = run(capsys, "--all")
    assert code == 0
    assert block == out, "README's parameter table is stale: run `vllora-llm spec matrix --all --write-readme`"


def test_all_adds_a_column_per_spec_with_target_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--all")
    assert code == 0
    header = out.splitlines()[0]
    seed = [name for name, _ in SEED]
    others = sorted(name for name in discover() if name not in seed)
    titles = [c.title for c in build(all_providers=True)]
    assert header == "| Parameter | " + " | ".join(titles) + " | Notes |"
    assert len(titles) == len(SEED) + len(others)
    seed_row = next(line for line in out.splitlines() if line.startswith("| seed |"))
    assert "yes (`random_seed`)" in seed_row  # Mistral's name for it


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--all", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert [r["parameter"] for r in data["rows"]] == [row.param for row in ROWS]
    cells = {r["parameter"]: r["cells"] for r in data["rows"]}
    assert cells["max_tokens"]["openai"] == {"supported": "yes", "target": "max_tokens"}
    assert cells["seed"]["mistral"] == {"supported": "yes", "target": "random_seed"}
    assert cells["logit_bias"]["groq"] == {"supported": "no", "action": "warn",
                                           "note": "not supported by Groq (it answers 400)"}
    assert cells["prompt_cache_key"]["groq"]["note"] == "no rule: the policy applies"
    assert {c["provider"] for c in data["columns"]} == set(discover())


@pytest.mark.parametrize(
    ("rule", "cell"),
    [
        (None, ("no", None, "warn")),
        ({}, ("yes", "seed", None)),
        ({"to": "random_seed"}, ("yes", "random_seed", None)),
        ({"map": {"auto": "AUTO"}}, ("yes", "seed", None)),
        ({"template": {"x": "$"}}, ("yes", "seed", None)),
        ({"transform": "as_list"}, ("yes", "seed", None)),
        ({"unless": "max_tokens"}, ("yes", "seed", None)),
        ({"unsupported": True}, ("no", None, "warn")),
        ({"unsupported": "error", "note": "why"}, ("no", None, "error")),
        ({"unsupported": True, "allow": [1]}, ("no", None, "warn")),
    ],
)
def test_classify(rule: dict[str, object] | None, cell: tuple[str, str | None, str | None]) -> None:
    got = classify("seed", rule, "warn")
    assert (got.verdict, got.target, got.action) == cell


def test_a_missing_spec_is_a_question_mark_column() -> None:
    column = column_for("bedrock", "Bedrock", None)
    assert {c.verdict for c in column.cells.values()} == {"?"}
    assert "| Bedrock |" in render_md([column])


def test_write_readme(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{START}\nold table\n{END}\nafter\n", encoding="utf-8")
    code, out, _ = run(capsys, "--write-readme", str(readme))
    assert code == 0 and "wrote" in out
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# x\n\nbefore\n") and text.endswith(f"{END}\nafter\n")
    assert readme_block(text) == render_md(build())
    assert re.search(r"old table", text) is None


def test_write_readme_without_markers_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n", encoding="utf-8")
    code, _, err = run(capsys, "--write-readme", str(readme))
    assert code == 1 and "matrix:start" in err
    assert readme.read_text(encoding="utf-8") == "# no markers\n"


def test_an_invalid_spec_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.yaml").write_text(
        "apiVersion: vllora.dev/v1\nkind: ProviderSpec\nmetadata: {name: broken, revision: 0}\n", encoding="utf-8"
    )
    monkeypatch.setenv("VLLORA_SPEC_PATH", str(tmp_path))
    code, out, err = run(capsys, "--all")
    assert (code, out) == (1, "")
    assert "broken.yaml" in err and "SPEC015" in err


@pytest.mark.parametrize("operation", ["embeddings", "images"])
def test_operation_matrix(operation: str, capsys: pytest.CaptureFixture[str], snapshot: object) -> None:
    from vllora_llm.engine.gateway_ops import operation_params
    from vllora_llm.tools.cli import main

    assert main(["spec", "matrix", "--operation", operation]) == 0
    out = capsys.readouterr().out
    assert out == snapshot
    rows = {line.split(" | ", 1)[0].lstrip("| "): line for line in out.splitlines()[2:]}
    assert list(rows) == ["offered", *operation_params(operation)]
    header = [c.strip() for c in out.splitlines()[0].strip("|").split("|")][1:]
    offered = [c.strip() for c in rows["offered"].strip("|").split("|")][1:]
    assert dict(zip(header, offered, strict=True))["anthropic"] == "no"
    assert dict(zip(header, offered, strict=True))["openai"] == "yes"
    assert main(["spec", "matrix", "--operation", operation, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["providers"]["anthropic"] is None and data["providers"]["gemini"] is not None


def test_responses_matrix_says_who_serves_it_natively(capsys: pytest.CaptureFixture[str]) -> None:
    from vllora_llm.tools.cli import main

    assert main(["spec", "matrix", "--operation", "responses"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")][1:]
    offered = dict(zip(header, [c.strip() for c in lines[2].strip("|").split("|")][1:], strict=True))
    assert {p for p, how in offered.items() if how == "yes"} == {"openai", "azure-openai", "xai", "fireworks"}
    assert offered["anthropic"] == offered["groq"] == "via chat"  # translated through the chat spec
