"""Connections to MCP servers: opened lazily, reused across calls, closed with the client.

Each `McpConnection` owns one server's session inside its own task (the SDK's transports are anyio task
groups, which must be entered and left by the same task): the task opens the transport and the session,
hands the session out, and waits to be told to close. A stdio server's environment is the definition's `env`
plus PATH only. A connection that died (the process exited, the HTTP session dropped) is reopened once for
the call that found it dead; failing again is `McpConnectionError`. The tool list is cached per connection
and dropped when the server sends `notifications/tools/list_changed`.

The SDK is imported here only, on the first request that names an MCP server (the `[mcp]` extra).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
from typing import Any

import msgspec

from vllora_llm.engine.mcp_types import McpDefinition, McpHttp, McpSse, McpStdio
from vllora_llm.engine.tool_errors import McpConnectionError

from .auth import redact
from .mcp_content import convert_result
from .tool_output import ToolOutput

__all__ = ["CONNECT_TIMEOUT_S", "McpConnection", "McpPool"]

logger = logging.getLogger("vllora_llm")

CONNECT_TIMEOUT_S = 30.0
"""How long starting a server and its `initialize` handshake may take."""
CLOSE_TIMEOUT_S = 10.0
"""How long closing one connection may take (the SDK itself bounds a stdio server's shutdown to ~5 s)."""
_CONNECTION_CLOSED = -32000
_SESSION_GONE = ("Session terminated", "Session not found")
"""How the SDK's client and server say an HTTP session no longer exists (the server restarted or expired it)."""


def _import_sdk() -> Any:
    try:
        import mcp
    except ImportError:
        raise McpConnectionError(
            "this request names MCP servers, which need the official MCP SDK: pip install 'vllora-llm[mcp]'"
        ) from None
    return mcp


def _secrets(definition: McpDefinition) -> tuple[str, ...]:
    if isinstance(definition, (McpHttp, McpSse)):
        return tuple(v for v in (definition.headers or {}).values() if v)
    if isinstance(definition, McpStdio):
        return tuple(v for v in (definition.env or {}).values() if len(v) >= 8)
    return ()


def stdio_argv(definition: McpStdio) -> tuple[str, list[str], dict[str, str]]:
    """The command, arguments and environment to start a stdio server with: exactly `env` plus PATH. The SDK
    adds a few variables of its own (HOME, USER, ...) to any env it is given, so on POSIX the server is started
    through `env -i`, which clears them."""
    env = {"PATH": os.environ.get("PATH", os.defpath), **(definition.env or {})}
    launcher = shutil.which("env") if sys.platform != "win32" else None
    if launcher is None:
        return definition.command, list(definition.args), env
    assignments = [f"{key}={value}" for key, value in env.items()]
    return launcher, ["-i", *assignments, definition.command, *definition.args], {}


class McpConnection:
    """One MCP server's session, opened on first use and kept until `aclose()`."""

    def __init__(self, definition: McpDefinition, label: str) -> None:
        self.definition = definition
        self.label = label
        self._secrets = _secrets(definition)
        self._task: asyncio.Task[None] | None = None
        self._session: Any = None
        self._stop: asyncio.Event | None = None
        self._lock = asyncio.Lock()
        self._tools: list[Any] | None = None
        self.opened = 0
        """How many times a session was opened (1 + reconnects), for tests and diagnostics."""

    # ---- lifetime ------------------------------------------------------------------------------------------

    async def _session_now(self) -> Any:
        async with self._lock:
            if self._session is not None and self._task is not None and not self._task.done():
                return self._session
            await self._close_task()
            return await self._open()

    async def _open(self) -> Any:
        _import_sdk()
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[Any] = loop.create_future()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(ready, self._stop), name=f"mcp:{self.label}")
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                self._session = await asyncio.shield(ready)
        except TimeoutError:
            await self._close_task()
            raise McpConnectionError(
                f"MCP server {self.label!r} did not finish its handshake within {CONNECT_TIMEOUT_S:g} s"
            ) from None
        except BaseException:  # the typed error from `_run`, or a cancellation: no task is left behind
            await self._close_task()
            raise
        self.opened += 1
        self._tools = None
        logger.debug("MCP server %r connected", self.label)
        return self._session

    async def _run(self, ready: asyncio.Future[Any], stop: asyncio.Event) -> None:
        """The task that owns the transport and session: open, publish, wait for `stop`, close."""
        from mcp import ClientSession

        try:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await self._enter_transport(stack)
                session = await stack.enter_async_context(
                    ClientSession(read, write, message_handler=self._on_message)
                )
                await session.initialize()
                if not ready.done():
                    ready.set_result(session)
                await stop.wait()
        except asyncio.CancelledError:
            if not ready.done():
                ready.cancel()
            raise
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(self._error(exc, "could not be started"))
            else:
                logger.debug("MCP server %r connection ended: %s", self.label, type(exc).__name__)
        finally:
            self._session = None

    async def _enter_transport(self, stack: contextlib.AsyncExitStack) -> tuple[Any, Any]:
        definition = self.definition
        if isinstance(definition, McpStdio):
            from mcp.client.stdio import StdioServerParameters, stdio_client

            command, args, env = stdio_argv(definition)
            params = StdioServerParameters(command=command, args=args, env=env, cwd=definition.cwd)
            streams = await stack.enter_async_context(stdio_client(params, errlog=_errlog(stack)))
        elif isinstance(definition, McpHttp):
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client

            http = await stack.enter_async_context(create_mcp_http_client(headers=dict(definition.headers or {})))
            streams = await stack.enter_async_context(streamable_http_client(definition.server_url, http_client=http))
        else:
            from mcp.client.sse import sse_client

            streams = await stack.enter_async_context(
                sse_client(definition.server_url, headers=dict(definition.headers or {}))
            )
        return streams[0], streams[1]

    async def _on_message(self, message: Any) -> None:
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            self._tools = None
            logger.debug("MCP server %r: tool list changed", self.label)

    async def _close_task(self) -> None:
        task, stop = self._task, self._stop
        self._task, self._session = None, None
        if task is None:
            return
        if stop is not None:
            stop.set()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        except BaseException:
            logger.debug("MCP server %r: error while closing", self.label)

    async def aclose(self) -> None:
        async with self._lock:
            await self._close_task()

    # ---- calls ---------------------------------------------------------------------------------------------

    def _error(self, exc: BaseException, what: str) -> McpConnectionError:
        detail = redact(f"{type(exc).__name__}: {exc}", self._secrets)
        if isinstance(exc, BaseExceptionGroup):
            detail = "; ".join(redact(f"{type(e).__name__}: {e}", self._secrets) for e in _leaves(exc)[:3])
        return McpConnectionError(f"MCP server {self.label!r} {what}: {detail}")

    async def _with_reconnect(self, what: str, call: Any) -> Any:
        """Run `call(session)`; when the connection turns out to be dead, reopen it once and run it again."""
        for attempt in (0, 1):
            session = await self._session_now()
            try:
                return await call(session)
            except Exception as exc:
                if not _is_connection_lost(exc):
                    raise
                logger.info("MCP server %r: connection lost (%s)", self.label, "gave up" if attempt else "reconnecting")
                async with self._lock:
                    if self._session is session:
                        await self._close_task()
                if attempt:
                    raise self._error(exc, f"{what} failed after a reconnect") from None
        raise AssertionError("unreachable")

    async def list_tools(self) -> list[Any]:
        """The server's tools (all pages), cached until the server says the list changed."""
        if self._tools is not None:
            return self._tools

        async def fetch(session: Any) -> list[Any]:
            from mcp_types import PaginatedRequestParams

            tools: list[Any] = []
            cursor: str | None = None
            while True:
                params = PaginatedRequestParams(cursor=cursor) if cursor else None
                page = await session.list_tools(params=params)
                tools.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    return tools

        try:
            tools: list[Any] = await self._with_reconnect("listing tools", fetch)
        except McpConnectionError:
            raise
        except Exception as exc:
            raise self._error(exc, "could not list its tools") from None
        self._tools = tools
        return tools

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutput:
        """Run one tool; a protocol error (unknown tool, bad arguments) is an error result for the model."""

        async def run(session: Any) -> Any:
            return await session.call_tool(name, arguments)

        try:
            result = await self._with_reconnect(f"calling {name!r}", run)
        except McpConnectionError:
            raise
        except Exception as exc:
            return ToolOutput(redact(f"tool {name!r} failed: {exc}", self._secrets), is_error=True)
        return convert_result(result)


