"""The spec loader: plain data plus the line:col of every key and value, safe loading, duplicate keys."""

from __future__ import annotations

import pytest

from vllora_llm.engine.spec.diagnostics import Diagnostics
from vllora_llm.engine.spec.loader import SourceDoc, format_path, load_text

SPEC = """\
# comment line
apiVersion: vllora.dev/v1
metadata: {name: acme, revision: 1}
params:
  n:
    unsupported: explode
  stop: {transform: as_list}
overrides:
  - match: ["o1*", "o3*"]
"""


def load(text: str) -> tuple[SourceDoc | None, Diagnostics]:
    diags = Diagnostics()
    return load_text(text, "acme.yaml", diags), diags


def test_data_is_plain() -> None:
    doc, diags = load(SPEC)
    assert doc is not None and not diags.items
    assert doc.data == {
        "apiVersion": "vllora.dev/v1",
        "metadata": {"name": "acme", "revision": 1},
        "params": {"n": {"unsupported": "explode"}, "stop": {"transform": "as_list"}},
        "overrides": [{"match": ["o1*", "o3*"]}],
    }


@pytest.mark.parametrize(
    ("path", "key", "expected"),
    [
        (("apiVersion",), True, (2, 1)),
        (("apiVersion",), False, (2, 13)),
        (("metadata", "revision"), True, (3, 24)),
        (("metadata", "revision"), False, (3, 34)),
        (("params", "n"), True, (5, 3)),
        (("params", "n"), False, (6, 5)),  # a block mapping starts at its first key
        (("params", "n", "unsupported"), True, (6, 5)),
        (("params", "n", "unsupported"), False, (6, 18)),
        (("params", "stop", "transform"), False, (7, 21)),
        (("overrides", 0), False, (9, 5)),
        (("overrides", 0, "match", 1), False, (9, 20)),
        ((), False, (2, 1)),
    ],
)
def test_marks_for_keys_and_values(path: tuple[str | int, ...], key: bool, expected: tuple[int, int]) -> None:
    doc, _ = load(SPEC)
    assert doc is not None
    assert doc.mark(path, key=key) == expected


def test_mark_falls_back_to_the_nearest_ancestor() -> None:
    doc, _ = load(SPEC)
    assert doc is not None
    assert doc.mark(("params", "n", "unsupported", "deeper")) == (6, 18)
    assert doc.mark(("params", "temperature"), key=True) == (4, 1)  # not in the file: `params:` itself


def test_format_path() -> None:
    assert format_path(("overrides", 0, "match", 1)) == "overrides[0].match[1]"
    assert format_path(()) == ""


def test_duplicate_keys_are_spec002_at_the_second_key() -> None:
    doc, diags = load("params:\n  top_p: {}\n  top_p: {to: p}\n")
    assert doc is not None
    assert [(d.code, d.line, d.col, d.path) for d in diags.items] == [("SPEC002", 3, 3, "params.top_p")]
    assert "duplicate key 'top_p'" in diags.items[0].message
    assert doc.data == {"params": {"top_p": {"to": "p"}}}


@pytest.mark.parametrize(
    ("text", "where", "tag"),
    [
        ('a: !!python/object/apply:os.system ["echo pwned"]\n', (1, 4), "!!python/object/apply:os.system"),
        ("a: !!python/name:os.system\n", (1, 4), "!!python/name:os.system"),
        ("!!python/object:collections.OrderedDict {a: 1}\n", (1, 1), "!!python/object:collections.OrderedDict"),
        ("? !!python/tuple [1, 2]\n: x\n", (1, 3), "!!python/tuple"),
        ("a: !env HOME\n", (1, 4), "!env"),
    ],
)
def test_object_tags_are_rejected_as_spec001(text: str, where: tuple[int, int], tag: str) -> None:
    doc, diags = load(text)
    assert doc is None
    assert [(d.code, d.line, d.col) for d in diags.items] == [("SPEC001", *where)]
    assert f"the YAML tag {tag} is not allowed" in diags.items[0].message


def test_a_value_its_tag_cannot_read_is_spec001() -> None:
    doc, diags = load("metadata: {revision: !!int one}\n")
    assert doc is None
    assert [(d.code, d.path, d.line, d.col) for d in diags.items] == [("SPEC001", "metadata.revision", 1, 22)]


@pytest.mark.parametrize(
    ("text", "where", "hint"),
    [
        ("a: [1, 2\n", (1, 4), "end it with `]`"),  # where the [ opened, not where the parser gave up
        ("a:\n\t- b\n", (2, 1), "spaces, not tabs"),
        ("a: 1\n---\nb: 2\n", (2, 1), "one YAML document"),
        ("a: *missing\n", (1, 4), "indentation and quoting"),
    ],
)
def test_invalid_yaml_is_spec001_with_a_place(text: str, where: tuple[int, int], hint: str) -> None:
    doc, diags = load(text)
    assert doc is None
    [diag] = diags.items
    assert (diag.code, diag.line, diag.col) == ("SPEC001", *where)
    assert diag.message.startswith("invalid YAML: ")
    assert diag.hint is not None and hint in diag.hint


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file_loads_as_none(text: str) -> None:
    doc, diags = load(text)
    assert doc is not None and doc.data is None
    assert not diags.items


def test_empty_file_fails_validation_as_spec003() -> None:
    from vllora_llm.engine.spec.validate import schema_pass

    doc, diags = load("# a spec that was never written\n")
    assert doc is not None
    assert schema_pass(doc, diags) is False
    [diag] = diags.items
    assert (diag.code, diag.line, diag.col) == ("SPEC003", 1, 1)
    assert "the file is empty" in diag.message


def test_anchors_and_merge_keys_are_plain_data() -> None:
    doc, diags = load("base: &b {to: x}\nparams:\n  top_p: *b\n  seed: {<<: *b, default: 1}\n")
    assert doc is not None and not diags.items
    assert doc.data["params"] == {"top_p": {"to": "x"}, "seed": {"to": "x", "default": 1}}
