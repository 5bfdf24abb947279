"""What a user's own type checker sees: the README's Python blocks and a small app, under `mypy --strict`,
run outside the repository so that only the installed package (the strict editable install's link tree, or a
wheel) can be found. Also: the checkout's root does not break `import vllora_llm.client`.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRELUDE = """\
import asyncio
from typing import Any
from vllora_llm.client import *  # noqa: F403
from vllora_llm.error import *  # noqa: F403
from vllora_llm.types.gateway import *  # noqa: F403
"""

USER_APP = '''\
"""A small app, as a user writes one: every public name it touches must be typed."""
import asyncio

from vllora_llm.client import DummyModelInstance, VlloraLLMClient
from vllora_llm.error import LLMError, ProviderError
from vllora_llm.types.gateway import ChatCompletionMessage, ChatCompletionRequest


async def ask(client: VlloraLLMClient, question: str) -> str:
    request = ChatCompletionRequest(model="m", messages=[ChatCompletionMessage.new_text("user", question)])
    try:
        response = await client.completions().create(request)
    except ProviderError as err:
        return f"{err.status}: {err}"
    except LLMError as err:
        return str(err)
    content = response.message().content
    text: str = content.as_string() if content is not None else ""
    async with client.completions().create_stream(request) as stream:
        async for chunk in stream:
            for choice in chunk.choices:
                text += choice.delta.content or ""
    return text


print(asyncio.run(ask(VlloraLLMClient.new_with_instance(DummyModelInstance()), "hi")))
'''


def readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)


def as_module(block: str) -> str:
    """A complete program stays as it is; a snippet gets the public imports, and top-level `await` / `async
    with` / `async for` run inside a coroutine, as they would in the user's code."""
    if re.search(r"^(from|import) vllora_llm", block, re.M):
        return block
    if re.search(r"^(async |.*\bawait\b)", block, re.M):
        block = "async def snippet() -> None:\n" + textwrap.indent(block, "    ")
    return PRELUDE + block


def mypy(folder: Path, *files: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--no-error-summary",
         "--disable-error-code", "no-untyped-call", "--allow-untyped-globals", *files],
        cwd=folder, capture_output=True, text=True, timeout=600,
    )


def test_readme_blocks_and_a_user_app_pass_mypy_strict(tmp_path: Path) -> None:
    blocks = readme_python_blocks()
    assert blocks, "the README lost its Python examples"
    names = []
    for number, block in enumerate(blocks):
        name = f"readme_block_{number}.py"
        (tmp_path / name).write_text(as_module(block), encoding="utf-8")
        names.append(name)
    (tmp_path / "user_app.py").write_text(USER_APP, encoding="utf-8")
    result = mypy(tmp_path, *names, "user_app.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_message_content_types_match_what_the_constructor_takes() -> None:
    """The type checker's view of `ChatCompletionMessage` (a constructor written for it) lists exactly the
    Struct's fields, so the two cannot drift apart."""
    from vllora_llm.types.gateway import ChatCompletionMessage, TextPart

    source = (ROOT / "engine" / "gateway_messages.py").read_text(encoding="utf-8")
    body = source.split("class ChatCompletionMessage(", 1)[1].split("def __post_init__", 1)[0]
    signature = body.split("def __init__(", 1)[1].split(") -> None", 1)[0]
    parameters = re.findall(r"^\s+(\w+):", signature, re.M)
    assert parameters == list(ChatCompletionMessage.__struct_fields__)
    message = ChatCompletionMessage(role="user", content=[TextPart(text="a"), TextPart(text="b")])
    assert message.content is not None and message.content.as_string() == "ab"


def test_the_checkout_root_imports_like_the_installed_package() -> None:
    """`python -c` in the repository root puts the root's `vllora_llm/` first on the path."""
    result = subprocess.run(
        [sys.executable, "-c", "import vllora_llm.client, vllora_llm.tools.cli; print(vllora_llm.client.__name__)"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "vllora_llm.client"), result.stderr
