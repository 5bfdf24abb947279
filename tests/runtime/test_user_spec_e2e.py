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
