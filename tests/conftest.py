"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

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
