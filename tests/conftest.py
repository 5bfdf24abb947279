"""Fixtures shared by every test folder."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import settings

from vllora_llm.testing import LocalProviderServer

# CI runs the property tests on a fixed set of examples (reproducible verdicts); locally each run explores anew.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


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
