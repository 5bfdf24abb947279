"""`vllora-llm spec docs PROVIDER`: the Markdown reference generated from a merged spec.

Snapshots (read by people) for `openai` and one pack provider (`mistral`: renames, unsupported fields, a
stream body without OpenAI's `stream_options`); structural checks that hold for every spec on the search
path; and a small spec of our own to show that transform docs and examples come from the registry.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vllora_llm.engine.params import unified_params
from vllora_llm.engine.registry import clear_cache, discover
from vllora_llm.engine.transforms import REGISTRY
from vllora_llm.tools.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _builtin_specs_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("VLLORA_SPEC_PATH", raising=False)
    clear_cache()


def docs(capsys: pytest.CaptureFixture[str], provider: str) -> tuple[int, str, str]:
    code = main(["spec", "docs", provider])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("provider", ["openai", "mistral"])
def test_snapshot(provider: str, capsys: pytest.CaptureFixture[str], snapshot: object) -> None:
    code, out, err = docs(capsys, provider)
    assert (code, err) == (0, "")
    assert out == snapshot


@pytest.mark.parametrize("provider", sorted(discover()))
def test_every_parameter_is_listed_once(provider: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = docs(capsys, provider)
    assert code == 0
    params = out.split("## Parameters", 1)[1].split("### Renames", 1)[0]
    listed = re.findall(r"^\| `([a-z_.]+)` \|", params, re.M)
    assert sorted(listed) == sorted(unified_params())


def test_pack_provider_facts(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = docs(capsys, "mistral")
    assert "| extends | `openai` |" in out
    assert "| stream | POST | `https://api.mistral.ai/v1/chat/completions` | `{\"stream\": true}` |" in out
    assert "| `seed` | `random_seed` |" in out.split("### Renames", 1)[1]
    assert "`MISTRAL_API_KEY`" in out and "`MISTRAL_BASE_URL`" in out
    assert "None: every model gets the rules above." in out


def test_overrides_and_key_forms(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = docs(capsys, "deepseek")
    assert "### `deepseek-reasoner*`" in out
    assert "- `logprobs`: not sent, warn: rejected by deepseek-reasoner" in out
    _, out, _ = docs(capsys, "vllm")
    assert "Scheme `none`: no credentials." in out
    assert "When an API key is passed or set: scheme `bearer`" in out and "`VLLM_API_KEY`" in out


def test_transforms_come_from_the_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mini.yaml").write_text(
        "apiVersion: vllora.dev/v1\nkind: ProviderSpec\nmetadata: {name: mini, revision: 4}\nextends: openai\n"
        "params:\n  stop: {to: stop_sequences, transform: as_list}\n"
        "  user: {to: metadata, template: {user_id: {$op: join, in: $, sep: '-'}}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("VLLORA_SPEC_PATH", str(tmp_path))
    code, out, _ = docs(capsys, "mini")
    assert code == 0
    used = out.split("## Transforms used", 1)[1]
    assert re.findall(r"^### `(\w+)`", used, re.M) == ["as_list", "join"]
    assert REGISTRY["as_list"].doc in used and REGISTRY["join"].doc in used
    assert '- `"END"` → `["END"]`' in used
    assert "| `stop` | `stop_sequences` | transform `as_list` |" in out
    assert "| revision | 4 |" in out


def test_unknown_provider(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = docs(capsys, "no-such-provider")
    assert (code, out) == (1, "")
    assert "no provider spec named 'no-such-provider'" in err


@pytest.mark.parametrize("provider", ["anthropic", "gemini", "bedrock"])
def test_mappings_are_documented(provider: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every part kind, response kind, finish reason and stream event the spec maps is in its docs, in the
    section that says what it does."""
    from vllora_llm.engine.registry import load_spec

    spec = load_spec(provider)
    code, out, _ = docs(capsys, provider)
    assert code == 0
    sections = {title: body for title, body in re.findall(r"^## (\w+)\n(.*?)(?=^## |\Z)", out, re.S | re.M)}
    assert {"Messages", "Responses", "Streams", "Errors"} <= set(sections)
    for kind in spec["messages"]["parts"]:
        assert re.search(rf"^\| `{kind}` \| `\{{", sections["Messages"], re.M), kind
    for unified, wire in spec["messages"]["roles"].items():
        assert f"| role `{unified}` | role `{wire}` |" in sections["Messages"]
    for kind in spec["response"]["kinds"]:
        assert f"part kind `{kind}`" in sections["Responses"]
    for wire, unified in spec["response"]["finish_reason"]["map"].items():
        assert f"| ↳ `{wire}` | `{unified}` |" in sections["Responses"]
    for event in spec["stream"].get("events") or {}:
        assert f"| `{event}` |" in sections["Streams"]
    for field in spec["errors"]:
        assert f"| `{field}` |" in sections["Errors"]


@pytest.mark.parametrize("provider", sorted(discover()))
def test_operations_section_lists_each_operation_or_its_absence(
    provider: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from vllora_llm.engine.gateway_ops import operation_params
    from vllora_llm.engine.registry import load_spec

    _, out, _ = docs(capsys, provider)
    section = out.split("## Operations", 1)[1].split("## Transforms used", 1)[0]
    offered = load_spec(provider).get("operations") or {}
    for operation in ("embeddings", "images"):
        if operation in offered:
            table = section.split(f"### `{operation}`", 1)[1].split("### ", 1)[0]
            assert sorted(re.findall(r"^\| `([a-z_.]+)` \|", table, re.M)) == sorted(operation_params(operation))
        else:
            assert f"`{operation}`" in section.split("Not offered here:", 1)[1].split("\n", 1)[0]


@pytest.mark.parametrize(("provider", "rows"), [
    ("cohere", ["| `citations` | response: `$message.citations` |",
                '| `citations` | event `citation-start`: `{"$op": "as_list", "in": "$delta.message.citations"}` |',
                "| `billed_units` | event `message-end`: `$delta.usage.billed_units` |"]),
    ("gemini", ["| `grounding_metadata` | each stream event: `$candidates[0].groundingMetadata` |"]),
    ("perplexity", ["| `search_results` | each stream event: `$search_results` |"]),
    ("bedrock", ["None declared: `extras` is empty"]),
])
def test_extras_are_listed(provider: str, rows: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec", "docs", provider]) == 0
    out = capsys.readouterr().out
    extras = out.split("## Extras", 1)[1].split("\n## ", 1)[0]
    for row in rows:
        assert row in extras, extras


def test_gemini_documents_its_prompt_cache(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = docs(capsys, "gemini")
    assert code == 0
    section = out.split("### `prompt_cache`", 1)[1]
    assert "leading entries of `contents` up to the marked message" in section
    assert "`gemini-2.5-pro*`, `gemini-2.5-flash-lite*`: 2048" in section
    assert "create: POST `https://generativelanguage.googleapis.com/v1beta/cachedContents`" in section
