"""Output into a closed pipe (`vllora-llm spec render ... | head`) ends the command quietly.

Real processes and a real pipe: the reading end is closed before the command writes, so every write fails
with EPIPE, whatever the timing. Without the handling, Python prints a BrokenPipeError traceback (or
"Exception ignored ... BrokenPipeError" from the final flush) and exits 1 or 120.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "vllora_llm.tools.cli"]


def _run_into_closed_pipe(*argv: str) -> tuple[int, str]:
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will ever read: the first write (or the final flush) gets EPIPE
    try:
        proc = subprocess.run(
            [*CLI, *argv], stdout=write_end, stderr=subprocess.PIPE, cwd=ROOT, timeout=60, text=True,
            env={**os.environ, "OPENAI_API_KEY": "sk-closed-pipe-test-key"},
        )
    finally:
        os.close(write_end)
    return proc.returncode, proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ("spec", "render", "openai", "tests/tools/requests/tools.json"),
        ("spec", "transforms"),
        ("spec", "matrix", "--all"),
    ],
    ids=["render", "transforms", "matrix"],
)
def test_a_closed_pipe_ends_the_command_quietly(argv: tuple[str, ...]) -> None:
    code, err = _run_into_closed_pipe(*argv)
    assert err == ""
    assert code == 141  # 128 + SIGPIPE: what the shell reports for `yes | head`

