"""The v2 spec format: one way to call a transform, override layers that add up, and v1 files that keep
loading with the same meaning and the same quality of diagnostics (file:line:col, codes, did-you-mean)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllora_llm.engine.errors import SpecError
from vllora_llm.engine.gateway import ChatCompletionRequest
from vllora_llm.engine.registry import clear_cache, load_plan, validate_files

HEAD = """apiVersion: vllora.dev/{v}
kind: ProviderSpec
metadata: {{name: toy, revision: 1}}
endpoint: {{base_url: "http://toy.test", chat: {{path: /chat}}}}
params: {{model: {{}}, temperature: {{}}, top_p: {{}}, stop: {{}}, user: {{}}}}
"""


def write(tmp_path: Path, text: str, name: str = "toy") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def body(tmp_path: Path, model: str = "m", **request: object) -> dict[str, object]:
    clear_cache()
    plan = load_plan("toy", spec_path=[tmp_path])
    wire, _ = plan.encode(ChatCompletionRequest.coerce(
        {"model": model, "messages": [{"role": "user", "content": "hi"}], **request}))
    out: dict[str, object] = json.loads(wire.body)
    out.pop("messages")
    out.pop("model")
    return out


LAYERS = """overrides:
  - match: ["big-*"]
    params: {top_p: null}
  - match: ["big-h*"]
    params: {temperature: null}
"""


@pytest.mark.parametrize(("version", "sent"), [("v1", {"top_p": 0.5}), ("v2", {})])
def test_v1_uses_the_last_matching_layer_v2_adds_them_up(tmp_path: Path, version: str, sent: dict[str, float]) -> None:
    write(tmp_path, HEAD.format(v=version) + LAYERS)
    assert body(tmp_path, "big-huge", temperature=0.3, top_p=0.5) == sent
    assert body(tmp_path, "big-1", temperature=0.3, top_p=0.5) == {"temperature": 0.3}


def test_a_v2_layer_merges_into_the_rule_it_changes(tmp_path: Path) -> None:
    write(tmp_path, HEAD.format(v="v2") + """overrides:
  - match: ["big-*"]
    params: {temperature: {default: 1}}
  - match: ["big-h*"]
    params: {temperature: {to: temp}}
""")
    assert body(tmp_path, "big-huge") == {"temp": 1}
    assert body(tmp_path, "big-1") == {"temperature": 1}


def test_v2_calls_transforms_one_way(tmp_path: Path) -> None:
    write(tmp_path, HEAD.format(v="v2").split("params:")[0] + """params:
  model: {}
  stop: {transform: [as_list, drop_blank_items]}
  user: {transform: {$op: drop_when, pattern: "@", reason: "looks like an e-mail address"}}
adjust:
  - {at: stop, $op: [omit_empty]}
  - {$op: fill_defaults, defaults: {tag: {$op: not_evaluated}}}
