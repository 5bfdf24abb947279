"""`vllora-llm spec migrate`: each shipped spec as it was in v1 (tests/data/spec_v1/, the files before the move
to v2), migrated, compiles to the same plans; and the shipped v2 specs behave as their v1 originals did.

"The same plan" is checked on what a plan does: every request case of the spec's protocol tests and of the
conformance suite rendered (also once per override glob, to reach every model family), every response and
stream case decoded; the outcomes (wire requests with warnings, results, errors) must be identical.
"""

from __future__ import annotations

import json
import re
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from vllora_llm.engine.errors import LLMError
from vllora_llm.engine.gateway import ChatCompletionRequest
from vllora_llm.engine.plan import Plan
from vllora_llm.engine.registry import builtin_dir, discover, resolve
from vllora_llm.engine.spec.diagnostics import Diagnostics
from vllora_llm.tools import protocol_tests as pt
from vllora_llm.tools.cli import main
from vllora_llm.tools.spec_migrate import migrate

V1_DIR = Path(__file__).resolve().parents[1] / "data" / "spec_v1"
CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"
RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"
NAMES = sorted(path.stem for path in V1_DIR.glob("*.yaml"))


@cache
def migrated_dir() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="vllora-migrated-"))
    for name in NAMES:
        text, problems = migrate(V1_DIR / f"{name}.yaml")
        assert text is not None, problems
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder


def plan_from(folder: Path, name: str) -> Plan:
    diags = Diagnostics()
    merged = resolve(name, discover([folder]), diags)
    assert not diags.errors, "\n".join(map(str, diags.errors))
    assert merged is not None
    return Plan(merged)


def cases(name: str) -> list[pt.Case]:
    found: list[pt.Case] = []
    tests = builtin_dir() / f"{name}.tests.yaml"
    if tests.is_file():
        found += pt.load_spec_tests(tests, name)
    for kind in pt.KINDS:
        path = CONFORMANCE / kind / f"{name}.yaml"
        if path.is_file():
            found += pt.load_case_list(path, kind, name, recordings=RECORDINGS, label=str(path))
    return found


def _caught(run: Any) -> Any:
    try:
        return run()
    except LLMError as exc:
        return ("raises", type(exc).__name__, str(exc))


def outcome(plan: Plan, case: pt.Case, model: str | None = None) -> Any:
    if case.kind == "requests":
        def render() -> Any:
            given = pt.given_request(case)
            if model is not None:
                given["model"] = model
            stream = bool(case.data.get("stream", given.get("stream") or False))
            wire, warnings = plan.encode(ChatCompletionRequest.coerce(given), stream=stream,
                                         base_url=case.data.get("base_url") or "http://base.test/v1")
            return (wire.method, wire.url, wire.headers, json.loads(wire.body),
                    [(w.param, w.code, w.message) for w in warnings])

        return _caught(render)
    if case.kind == "responses":
        status, headers, body = pt.response_input(case)
        return _caught(lambda: plan.decode(status, headers, body).to_dict())

    def stream() -> Any:
        decoder = plan.stream_decoder()
        chunks = [c for frame in pt.stream_frames(case, plan=plan) for c in decoder.feed(frame)]
        return [c.to_dict() for c in [*chunks, *decoder.close()]]

    return _caught(stream)


