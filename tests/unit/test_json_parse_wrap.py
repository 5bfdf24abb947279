"""`json_parse {wrap}` answers plain text without asking json.loads (which would raise), and everything else as
json.loads does: the table holds texts on both sides of that line (JSON whitespace first, NaN and Infinity,
numbers, literals, strings, objects, broken JSON, a non-JSON space and a byte-order mark)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vllora_llm.engine.transforms import Context, bind

TEXTS = ["sunny", "", "  ", ' {"a": 1}', "42", "-1", "1e5", "NaN", "Infinity", "-Infinity", "true", "tru", "null",
         "[1]", '"s"', "{bad", "\t\n[1, 2]", "\u00a0{}", "\ufeff{}", "ok then", "no"]


def _reference(text: str) -> Any:
    try:
        parsed = json.loads(text)
    except ValueError:
        return {"result": text}
    return parsed if isinstance(parsed, dict) else {"result": parsed}


@pytest.mark.parametrize("text", TEXTS)
def test_same_answer_as_json_loads(text: str) -> None:
    got = bind("json_parse", {"wrap": "result"})(text, Context())
    assert repr(got) == repr(_reference(text))  # (repr: NaN is not equal to itself)