""")
    assert body(tmp_path, stop="X", user="a@b.io") == {"stop": ["X"], "tag": {"$op": "not_evaluated"}}
    assert body(tmp_path, stop=" ") == {"tag": {"$op": "not_evaluated"}}


def test_a_template_pipeline_is_a_list(tmp_path: Path) -> None:
    write(tmp_path, HEAD.format(v="v2").replace("user: {}", "user: {template: {ids: {$op: [as_list, "
                                                "{$op: drop_blank_items}], in: $}}}"))
    assert body(tmp_path, user="u1") == {"user": {"ids": ["u1"]}}


def diagnostics(tmp_path: Path, text: str) -> list[str]:
    found, _ = validate_files([write(tmp_path, text)])
    return [str(d).split(str(tmp_path) + "/", 1)[-1] for d in found if d.severity == "ERROR"]


def test_v2_diagnostics_point_at_what_the_author_wrote(tmp_path: Path) -> None:
    text = HEAD.format(v="v2").replace("user: {}", "user: {transform: {$op: drop_when, patern: x, reason: r}}")
    text += "adjust:\n  - {at: stop, $op: as_lsit}\n"
    [first, second] = diagnostics(tmp_path, text)
    assert first.startswith("toy.yaml:5:") and "SPEC031 params.user.transform: arguments of 'drop_when'" in first
    assert "patern" in first
    assert second.startswith("toy.yaml:7:21 [ERROR] SPEC030 adjust[0]: unknown transform 'as_lsit'")
    assert "did you mean 'as_list'?" in second


def test_v1_diagnostics_keep_their_places_and_names(tmp_path: Path) -> None:
    text = HEAD.format(v="v1").replace("user: {}", "user: {transform: {name: drop_matching, args: {reason: r}}}")
    [found] = diagnostics(tmp_path, text)
    assert found.startswith("toy.yaml:5:") and "SPEC031 params.user.transform.args" in found
    [found] = diagnostics(tmp_path, HEAD.format(v="v1") + "response: {mode: template, created: created}\n")
    assert found.startswith("toy.yaml:6:28 [ERROR] SPEC010 response.created: unknown key 'created'")


def test_chain_and_old_names_are_v1_only(tmp_path: Path) -> None:
    v1 = HEAD.format(v="v1").replace("stop: {}", "stop: {transform: {name: chain, args: {steps: [as_list]}}}")
    assert diagnostics(tmp_path, v1) == []
    assert body(tmp_path, stop="X") == {"stop": ["X"]}
    v2 = HEAD.format(v="v2").replace("stop: {}", "stop: {transform: {$op: data_url_data}}")
    [problem] = diagnostics(tmp_path, v2)
    assert problem.startswith("toy.yaml:5:73 [ERROR] SPEC030 params.stop.transform: unknown transform 'data_url_data'")
    assert "did you mean 'data_url'?" in problem


def test_an_unknown_format_names_both(tmp_path: Path) -> None:
    [problem] = diagnostics(tmp_path, HEAD.format(v="v3"))
    assert "SPEC003 apiVersion: 'vllora.dev/v3' is not one of vllora.dev/v1|vllora.dev/v2" in problem
    assert "spec migrate" in problem


def test_a_broken_layer_fails_when_the_spec_loads(tmp_path: Path) -> None:
    write(tmp_path, HEAD.format(v="v2") + "overrides:\n  - match: [x*]\n    params: {stop: {transform: nope}}\n")
    clear_cache()
    with pytest.raises(SpecError, match="SPEC030"):
        load_plan("toy", spec_path=[tmp_path])


def test_v1_syntax_in_a_v2_file_says_how_to_write_it(tmp_path: Path) -> None:
    text = HEAD.format(v="v2").replace("stop: {}", "stop: {transform: {name: as_list}}")
    [problem] = diagnostics(tmp_path, text)
    assert "SPEC011 params.stop.transform: missing required key '$op'" in problem
    assert "{$op: NAME, ...args}" in problem and "spec migrate" in problem


def test_chain_by_name_is_v1_only(tmp_path: Path) -> None:
    text = HEAD.format(v="v2").replace("stop: {}", "stop: {transform: {$op: chain, steps: [as_list]}}")
    [problem] = diagnostics(tmp_path, text)
    assert "SPEC030 params.stop.transform.$op: `chain` is the v1 way to write a pipeline" in problem
    assert "a pipeline is a list of calls" in problem


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_each_step_of_a_pipeline_is_checked_where_it_is_written(tmp_path: Path, version: str) -> None:
    step = "{$op: drop_when, patern: x, reason: r}" if version == "v2" else "{name: drop_when, args: {patern: x}}"
    pipeline = f"[as_lsit, {step}]" if version == "v2" else f"{{name: chain, args: {{steps: [as_lsit, {step}]}}}}"
    text = HEAD.format(v=version).replace("stop: {}", f"stop: {{transform: {pipeline}}}")
    [first, second] = diagnostics(tmp_path, text)
    where = "params.stop.transform" + ("" if version == "v2" else ".args.steps")
    assert f"SPEC030 {where}[0]: unknown transform 'as_lsit'" in first and "did you mean 'as_list'?" in first
    assert f"SPEC031 {where}[1]" in second and "patern" in second


def test_a_misspelt_argument_gets_a_did_you_mean(tmp_path: Path) -> None:
    text = HEAD.format(v="v2") + "adjust:\n  - {att: messages, $op: trim_final_text, role: assistant}\n"
    [problem] = diagnostics(tmp_path, text)
    assert problem.startswith("toy.yaml:7:5 [ERROR] SPEC031 adjust[0]: arguments of 'trim_final_text': unknown "
                              "argument 'att'") and "did you mean 'at'?" in problem
