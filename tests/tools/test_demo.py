"""`vllora-llm demo`: the usage guide's two examples, offline, against every provider the local server speaks."""

from __future__ import annotations

import re

import pytest

from vllora_llm.tools.cli import main
from vllora_llm.tools.testing.server import BASE_PATHS


def test_demo_runs_every_provider_through_the_real_runtime(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "Model reply: Hello from DummyModelInstance! You said: Say hello in one short sentence." in out
    for provider in BASE_PATHS:
        section = out.split(f"== {provider} (", 1)[1].split("\n== ", 1)[0]
        reply = re.search(r"Model reply: (.+)", section)
        streamed = re.search(r"Streamed \((\d+) pieces\): (.+)", section)
        assert reply and streamed, section
        assert f"local {provider} server" in reply.group(1)
        assert streamed.group(2) == reply.group(1)  # the stream assembles the same answer
        assert int(streamed.group(1)) > 1  # and it really came in pieces
        assert "stream finish_reason=stop" in section
    assert out.rstrip().endswith("Demo finished: every provider answered through the real HTTP runtime.")


def test_demo_shows_the_warnings_a_provider_returns(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    section = capsys.readouterr().out.split("== anthropic (", 1)[1].split("\n== ", 1)[0]
    assert "warning: max_tokens was not set" in section


def test_demo_shows_one_embeddings_and_one_image_call_per_provider_that_has_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from vllora_llm.tools.demo import OPERATION_MODELS
    from vllora_llm.tools.testing.wire_operations import vector

    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for provider, (embedding_model, image_model) in OPERATION_MODELS.items():
        section = out.split(f"== {provider} (", 1)[1].split("\n== ", 1)[0]
        expected = f"[0] {vector('first text', 4)!r}, [1] {vector('second text', 4)!r}"  # in input order
        assert f"Embeddings ({embedding_model}): {expected}" in section
        assert re.search(rf"Image \({re.escape(image_model)}\): 1 image\(s\), \d+ base64 characters of PNG", section)
    anthropic = out.split("== anthropic (", 1)[1].split("\n== ", 1)[0]
    assert "Embeddings" not in anthropic  # no such operation: not attempted


def test_demo_shows_the_responses_api_native_and_translated(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    native = out.split("== Responses API: openai (", 1)[1].split("\n== ", 1)[0]
    translated = out.split("== Responses API: anthropic (", 1)[1].split("\n== ", 1)[0]
    assert "natively: POST /v1/responses" in native
    assert "translated through its chat spec: POST /v1/messages" in translated
    for provider, section in (("openai", native), ("anthropic", translated)):
        assert re.search(r'function_call get_weather\(\{"city":"Paris"\}\) call_id=\S+', section), section
        assert f"Hello from the local {provider} server! The tool returned: sunny" in section
        streamed = re.search(r"Streamed \((\d+) output_text deltas\): (.+) \[completed\]", section)
        assert streamed and int(streamed.group(1)) > 1, section
        assert streamed.group(2) == f"Hello from the local {provider} server! You said: Say hello."
