"""`vllora-llm spec compile PROVIDER`: the source generated from a spec, and tracebacks that show it.

A snapshot (read by people) of Anthropic's generated functions; the file names printed are the ones the
source is registered under in `linecache`, so an error raised inside generated code shows its real line.
"""

from __future__ import annotations

import linecache
import os
import re
import subprocess
import sys
import traceback
from pathlib import Path

import msgspec
import pytest

from vllora_llm.engine.errors import LLMError
from vllora_llm.engine.lower_decode import lower_response
from vllora_llm.engine.registry import clear_cache
from vllora_llm.engine.response import FinishMap, decode_json, malformed_response
from vllora_llm.tools.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _builtin_specs_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("VLLORA_SPEC_PATH", raising=False)
    clear_cache()


def test_snapshot(capsys: pytest.CaptureFixture[str], snapshot: object) -> None:
    assert main(["spec", "compile", "anthropic"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "def decode_response(body):" in out
    assert out == snapshot


def test_every_printed_function_compiles(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec", "compile", "gemini", "--operation", "chat"]) == 0
    out = capsys.readouterr().out
    sources = re.split(r"^# ---- .*\n(?:#   .*\n)*", out, flags=re.M)[1:]
    assert len(sources) > 10
    for source in sources:
        compile(source, "<printed>", "exec")


def test_unknown_provider_or_operation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec", "compile", "nope"]) == 1
    assert "no provider spec named 'nope'" in capsys.readouterr().err
    assert main(["spec", "compile", "gemini", "--operation", "embeddings"]) == 1
    assert "no operation 'embeddings'" in capsys.readouterr().err


def test_a_traceback_through_generated_code_shows_its_lines() -> None:
    forbid = {"$op": "require", "absent": True, "in": "$text", "error": "provider", "message": "no text here"}
    decode = lower_response({"parts": "content", "kind_by": {"field": "type"}, "kinds": {"text": {"text": forbid}}},
                            "made-up", FinishMap(None), {}, None, None, msgspec.json.decode, decode_json,
                            malformed_response)
    with pytest.raises(LLMError) as caught:
        decode(b'{"content": [{"type": "text", "text": "a"}]}')
    frames = {f.name: f for f in traceback.extract_tb(caught.value.__traceback__)}
    assert frames["decode_response"].filename.startswith("vllora-llm/generated/decode_response_")
    # (the kind's template is inline in decode_response, and `require` inline in it: its line is the failing one)
    assert re.fullmatch(r"if _t\d+ is not None: _b\d+\(_t\d+, ctx\)", frames["decode_response"].line or "")
    assert linecache.getline(frames["decode_response"].filename, 1) == "def decode_response(body):\n"


def test_generated_source_does_not_depend_on_what_the_process_compiled_before() -> None:
    """Bits for the parts a stream gave were handed out first come, first served: `spec compile anthropic`
    printed other constants (and file names) after a Gemini decoder had been compiled in the same process."""
    script = ("import contextlib, io, sys\nfrom vllora_llm.tools.cli import main\n"
              "for name in sys.argv[1:]:\n"
              "    out = io.StringIO()\n"
              "    with contextlib.redirect_stdout(out):\n"
              "        main(['spec', 'compile', name])\n"
              "print(out.getvalue())\n")
    env = {**os.environ, "VLLORA_SPEC_CACHE": "off"}
    env.pop("VLLORA_SPEC_PATH", None)

    def printed(*names: str) -> str:
        return subprocess.run([sys.executable, "-c", script, *names], cwd=ROOT, env=env, check=True,
                              capture_output=True, text=True).stdout

    alone = printed("anthropic")
    assert "def on_events(" in alone
    assert printed("gemini", "bedrock", "anthropic") == alone
