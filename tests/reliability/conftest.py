"""Fixtures for the reliability suite: a fresh local provider server per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from vllora_llm.testing import LocalProviderServer


@pytest.fixture
async def server() -> AsyncIterator[LocalProviderServer]:
    async with LocalProviderServer() as s:
        yield s
