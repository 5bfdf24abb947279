"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from vllora_llm.testing import LocalProviderServer


@pytest.fixture
async def server() -> AsyncIterator[LocalProviderServer]:
    """The local provider server on 127.0.0.1 (a free port), speaking every shipped wire format."""
    async with LocalProviderServer() as running:
        yield running
