"""`vllora-llm spec diff OLD NEW`: each kind of change with its expected classification.

Every row of CASES is a change applied to a small spec (BASE, revision 1 → 2 unless the row says
otherwise), written to two temporary files and compared through the command line. A row lists the exact
`(verdict, path)` lines expected; the exit status must be 1 exactly when one of them is BREAKING (or the
revision did not grow). Two outputs are kept as syrupy snapshots for the wording.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from vllora_llm.tools.cli import main

ROOT = Path(__file__).resolve().parents[2]

BASE: dict[str, Any] = {
    "apiVersion": "vllora.dev/v1",
    "kind": "ProviderSpec",
    "metadata": {"name": "demo", "display_name": "Demo", "api_version": "v1", "revision": 1},
    "endpoint": {
        "base_url": "https://api.demo.example/v1",
        "chat": {"method": "POST", "path": "/chat/completions"},
        "stream": {"method": "POST", "path": "/chat/completions", "body": {"stream": True}},
    },
    "auth": {"scheme": "bearer", "env": "DEMO_API_KEY"},
    "headers": {"x-client": "demo"},
    "policy": {"unsupported": "warn"},
    "params": {
        "model": {},
        "max_tokens": {},
        "temperature": {"range": {"min": 0, "max": 1}},
        "stop": {"to": "stop_sequences", "transform": "as_list"},
        "tool_choice": {"map": {"auto": "AUTO", "none": "NONE"}},
        "n": {"unsupported": True, "allow": [1], "note": "one choice only"},
    },
    "messages": {"mode": "passthrough"},
    "response": {"mode": "passthrough", "finish_reason": {"from": "choices[0].finish_reason"}},
    "stream": {"framing": "sse", "mode": "passthrough", "done_data": "[DONE]"},
    "errors": {"message": "error.message"},
    "overrides": [{"match": ["demo-r*"], "params": {"temperature": {"unsupported": True, "note": "reasoning"}}}],
    "operations": {"embeddings": {"endpoint": {"method": "POST", "path": "/embeddings"},
                                  "params": {"model": {}, "input": {}, "dimensions": {}},
                                  "response": {"mode": "passthrough"}}},
}


def patched(*edits: tuple[tuple[str | int, ...], Any], revision: int = 2) -> dict[str, Any]:
    """BASE with each (path, value) set; value DELETE removes the key."""
    spec = copy.deepcopy(BASE)
    spec["metadata"]["revision"] = revision
    for path, value in edits:
        node: Any = spec
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
        if value is DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return spec


DELETE = object()
B, C = "BREAKING", "COMPATIBLE"

CASES: list[tuple[str, dict[str, Any], list[tuple[str, str]]]] = [
    # parameters
    ("parameter removed", patched((("params", "stop"), DELETE)), [(B, "params.stop")]),
    ("parameter made unsupported", patched((("params", "max_tokens"), {"unsupported": True})),
     [(B, "params.max_tokens")]),
    ("parameter added", patched((("params", "seed"), {})), [(C, "params.seed")]),
    ("unsupported parameter made supported", patched((("params", "n"), {"to": "candidate_count"})),
     [(C, "params.n")]),
    ("target renamed", patched((("params", "max_tokens"), {"to": "max_output_tokens"})),
     [(B, "params.max_tokens.to")]),
    ("target written out as its default name", patched((("params", "max_tokens"), {"to": "max_tokens"})), []),
    ("map value changed", patched((("params", "tool_choice", "map", "auto"), "ANY")),
     [(B, "params.tool_choice.map.auto")]),
    ("map entry removed", patched((("params", "tool_choice", "map", "none"), DELETE)),
     [(B, "params.tool_choice.map.none")]),
    ("map entry added", patched((("params", "tool_choice", "map", "required"), "ANY")),
     [(C, "params.tool_choice.map.required")]),
    ("transform changed", patched((("params", "stop", "transform"), {"name": "join", "args": {"sep": ","}})),
     [(B, "params.stop.transform")]),
    ("range widened", patched((("params", "temperature", "range"), {"min": 0, "max": 2})),
     [(C, "params.temperature.range")]),
    ("range narrowed", patched((("params", "temperature", "range"), {"min": 0, "max": 0.5})),
     [(B, "params.temperature.range")]),
    ("note reworded", patched((("params", "n", "note"), "always one choice")), [(C, "params.n.note")]),
    ("unsupported action made error", patched((("params", "n", "unsupported"), "error")),
     [(B, "params.n.unsupported")]),
    ("accepted value added", patched((("params", "n", "allow"), [1, 2])), [(C, "params.n.allow")]),
    ("policy made error", patched((("policy", "unsupported"), "error")), [(B, "policy.unsupported")]),
    ("policy made drop", patched((("policy", "unsupported"), "drop")), [(C, "policy.unsupported")]),
    # endpoint, auth, headers
    ("endpoint path changed", patched((("endpoint", "chat", "path"), "/v2/chat")), [(B, "endpoint.chat.path")]),
    ("endpoint method changed", patched((("endpoint", "stream", "method"), "PUT")),
     [(B, "endpoint.stream.method")]),
    ("base_url changed", patched((("endpoint", "base_url"), "https://eu.demo.example/v1")),
     [(B, "endpoint.base_url")]),
    ("query added", patched((("endpoint", "chat", "query"), {"api-version": "2"})), [(B, "endpoint.chat.query")]),
    ("stream body changed", patched((("endpoint", "stream", "body"), {"stream": True, "usage": True})),
     [(B, "endpoint.stream.body")]),
    ("auth scheme changed", patched((("auth", "scheme"), "header"), (("auth", "name"), "x-api-key")),
     [(B, "auth.scheme"), (B, "auth.name")]),
    ("auth header renamed", patched((("auth", "name"), "x-key")), [(B, "auth.name")]),
    ("key variable added", patched((("auth", "env"), ["DEMO_API_KEY", "DEMO_KEY"])), [(C, "auth.env")]),
    ("key variable replaced", patched((("auth", "env"), "DEMO_KEY")), [(B, "auth.env")]),
    ("header added", patched((("headers", "x-trace"), "on")), [(C, "headers.x-trace")]),
    ("header changed", patched((("headers", "x-client"), "vllora")), [(B, "headers.x-client")]),
    ("header removed", patched((("headers", "x-client"), DELETE)), [(B, "headers.x-client")]),
    # response, stream, errors
    ("response path changed", patched((("response", "finish_reason", "from"), "choices[0].stop_reason")),
     [(B, "response.finish_reason.from")]),
    ("finish reason mapping added", patched((("response", "finish_reason", "map"), {"end_turn": "stop"})),
     [(C, "response.finish_reason.map.end_turn")]),
    ("framing changed", patched((("stream", "framing"), "aws_event_stream")), [(B, "stream.framing")]),
    ("stream sentinel changed", patched((("stream", "done_data"), "[END]")), [(B, "stream.done_data")]),
    ("error path changed", patched((("errors", "message"), "detail")), [(B, "errors.message")]),
    ("error class added", patched((("errors", "status"), {"529": {"class": "ProviderError", "retryable": True}})),
     [(C, "errors.status.529")]),
    # metadata and overrides
    ("display text changed", patched((("metadata", "display_name"), "Demo AI"),
                                     (("metadata", "description"), "The demo provider.")),
     [(C, "metadata.display_name"), (C, "metadata.description")]),
    ("provider renamed", patched((("metadata", "name"), "demo2")), [(B, "metadata.name")]),
    ("override added", patched((("overrides",), [*BASE["overrides"], {"match": ["demo-mini*"],
                                                                      "params": {"n": {}}}])),
     [(C, "overrides[demo-mini*]")]),
    ("override removed", patched((("overrides",), [])), [(B, "overrides[demo-r*]")]),
    ("override parameter supported again", patched((("overrides", 0, "params"), {"temperature": {}})),
     [(C, "overrides[demo-r*].params.temperature")]),
    ("override makes a parameter unsupported",
     patched((("overrides", 0, "params", "stop"), {"unsupported": True})), [(B, "overrides[demo-r*].params.stop")]),
    ("override messages changed", patched((("overrides", 0, "messages"), {"roles": {"system": "developer"}})),
     [(C, "overrides[demo-r*].messages.roles.system")]),
    ("override added before another", patched((("overrides",), [{"match": ["demo-x*"], "params": {}},
                                                                *BASE["overrides"]])),
     [(C, "overrides[demo-x*]")]),
    ("nothing but the revision", patched(), []),
]


def write(folder: Path, spec: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "demo.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def diff(tmp_path: Path, capsys: pytest.CaptureFixture[str], old: dict[str, Any], new: dict[str, Any]
         ) -> tuple[int, str, str]:
    code = main(["spec", "diff", str(write(tmp_path / "old", old)), str(write(tmp_path / "new", new))])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _builtin_specs_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("VLLORA_SPEC_PATH", raising=False)


CASES += [  # operations: judged like the chat mapping, rule by rule
    ("operation added", patched((("operations", "images"), {"endpoint": {"path": "/images"}})),
     [(C, "operations.images")]),
    ("operation removed", patched((("operations", "embeddings"), DELETE)), [(B, "operations.embeddings")]),
    ("operation parameter added", patched((("operations", "embeddings", "params", "user"), {})),
     [(C, "operations.embeddings.params.user")]),
    ("operation parameter renamed", patched((("operations", "embeddings", "params", "dimensions"),
                                             {"to": "output_dimension"})),
     [(B, "operations.embeddings.params.dimensions.to")]),
    ("operation path changed", patched((("operations", "embeddings", "endpoint", "path"), "/v2/embed")),
     [(B, "operations.embeddings.endpoint.path")]),
]


@pytest.mark.parametrize(("case", "new", "expected"), CASES, ids=[c[0] for c in CASES])
def test_change_kind(case: str, new: dict[str, Any], expected: list[tuple[str, str]], tmp_path: Path,
                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = diff(tmp_path, capsys, BASE, new)
    assert err == ""
    lines = out.splitlines()
    changes = [tuple(line.split(": ", 1)[0].split(" ", 1)) for line in lines[:-1]]
    assert changes == expected
    assert lines[-1].endswith("revision 1 -> 2")
    assert code == (1 if any(verdict == "BREAKING" for verdict, _ in expected) else 0)


def test_case_table_covers_enough_kinds() -> None:
    verdicts = [v for _, _, expected in CASES for v, _ in expected]
    assert len(CASES) >= 12 and verdicts.count("BREAKING") >= 12 and verdicts.count("COMPATIBLE") >= 10


def test_overrides_reordered_is_breaking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    two = [{"match": ["a*"], "params": {}}, {"match": ["b*"], "params": {}}]
    old = patched((("overrides",), two), revision=1)
    new = patched((("overrides",), list(reversed(two))))
    code, out, _ = diff(tmp_path, capsys, old, new)
    assert code == 1
    assert out.splitlines()[0] == "BREAKING overrides: [['a*'], ['b*']] -> [['b*'], ['a*']]"


def test_revision_must_grow(tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: object) -> None:
    new = patched((("params", "seed"), {}), (("metadata", "description"), "now with seed"), revision=1)
    code, out, err = diff(tmp_path, capsys, BASE, new)
    assert code == 1 and err == ""
    assert "ERROR metadata.revision: 1 -> 1" in out
    assert out == snapshot


def test_mixed_report(tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: object) -> None:
    new = patched(
        (("params", "max_tokens"), {"to": "max_output_tokens"}),
        (("params", "seed"), {"to": "random_seed"}),
        (("params", "tool_choice", "map", "required"), "ANY"),
        (("params", "stop"), DELETE),
        (("headers", "x-trace"), "on"),
        (("endpoint", "chat", "path"), "/v2/chat/completions"),
        (("metadata", "docs_url"), "https://docs.demo.example"),
        revision=3,
    )
    code, out, _ = diff(tmp_path, capsys, BASE, new)
    assert code == 1
    assert "BREAKING params.max_tokens.to: 'max_tokens' -> 'max_output_tokens'" in out.splitlines()
    assert out == snapshot


def test_extends_is_resolved(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two revisions of a pack-style spec: the inherited OpenAI rules are compared, not just the file text."""
    child = {"apiVersion": "vllora.dev/v1", "kind": "ProviderSpec", "extends": "openai",
             "metadata": {"name": "demo", "revision": 1}, "endpoint": {"base_url": "https://demo.example/v1"}}
    new = copy.deepcopy(child)
    new["metadata"]["revision"] = 2
    new["params"] = {"logit_bias": None, "max_completion_tokens": {"to": "max_tokens"}}
    code, out, _ = diff(tmp_path, capsys, child, new)
    assert code == 1
    assert out.splitlines()[:2] == [
        "BREAKING params.max_completion_tokens.to: 'max_completion_tokens' -> 'max_tokens'",
        "BREAKING params.logit_bias: {} -> <absent>",
    ]


def test_a_spec_that_does_not_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = patched((("metadata", "revision"), 0))
    code, out, err = diff(tmp_path, capsys, BASE, broken)
    assert code == 1 and out == ""
    assert "SPEC015" in err and "cannot compare" in err


def test_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["spec", "diff", str(tmp_path / "nope.yaml"), str(write(tmp_path, BASE))])
    _, err = capsys.readouterr()
    assert code == 1 and "no such file" in err
