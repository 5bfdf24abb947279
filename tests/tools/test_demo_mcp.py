"""`vllora-llm demo` runs one MCP tool loop against the shipped MCP server, or says how to enable it."""

from __future__ import annotations

import sys

import pytest

from vllora_llm.tools.cli import main


def test_demo_runs_a_tool_loop_against_the_shipped_mcp_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    section = capsys.readouterr().out.split("== MCP tool loop", 1)[1]
    assert "  tool add({\"a\":1,\"b\":1}) on 'demo' -> 2 [ok]" in section
    assert "Model reply: Hello from the local openai server! The tool returned: 2" in section


def test_demo_without_the_extra_says_how_to_enable_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mcp", None)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    hints = [line for line in out.splitlines() if line.startswith("MCP tool loop")]
    assert hints == ["MCP tool loop: skipped (pip install 'vllora-llm[mcp]' to run it against a local MCP server)"]
    assert "== MCP tool loop" not in out
