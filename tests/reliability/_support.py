"""Shared by the reliability tests: the request, the local server's reply to it, a spec folder with body-level
error rules, and the connection counts the leak checks compare."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from vllora_llm.client import VlloraLLMClient
from vllora_llm.runtime.transport import AiohttpTransport
from vllora_llm.testing import LocalProviderServer

KEY = "sk-test-SECRET/key+1"  # '/' and '+' change under URL encoding: every form must be redacted
REQUEST: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
REPLY = "Hello from the local openai server! You said: hi"

# An OpenAI-compatible provider whose errors carry a retry delay in the body and whose 529 means
# "overloaded, try again": what a spec's error rules add to the built-in retry rules.
ACME_SPEC = """\
apiVersion: vllora.dev/v1
kind: ProviderSpec
extends: openai
metadata: {name: acme, revision: 1}
policy: {unsupported: error}
errors:
  retry_after: {from: error.retry_delay, transform: duration_seconds}
  retryable_status: [529]
"""


def write_acme_spec(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "acme.yaml").write_text(ACME_SPEC)
    return folder


def connector(client: VlloraLLMClient) -> aiohttp.BaseConnector | None:
    transport = getattr(client.instance, "transport", None)
    session = transport._session if isinstance(transport, AiohttpTransport) else None
    return session.connector if session is not None else None


def connections(client: VlloraLLMClient) -> tuple[int, int]:
    """(in use, idle in the pool) of the client's connector; (0, 0) before its first request."""
    conn = connector(client)
    if conn is None:
        return 0, 0
    idle = sum(len(entries) for entries in conn._conns.values())
    return len(conn._acquired), idle


async def wait_until(predicate: Any, seconds: float = 1.0) -> bool:
    """Poll `predicate()` until it holds or `seconds` pass; returns its last value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not predicate():
        if loop.time() > deadline:
            return bool(predicate())
        await asyncio.sleep(0.005)
    return True


def client_for(server: LocalProviderServer, **options: Any) -> VlloraLLMClient:
    provider = options.pop("provider", "openai")
    base_url = options.pop("base_url", server.openai_base_url)
    options.setdefault("backoff_base", 0.01)
    options.setdefault("max_backoff", 0.02)
    return VlloraLLMClient.from_provider(provider, api_key=KEY, base_url=base_url, **options)
