"""specs/README.md's JMESPath-in-templates table is run: each reference, on the item the README shows, gives
what the README says it gives (so the documentation cannot drift from the template compiler)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vllora_llm.engine.templates import compile_template

README = Path(__file__).resolve().parents[2] / "specs" / "README.md"
ITEM = {"content": [{"type": "text", "text": "a"}, {"type": "tool_use", "id": "1", "name": "f"},
                    {"type": "text", "text": "b"}]}


def rows() -> list[tuple[str, object]]:
    text = README.read_text(encoding="utf-8")
    table = text.split("| reference | gives |", 1)[1].split("\n\n", 1)[0]
    found = []
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        reference = cells[0].strip("`").strip('"').replace("\\|", "|")
        gives = re.match(r"`([^`]*)`", cells[1])
        assert gives, f"no value in {line!r}"
        found.append((reference, json.loads(gives.group(1))))
    return found


def test_the_readme_item_is_the_one_tested() -> None:
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert json.dumps(ITEM) in text


@pytest.mark.parametrize(("reference", "expected"), rows())
def test_reference_gives_what_the_readme_says(reference: str, expected: object) -> None:
    evaluate = compile_template({"value": reference, "keep": 1})
    out = evaluate(ITEM, None)
    assert out.get("value") == expected
