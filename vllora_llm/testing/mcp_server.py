"""A small MCP server built with the official `mcp` SDK, shipped for tests and `vllora-llm demo`.

    python -m vllora_llm.testing.mcp_server                      # stdio
    python -m vllora_llm.testing.mcp_server --http --port 8931   # streamable HTTP on 127.0.0.1:8931/mcp
    python -m vllora_llm.testing.mcp_server --sse --port 8931    # HTTP+SSE on 127.0.0.1:8931/sse

Its tools cover what a tool loop must handle: plain text (`echo`, `add`), structured content (`weather`), an
image, an embedded resource, a tool error (`fail`), a slow tool (`sleep`), a process that dies (`crash`), the
environment the server was given (`env`), its process id (`pid`) and a tool list that changes (`grow`).
Needs the `[mcp]` extra.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image
from mcp_types import CallToolResult, EmbeddedResource, TextContent, TextResourceContents

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
"""A 1x1 PNG, the `image` tool's answer."""


def build_server(name: str = "vllora-test") -> MCPServer:
    """The server with every test tool registered."""
    server = MCPServer(name, log_level="WARNING")

    @server.tool()
    def echo(text: str) -> str:
        """Echo the text back."""
        return f"echo: {text}"

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def weather(city: str) -> dict[str, Any]:
        """The weather in a city, as structured content."""
        return {"city": city, "temperature_c": 21, "sky": "clear"}

    @server.tool()
    def image() -> Image:
        """A tiny PNG image."""
        return Image(data=PNG_1PX, format="png")

    @server.tool()
    def document(topic: str) -> CallToolResult:
        """A short document about a topic, as an embedded resource."""
        resource = TextResourceContents(uri=f"memo://{topic}", mime_type="text/plain", text=f"All about {topic}.")
        return CallToolResult(
            content=[TextContent(text="see the attached memo"), EmbeddedResource(resource=resource)]
        )

    @server.tool()
    def fail(message: str) -> str:
        """Always fails with the given message."""
        raise ToolError(f"failed on purpose: {message}")

    @server.tool()
    async def sleep(seconds: float) -> str:
        """Sleep, then answer."""
        await asyncio.sleep(seconds)
        return f"slept {seconds}"

    @server.tool()
    def crash() -> str:
        """End the server process at once (a dead stdio server)."""
        os._exit(3)

    @server.tool()
    def environment() -> str:
        """The names of the environment variables the server's process was given, sorted, comma-separated."""
        return ",".join(sorted(os.environ))

    @server.tool()
    def pid() -> int:
        """The server's process id."""
        return os.getpid()

    @server.tool()
    async def grow(ctx: Context) -> str:
        """Add a tool named `extra` and tell the client the tool list changed."""

        def extra() -> str:
            """A tool that appeared later."""
            return "extra!"

        server.add_tool(extra, name="extra")
        await ctx.request_context.session.send_tool_list_changed()
        return "added a tool named extra"

    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vllora_llm.testing.mcp_server", description=__doc__.split("\n")[0])
    parser.add_argument("--http", action="store_true", help="serve streamable HTTP (at /mcp) instead of stdio")
    parser.add_argument("--sse", action="store_true", help="serve the older HTTP+SSE transport (at /sse)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8931)
    args = parser.parse_args(argv)
    server = build_server()
    if args.sse:
        print(f"MCP server on http://{args.host}:{args.port}/sse", file=sys.stderr, flush=True)
        server.run("sse", host=args.host, port=args.port)
    elif args.http:
        print(f"MCP server on http://{args.host}:{args.port}/mcp", file=sys.stderr, flush=True)
        server.run("streamable-http", host=args.host, port=args.port)
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()