def _errlog(stack: contextlib.AsyncExitStack) -> Any:
    """Where a stdio server's stderr goes: ours when it is a real file (not when a notebook or a test runner
    replaced it), else the original stderr, else nowhere."""
    for candidate in (sys.stderr, sys.__stderr__):
        try:
            if candidate is not None:
                candidate.fileno()
                return candidate
        except (AttributeError, OSError, ValueError):
            continue
    return stack.enter_context(open(os.devnull, "w"))


def _leaves(group: BaseExceptionGroup[Any]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out


def _is_connection_lost(exc: BaseException) -> bool:
    import anyio

    if isinstance(exc, (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream)):
        return True
    error = getattr(exc, "error", None)  # the SDK's MCPError: a closed stream, or an HTTP session that expired
    code, message = getattr(error, "code", None), getattr(error, "message", None)
    return code == _CONNECTION_CLOSED or message in _SESSION_GONE


class McpPool:
    """The client's MCP connections, one per distinct definition, closed together by `aclose()`."""

    def __init__(self) -> None:
        self._connections: dict[bytes, McpConnection] = {}

    def connection(self, definition: McpDefinition, label: str) -> McpConnection:
        key = msgspec.json.encode(definition.__class__.__name__) + msgspec.json.encode(
            msgspec.structs.replace(definition, filter=None, name=None)
        )
        connection = self._connections.get(key)
        if connection is None:
            connection = self._connections[key] = McpConnection(definition, label)
        return connection

    @property
    def connections(self) -> list[McpConnection]:
        return list(self._connections.values())

    async def aclose(self) -> None:
        connections, self._connections = list(self._connections.values()), {}
        # closed in parallel: each stdio server may take a moment to exit
        await asyncio.gather(*(c.aclose() for c in connections), return_exceptions=True)
