"""A provider added with no code: a user's spec in a folder on VLLORA_SPEC_PATH, used end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.registry import clear_cache
from vllora_llm.testing import LocalProviderServer
from vllora_llm.tools.cli import main

USER_SPEC = """\
apiVersion: vllora.dev/v1
kind: ProviderSpec
metadata: {name: acme, display_name: Acme proxy, revision: 1}
extends: openai
endpoint: {base_url: "https://llm.acme.example/v1", base_url_env: ACME_BASE_URL}
auth: {scheme: bearer, env: ACME_API_KEY}
params:
  max_completion_tokens: {to: max_tokens}
  seed: {unsupported: true, note: "not supported by the Acme proxy"}
overrides: []
"""


@pytest.fixture
def spec_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "acme.yaml").write_text(USER_SPEC)
    monkeypatch.setenv("VLLORA_SPEC_PATH", str(tmp_path))
    monkeypatch.setenv("ACME_API_KEY", "acme-secret")
    clear_cache()
    yield tmp_path
    clear_cache()


async def test_a_user_spec_works_end_to_end(spec_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    request = {
        "model": "acme-large",
        "messages": [{"role": "user", "content": "hello acme"}],
        "max_completion_tokens": 50,
        "seed": 3,
    }
    async with LocalProviderServer() as server:
        monkeypatch.setenv("ACME_BASE_URL", server.openai_base_url)
        async with VlloraLLMClient.from_provider("acme") as client:
            response = await client.completions().create(request)
            sent = server.last_request
            stream = client.completions().create_stream(request)
            text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert sent.headers["authorization"] == "Bearer acme-secret"
    assert sent.json["max_tokens"] == 50 and "max_completion_tokens" not in sent.json and "seed" not in sent.json
    assert "hello acme" in response.text()
    assert [w.param for w in response.warnings] == ["seed"]
    assert "not supported by the Acme proxy" in response.warnings[0].message
    assert text == response.text()


def test_the_user_spec_validates_clean(spec_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec", "validate"]) == 0
    assert capsys.readouterr().out == ""


HEADERS_SPEC = """\
apiVersion: vllora.dev/v1
kind: ProviderSpec
metadata: {name: acme2, display_name: Acme with per-model headers, revision: 1}
extends: openai
endpoint: {base_url: "https://llm.acme.example/v1"}
auth: {scheme: bearer, env: ACME_API_KEY}
headers: {x-tier: standard}
overrides:
  - match: ["acme-pro-*"]
    headers: {x-tier: pro}
"""


async def test_each_model_family_keeps_its_own_headers_call_after_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client computes a plan's final headers once per header set: alternating models (and so override
    layers) must still send each family's headers, with the key, on every call."""
    (tmp_path / "acme2.yaml").write_text(HEADERS_SPEC)
    monkeypatch.setenv("VLLORA_SPEC_PATH", str(tmp_path))
    clear_cache()
    seen: list[tuple[str, str | None, str | None]] = []
    try:
        async with LocalProviderServer() as server, VlloraLLMClient.from_provider(
            "acme2", api_key="k-1", base_url=server.openai_base_url, headers={"x-team": "ml"}
        ) as client:
            for model in ["acme-pro-1", "acme-small", "acme-pro-2", "acme-small", "acme-pro-1"]:
                await client.completions().create({"model": model, "messages": [{"role": "user", "content": "hi"}]})
                sent = server.last_request
                seen.append((sent.headers["x-tier"], sent.headers.get("authorization"), sent.headers.get("x-team")))
    finally:
        clear_cache()
    pro, standard = ("pro", "Bearer k-1", "ml"), ("standard", "Bearer k-1", "ml")
    assert seen == [pro, standard, pro, standard, pro]
