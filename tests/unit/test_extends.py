"""`extends:`: an OpenAI-compatible provider is one short file, with no code change.

Also the merge rules (mappings merge, lists and scalars replace, null removes, metadata is the child's own
apart from api_version) and a user spec shadowing a built-in one of the same name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from vllora_llm.engine.errors import SpecError
from vllora_llm.engine.gateway import ChatCompletionRequest
from vllora_llm.engine.registry import builtin_dir, clear_cache, load_plan, load_spec, merge
from vllora_llm.tools.cli import main

ACME = """\
apiVersion: vllora.dev/v1
kind: ProviderSpec
metadata: {name: acme-proxy, display_name: Acme Proxy, revision: 1}
extends: openai
endpoint:
  base_url: https://llm.acme.test/openai/v1
  base_url_env: ACME_BASE_URL
auth: {scheme: bearer, env: ACME_API_KEY}
params:
  seed: null                                    # the base's rule removed: the policy (warn) applies
  logit_bias: {unsupported: true, note: "not supported by Acme"}
  max_tokens: {to: max_output_tokens}
"""

REQUEST = {
    "model": "acme-large",
    "messages": [{"role": "user", "content": "hi"}],
    "max_tokens": 100,
    "temperature": 0.5,
    "seed": 7,
    "logit_bias": {"42": 1},
}


@pytest.fixture
def spec_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    for name in ("OPENAI_BASE_URL", "ACME_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "specs"
    folder.mkdir()
    monkeypatch.setenv("VLLORA_SPEC_PATH", str(folder))
    clear_cache()
    yield folder
    clear_cache()


def encode(provider: str, request: dict[str, object], **kwargs: object) -> tuple[str, dict[str, object], list[str]]:
    wire, warnings = load_plan(provider).encode(ChatCompletionRequest.coerce(request), **kwargs)  # type: ignore[arg-type]
    return wire.url, json.loads(wire.body), [w.message for w in warnings]


def test_an_openai_compatible_spec_is_a_few_lines(spec_dir: Path) -> None:
    (spec_dir / "acme-proxy.yaml").write_text(ACME)
    url, body, warnings = encode("acme-proxy", REQUEST)
    assert url == "https://llm.acme.test/openai/v1/chat/completions"
    assert body == {
        "model": "acme-large",
        "max_output_tokens": 100,
        "temperature": 0.5,
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert warnings == [
        "logit_bias is not supported by Acme; it was not sent",
        "seed is not supported by acme-proxy; it was not sent",
    ]
    plan = load_plan("acme-proxy")
    assert plan.auth.scheme == "bearer" and plan.auth.env == ("ACME_API_KEY",)
    assert (plan.name, plan.display_name, plan.api_version) == ("acme-proxy", "Acme Proxy", "v1")


def test_inherited_parts_still_work(spec_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (spec_dir / "acme-proxy.yaml").write_text(ACME)
    # the stream endpoint (and its body fields) come from the base
    _, body, _ = encode("acme-proxy", {**REQUEST, "seed": None, "logit_bias": None}, stream=True)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    # base_url_env is the child's (a scalar replaces the base's): OPENAI_BASE_URL no longer applies
    monkeypatch.setenv("OPENAI_BASE_URL", "http://wrong.test/v1")
    assert encode("acme-proxy", REQUEST)[0] == "https://llm.acme.test/openai/v1/chat/completions"
    monkeypatch.setenv("ACME_BASE_URL", "http://127.0.0.1:9/v1")
    assert encode("acme-proxy", REQUEST)[0] == "http://127.0.0.1:9/v1/chat/completions"


def test_spec_validate_passes_for_the_short_spec(spec_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (spec_dir / "acme-proxy.yaml").write_text(ACME)
    assert main(["spec", "validate", str(spec_dir)]) == 0
    assert main(["spec", "validate", "specs/acme-proxy.yaml"]) == 0
    assert capsys.readouterr() == ("", "")


def test_a_mistake_in_the_short_spec_is_reported_in_its_own_file(
    spec_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (spec_dir / "acme-proxy.yaml").write_text(ACME.replace("seed: null", "seed: {unsupported: sometimes}"))
    assert main(["spec", "validate", "specs"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("specs/acme-proxy.yaml:10:")
    assert "SPEC014 params.seed.unsupported: 'sometimes'" in out
    with pytest.raises(SpecError):
        load_plan("acme-proxy")


def test_a_user_spec_overrides_the_builtin_of_the_same_name(spec_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (builtin_dir() / "openai.yaml").read_text()
    assert "base_url: https://api.openai.com/v1" in text
    (spec_dir / "openai.yaml").write_text(text.replace("https://api.openai.com/v1", "http://gateway.internal/v1"))
    assert encode("openai", REQUEST)[0] == "http://gateway.internal/v1/chat/completions"
    # and specs extending it extend the user's one
    (spec_dir / "acme-proxy.yaml").write_text(ACME.replace("  base_url: https://llm.acme.test/openai/v1\n", ""))
    assert encode("acme-proxy", REQUEST)[0] == "http://gateway.internal/v1/chat/completions"

    main(["spec", "validate"])  # every spec on the search path (built-ins included)
    assert capsys.readouterr().out.startswith("note: specs/openai.yaml overrides specs/providers/openai.yaml\n")
    assert main(["spec", "validate", "specs"]) == 0
    assert capsys.readouterr().out == "note: specs/openai.yaml overrides specs/providers/openai.yaml\n"


def test_overrides_list_is_replaced_not_merged(spec_dir: Path) -> None:
    (spec_dir / "acme-proxy.yaml").write_text(
        ACME + 'overrides:\n  - match: ["acme-mini*"]\n    params: {top_p: {unsupported: error}}\n'
    )
    request = {"model": "o3-mini", "messages": [{"role": "system", "content": "s"}], "max_tokens": 5, "top_p": 0.5}
    _, body, warnings = encode("acme-proxy", request)
    # the base's reasoning-model layer is gone: no rename to max_completion_tokens, no developer role
    assert body == {
        "model": "o3-mini",
        "max_output_tokens": 5,
        "top_p": 0.5,
        "messages": [{"role": "system", "content": "s"}],
    }
    assert warnings == []
    with pytest.raises(Exception, match="top_p"):
        encode("acme-proxy", {**request, "model": "acme-mini-2"})


def test_null_removes_a_nested_key_and_metadata_is_not_inherited(spec_dir: Path) -> None:
    # a partial block: endpoint.stream's required `path` comes from the base
    text = ACME.replace(
        "  base_url_env: ACME_BASE_URL\n",
        "  base_url_env: ACME_BASE_URL\n  stream: {body: {stream_options: null}}\n",
    )
    (spec_dir / "acme-proxy.yaml").write_text(text)
    merged = load_spec("acme-proxy")
    assert merged["endpoint"]["stream"] == {"method": "POST", "path": "/chat/completions", "body": {"stream": True}}
    assert "seed" not in merged["params"] and "extends" not in merged
    assert merged["params"]["max_tokens"] == {"unless": "max_completion_tokens", "to": "max_output_tokens"}
    assert merged["metadata"] == {
        "name": "acme-proxy",
        "display_name": "Acme Proxy",
        "revision": 1,
        "api_version": "v1",
    }


@pytest.mark.parametrize(
    ("base", "child", "expected"),
    [
        ({"a": {"x": 1, "y": 2}}, {"a": {"y": 3, "z": 4}}, {"a": {"x": 1, "y": 3, "z": 4}}),  # mappings merge
        ({"a": {"b": {"c": 1, "d": 2}}}, {"a": {"b": {"d": 5}}}, {"a": {"b": {"c": 1, "d": 5}}}),  # recursively
        ({"a": [1, 2, 3]}, {"a": [4]}, {"a": [4]}),  # lists replace
        ({"a": "x"}, {"a": {"k": 1}}, {"a": {"k": 1}}),  # scalars replace
        ({"a": {"k": 1}}, {"a": "x"}, {"a": "x"}),
        ({"a": 1, "b": 2}, {"a": None}, {"b": 2}),  # null removes
        ({"a": {"b": 1, "c": 2}}, {"a": {"b": None}}, {"a": {"c": 2}}),  # at any depth
        ({"a": 1}, {"missing": None}, {"a": 1}),  # removing nothing
        ({}, {"a": {}}, {"a": {}}),
    ],
)
def test_merge_rules(base: dict[str, object], child: dict[str, object], expected: dict[str, object]) -> None:
    before = json.dumps([base, child], sort_keys=True)
    assert merge(base, child) == expected
    assert json.dumps([base, child], sort_keys=True) == before  # inputs are never mutated


def test_a_partial_block_needs_its_required_keys_somewhere_in_the_chain(
    spec_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (spec_dir / "plain.yaml").write_text(
        "apiVersion: vllora.dev/v1\nkind: ProviderSpec\nmetadata: {name: plain, revision: 1}\n"
        "endpoint:\n  base_url: http://plain.test\n  chat: {path: /chat}\n"
    )
    (spec_dir / "child.yaml").write_text(
        "apiVersion: vllora.dev/v1\nkind: ProviderSpec\nmetadata: {name: child, revision: 1}\nextends: plain\n"
        "endpoint:\n  chat: {method: PUT}\n  stream: {body: {stream: true}}\n"
    )
    assert main(["spec", "validate", "specs"]) == 1
    assert capsys.readouterr().out == (
        "specs/child.yaml:7:3 [ERROR] SPEC011 endpoint.stream: missing required key 'path' (after merging over "
        "the base spec) (hint: neither this spec nor its base gives it; add it here)\n"
    )
    assert load_spec("plain")["endpoint"]["chat"] == {"path": "/chat"}


def test_list_items_and_specs_without_extends_must_be_complete(
    spec_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = ACME.replace("extends: openai\n", "").replace("  base_url_env: ACME_BASE_URL\n", "  chat: {method: POST}\n")
    (spec_dir / "acme-proxy.yaml").write_text(text)
    (spec_dir / "listed.yaml").write_text(
        ACME.replace("acme-proxy", "listed") + "overrides:\n  - params: {top_p: {unsupported: true}}\n"
    )
    assert main(["spec", "validate", "specs"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "specs/acme-proxy.yaml:6:3 [ERROR] SPEC011 endpoint.chat: missing required key 'path' "
        "(hint: add path: to this mapping)",
        "specs/listed.yaml:14:5 [ERROR] SPEC011 overrides[0]: missing required key 'match' "
        "(hint: add match: to this mapping)",
    ]
