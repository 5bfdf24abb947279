"""The local provider server: an aiohttp app that speaks providers' wire formats on 127.0.0.1.

Users test their apps offline against it, `vllora-llm demo` and `vllora-llm mock-server` run it, and our
runtime tests drive the real client through it. Replies are deterministic, every request is recorded, and
faults (see `faults.py`) make it misbehave on purpose. Each wire format is one module with a `register(app)`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import TracebackType
from typing import Self

from aiohttp import web

from vllora_llm.tools.testing import (
    gemini_caches,
    wire_anthropic,
    wire_converse,
    wire_gemini,
    wire_openai,
    wire_operations,
    wire_responses,
)
from vllora_llm.tools.testing.faults import FaultQueue
from vllora_llm.tools.testing.state import STATE, RecordedRequest, ServerState

WIRE_FORMATS: tuple[Callable[[web.Application], None], ...] = (
    wire_openai.register,
    wire_anthropic.register,
    wire_converse.register,
    wire_gemini.register,
    wire_operations.register,  # embeddings and images, in each of those formats
    gemini_caches.register,  # Gemini's cachedContents
    wire_responses.register,  # OpenAI's Responses API
)

BASE_PATHS: dict[str, str] = {"openai": "/v1", "anthropic": "", "bedrock": "", "gemini": ""}
"""Provider spec name → the base-URL path the official SDK convention expects for that provider here."""
COMPATIBLE_BASE_PATHS: dict[str, str] = {"deepseek": "/v1"}
"""Specs that speak one of those wire formats (DeepSeek's thinking mode is served on the OpenAI route)."""


def create_app(*, faults: FaultQueue | None = None) -> web.Application:
    """A fresh app serving every wire format, with its own request log and fault queue."""
    app = web.Application()
    state = ServerState(faults=faults if faults is not None else FaultQueue())
    app[STATE] = state

    async def on_shutdown(_: web.Application) -> None:
        state.closing.set()  # ends stalls, drips and delays so shutdown does not wait for them

    app.on_shutdown.append(on_shutdown)
    for register in WIRE_FORMATS:
        register(app)
    return app


class LocalProviderServer:
    """`async with LocalProviderServer() as server:` runs the app on 127.0.0.1 (a free port by default)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, faults: FaultQueue | None = None) -> None:
        self.host = host
        self.app = create_app(faults=faults)
        self._requested_port = port
        self._runner: web.AppRunner | None = None
        self.port = port

    @property
    def state(self) -> ServerState:
        return self.app[STATE]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def providers(self) -> tuple[str, ...]:
        """The provider specs whose wire format this server speaks (what `vllora-llm demo` walks through)."""
        return tuple(BASE_PATHS)

    def base_url_for(self, provider: str) -> str:
        """The `base_url=` to give `VlloraLLMClient.from_provider(provider, ...)` to talk to this server."""
        try:
            return self.url + {**BASE_PATHS, **COMPATIBLE_BASE_PATHS}[provider]
        except KeyError:
            raise LookupError(f"the local provider server does not speak {provider!r} yet") from None

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.state.requests

    @property
    def last_request(self) -> RecordedRequest:
        if not self.state.requests:
            raise LookupError("the local provider server has not received a request yet")
        return self.state.requests[-1]

    @property
    def gemini_caches(self) -> gemini_caches.CacheStore:
        """The Gemini caches this server holds (`creates`: every create body; `expire(name)` ages one)."""
        return gemini_caches.caches_of(self.app)

    @property
    def faults(self) -> FaultQueue:
        return self.state.faults

    @property
    def disconnects(self) -> int:
        """Client disconnects seen before a response was complete (mid-stream, in a stall, drip or delay)."""
        return self.state.disconnects

    @property
    def open_connections(self) -> int:
        server = self._runner.server if self._runner is not None else None
        return len(server.connections) if server is not None else 0

    def reset(self) -> None:
        """Forget recorded requests, queued faults and the disconnect count."""
        self.state.reset()

    def __repr__(self) -> str:
        return (
            f"LocalProviderServer(url={self.url!r}, requests={len(self.requests)}, faults={len(self.faults)})"
        )

    async def start(self) -> Self:
        self.state.closing.clear()
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        return self

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


def run_server(host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve until interrupted (Ctrl-C), printing the URL first: `vllora-llm mock-server --port P`."""

    async def serve() -> None:
        async with LocalProviderServer(host, port) as server:
            print(f"vllora-llm local provider server listening on {server.url}", flush=True)
            print(f"  OpenAI chat completions: {server.openai_base_url}/chat/completions", flush=True)
            print(f"  OpenAI Responses API: {server.openai_base_url}/responses (plain and streamed)", flush=True)
            print(f"  Anthropic messages: {server.base_url_for('anthropic')}/v1/messages", flush=True)
            print(f"  Bedrock Converse: {server.base_url_for('bedrock')}/model/<model>/converse", flush=True)
            print(f"  Gemini: {server.base_url_for('gemini')}/v1beta/models/<model>:generateContent (or /v1/...)",
                  flush=True)
            print(f"  Embeddings / images: {server.openai_base_url}/embeddings, /images/generations; Gemini "
                  ":batchEmbedContents, :predict; Bedrock /model/<model>/invoke", flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