def model_variants(name: str) -> list[str]:
    """A model name per override glob of the v1 spec (a `*` made `x`, a `?` made `y`)."""
    data = yaml.safe_load((V1_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    globs = [glob for layer in data.get("overrides") or () for glob in layer.get("match") or ()]
    return [re.sub(r"\[[^]]*\]", "a", glob).replace("*", "x").replace("?", "y") for glob in globs]


OPERATION_REQUESTS = {
    "embeddings": {"input": ["a", "b"], "dimensions": 8, "encoding_format": "float",
                   "provider_specific": {"task_type": "search_query"}},
    "images": {"prompt": "p", "n": 2, "size": "1024x1024", "quality": "hd", "response_format": "b64_json",
               "provider_specific": {"negative_prompt": "x", "seed": 3}},
}
OPERATION_BODIES = [
    {"data": [{"embedding": [1.0], "index": 0}, {"b64_json": "AA"}], "model": "e", "usage": {"prompt_tokens": 1}},
    {"embedding": [1.0, 2.0], "inputTextTokenCount": 3}, {"embeddings": [[1.0]]}, {"embeddings": [{"values": [1.0]}]},
    {"images": ["AA"], "error": None}, {"images": ["AA"], "finish_reasons": [None]},
    {"predictions": [{"bytesBase64Encoded": "AA"}]}, {"created": 1, "data": [{"url": "http://x"}]},
]


def operation_outcomes(plan: Plan, spec: dict[str, Any]) -> Any:
    """Every operation of the spec, for a plain model and one per override glob: wire requests and decodings."""
    from vllora_llm.engine.gateway_ops import CreateEmbeddingRequest, CreateImageRequest

    out = []
    for name, operation in sorted((spec.get("operations") or {}).items()):
        if not isinstance(operation, dict):
            continue
        if name not in OPERATION_REQUESTS:  # (the prompt cache: compared as the compiler reads it)
            out.append((name, plan.spec["operations"][name]))
            continue
        globs = [glob for layer in operation.get("overrides") or () for glob in layer.get("match") or ()]
        for model in ["m", *(glob.replace("*", "x") for glob in globs)]:
            kind = CreateEmbeddingRequest if name == "embeddings" else CreateImageRequest
            request = kind.coerce({**OPERATION_REQUESTS[name], "model": model})

            def run(request: Any = request, name: str = name) -> Any:
                wires, warnings = plan.operation(name).encode(request, base_url="http://base.test")
                return [(w.url, json.loads(w.body)) for w in wires], [w.message for w in warnings]

            out.append(_caught(run))
            for body in OPERATION_BODIES:
                def decode(body: Any = body, model: str = model, name: str = name) -> Any:
                    result = plan.operation(name).decode(model, 200, {}, json.dumps(body).encode())
                    return result.to_dict()

                out.append(_caught(decode))
    return out


INTENDED: dict[str, set[str]] = {"anthropic": {"claude-x-4-5x", "claude-x-4-6x", "claude-x-4-7x", "claude-x-4-8x"}}
"""Model names where a shipped v2 spec means to differ from its v1 original. Anthropic's last layer no longer
repeats the 16384 max_tokens default: it comes from the layer above (layers add up), which every real model
of those families matches (`REAL`); a made-up family name matching only the last layer gets the base 4096."""
REAL: dict[str, list[str]] = {"anthropic": ["claude-opus-4-5-20251101", "claude-sonnet-4-5", "claude-haiku-4-5",
                                            "claude-opus-4-1-20250805", "claude-sonnet-4-6"]}


def same_behaviour(first: Plan, second: Plan, name: str, *, intended: set[str] | frozenset[str] = frozenset()) -> None:
    found = cases(name)
    generic = [case for case in cases("openai") if case.kind == "requests"]  # OpenAI-shaped: any provider takes them
    for case in [*found, *generic]:
        assert outcome(first, case) == outcome(second, case), case.id
    requests = [case for case in [*found, *generic] if case.kind == "requests"][:3]
    for model in [*model_variants(name), *REAL.get(name, ())]:
        if model in intended:
            continue
        for case in requests:
            assert outcome(first, case, model) == outcome(second, case, model), (case.id, model)


def _old_references(data: Any) -> Any:
    if isinstance(data, dict):
        if set(data) == {"name", "args"}:
            yield data
        for value in data.values():
            yield from _old_references(value)
    elif isinstance(data, list):
        for value in data:
            yield from _old_references(value)


@pytest.mark.parametrize("name", NAMES)
def test_a_migrated_v1_spec_compiles_to_the_same_plan(name: str) -> None:
    text = (migrated_dir() / f"{name}.yaml").read_text(encoding="utf-8")
    assert "apiVersion: vllora.dev/v2" in text and "chain" not in text
    assert not list(_old_references(yaml.safe_load(text))), "a v1 {name, args} reference is left"
    first, second = plan_from(V1_DIR, name), plan_from(migrated_dir(), name)
    same_behaviour(first, second, name)
    assert operation_outcomes(first, first.spec) == operation_outcomes(second, first.spec)


@pytest.mark.parametrize("name", NAMES)
def test_the_shipped_spec_behaves_as_its_v1_original(name: str) -> None:
    first, second = plan_from(V1_DIR, name), plan_from(builtin_dir(), name)
    same_behaviour(first, second, name, intended=INTENDED.get(name, set()))
    assert operation_outcomes(first, first.spec) == operation_outcomes(second, first.spec)


def test_the_command_writes_stdout_or_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = V1_DIR / "anthropic.yaml"
    assert main(["spec", "migrate", str(source)]) == 0
    printed = capsys.readouterr().out
    assert main(["spec", "migrate", str(source), "-o", str(tmp_path / "anthropic.yaml")]) == 0
    assert (tmp_path / "anthropic.yaml").read_text(encoding="utf-8") == printed
    assert main(["spec", "validate", str(tmp_path / "anthropic.yaml")]) == 0


def test_a_broken_v1_file_is_not_migrated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "toy.yaml"
    bad.write_text("apiVersion: vllora.dev/v1\nkind: ProviderSpec\nmetadata: {name: toy, revision: 1}\n"
                   "params: {stop: {transform: as_lsit}}\n", encoding="utf-8")
    assert main(["spec", "migrate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "toy.yaml:4:28 [ERROR] SPEC030 params.stop.transform: unknown transform 'as_lsit'" in err
    assert "did you mean 'as_list'?" in err and "not migrated (1 error(s))" in err


@pytest.mark.parametrize("name", ["anthropic", "openai", "cohere", "deepseek"])
def test_spec_diff_sees_no_change_in_a_format_change(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """v1 → v2 with the same meaning (calls rewritten, a layer no longer repeating an earlier one's rule): no
    change to report, so no revision to grow."""
    assert main(["spec", "diff", str(V1_DIR / f"{name}.yaml"), str(builtin_dir() / f"{name}.yaml")]) == 0
    assert "no changes" in capsys.readouterr().out
