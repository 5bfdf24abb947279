"""Fixtures shared by every test folder."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import settings

from vllora_llm.testing import LocalProviderServer

# CI runs the property tests on a fixed set of examples (reproducible verdicts); locally each run explores anew.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

ROUTES = Path(__file__).resolve().parent / "data" / "models.yaml"
"""The gateway routes the router tests use (`primary` falling back to `backup`, ...)."""


@pytest.fixture
def routes_file(tmp_path: Path) -> Callable[..., Path]:
    """`routes_file(server, **changes)`: tests/data/models.yaml with every endpoint pointed at `server`, each
    route updated with `changes[its model]`, written to a temporary models.yaml (its path returned)."""

    def write(server: LocalProviderServer, **changes: dict[str, Any]) -> Path:
        entries = yaml.safe_load(ROUTES.read_text())
        for entry in entries:
            entry["inference_provider"]["endpoint"] = server.openai_base_url
            entry.update(changes.get(entry["model"], {}))
        path = tmp_path / "models.yaml"
        path.write_text(yaml.safe_dump(entries))
        return path

    return write


@pytest.fixture
async def server() -> AsyncIterator[LocalProviderServer]:
    """The local provider server on 127.0.0.1 (a free port), speaking every shipped wire format."""
    async with LocalProviderServer() as running:
        yield running


@pytest.fixture
def threaded_server() -> Iterator[LocalProviderServer]:
    """The local server on its own loop in a thread, for code that blocks (the sync facade, asyncio.run)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(LocalProviderServer().start(), loop).result(5)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
