"""MCP servers through the public API, all real: the MCP server the package ships (built with the official
`mcp` SDK) as a stdio subprocess and over streamable HTTP on 127.0.0.1, and the local provider server
speaking each provider's wire format over HTTP. The model there calls the one tool it is offered (the user
turn names it), then answers with the tool's result."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.error import MaxToolStepsError, McpConnectionError
from vllora_llm.testing import LocalProviderServer
from vllora_llm.tool import McpHttp, McpStdio, ToolResultEvent, ToolStartEvent

PROVIDERS = ["openai", "anthropic", "gemini", "bedrock"]
SERVER_MODULE = "vllora_llm.testing.mcp_server"


def http(url: str, *tools: str) -> dict[str, Any]:
    return {"type": "http", "name": "web", "server_url": url, "filter": [{"name": "|".join(tools)}]}


def stdio(*tools: str, **kwargs: Any) -> dict[str, Any]:
    filters = [{"name": "|".join(tools)}] if tools else None
    return {"type": "stdio", "name": "test", "command": sys.executable, "args": ["-m", SERVER_MODULE],
            "filter": filters, **kwargs}


def request(servers: list[Any], text: str) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": text}], "mcp_servers": servers}


def client_for(server: LocalProviderServer, provider: str, **options: Any) -> VlloraLLMClient:
    extra = {"region": "us-east-1"} if provider == "bedrock" else {}
    return VlloraLLMClient.from_provider(
        provider, api_key="test-key", base_url=server.base_url_for(provider), **extra, **options
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def served(flag: str, path: str, port: int | None = None) -> Iterator[str]:
    """The shipped MCP server over HTTP (`--http` or `--sse`), in its own process."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", SERVER_MODULE, flag, "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            break
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("the MCP HTTP server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}{path}"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def http_mcp() -> Iterator[str]:
    with served("--http", "/mcp") as url:
        yield url


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


async def wait_dead(pid: int) -> None:
    for _ in range(100):
        if not alive(pid):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"process {pid} is still running")


@pytest.mark.parametrize(
    ("provider", "transport"),
    [*((p, "http") for p in PROVIDERS), ("openai", "stdio"), ("bedrock", "stdio")],
)
async def test_loop_on_each_wire_format(
    server: LocalProviderServer, http_mcp: str, provider: str, transport: str
) -> None:
    definition = stdio("echo") if transport == "stdio" else {
        "type": "http", "server_url": http_mcp, "filter": [{"name": "echo"}], "headers": {"X-Test": "1"}
    }
    async with client_for(server, provider) as client:
        response = await client.completions().create(request([definition], "please use echo"))
        assert "echo: example" in response.text()
        steps = response.tool_steps or []
        assert [(s.name, s.arguments, s.result, s.is_error) for s in steps] == [
            ("echo", {"text": "example"}, "echo: example", False)
        ]
        assert len(server.requests) == 2
        first, second = server.requests
        assert "echo" in json.dumps(first.json) and "mcp_servers" not in json.dumps(first.json)
        assert "echo: example" in json.dumps(second.json)  # the result went back in the provider's shape
        assert response.usage is not None
        assert response.usage.total_tokens > 0

        server.reset()
        seen: list[str] = []
        async with client.completions().create_stream(request([definition], "please use echo")) as stream:
            async for chunk in stream:
                if isinstance(chunk, (ToolStartEvent, ToolResultEvent)):
                    seen.append(chunk.object)
                elif any(c.delta.content for c in chunk.choices):
                    seen.append("text")
        assert seen[:2] == ["tool.start", "tool.result"] and set(seen[2:]) == {"text"}
        assert "echo: example" in stream.response.text()
        assert stream.response.tool_steps and stream.response.tool_steps[0].result == "echo: example"
        assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("provider", "marker"),
    [("openai", "failed on purpose"), ("anthropic", '"is_error":true'), ("gemini", "failed on purpose"),
     ("bedrock", '"status":"error"')],
)
async def test_a_failing_tool_goes_back_to_the_model(
    server: LocalProviderServer, http_mcp: str, provider: str, marker: str
) -> None:
    async with client_for(server, provider) as client:
        response = await client.completions().create(request([http(http_mcp, "fail")], "use fail"))
    steps = response.tool_steps or []
    assert steps and steps[0].is_error and "failed on purpose: example" in steps[0].result
    assert marker in server.last_request.body.decode()
    assert response.finish_reason() == "stop"


async def test_result_content_kinds(server: LocalProviderServer, http_mcp: str) -> None:
    async with client_for(server, "openai") as client:
        weather = await client.completions().create(request([http(http_mcp, "weather")], "use weather"))
        document = await client.completions().create(request([http(http_mcp, "document")], "use document"))
    expected = {"city": "example", "temperature_c": 21, "sky": "clear"}
    assert json.loads((weather.tool_steps or [])[0].result) == expected
    memo = "see the attached memo\n[resource memo://example]\nAll about example."
    assert (document.tool_steps or [])[0].result == memo


@pytest.mark.parametrize(
    ("provider", "marker"),
    [("openai", '"url":"data:image/png;base64,iVBOR'), ("anthropic", '"media_type":"image/png","data":"iVBOR'),
     ("gemini", '"mimeType":"image/png","data":"iVBOR'), ("bedrock", '"bytes":"iVBOR')],
)
async def test_images_reach_the_model_as_image_parts(
    server: LocalProviderServer, http_mcp: str, provider: str, marker: str
) -> None:
    async with client_for(server, provider) as client:
        # (this local model may call the tool again after an image: one round is enough to see the wire)
        try:
            response = await client.completions().create(
                request([http(http_mcp, "image")], "use image"), max_tool_steps=1
            )
            steps = response.tool_steps or []
        except MaxToolStepsError as err:
            steps = err.steps
    assert steps[0].result == "[image 1: image/png]"
    assert marker in server.requests[1].body.decode().replace(" ", "")


def sockets_to(port: int) -> int:
    """This process's open TCP sockets whose remote port is `port` (from /proc)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                    count += 1
    return count


async def test_http_sessions_are_reused_and_leave_no_connection(server: LocalProviderServer, http_mcp: str) -> None:
    port = int(http_mcp.rsplit(":", 1)[1].split("/", 1)[0])
    client = client_for(server, "gemini")
    for _ in range(2):
        response = await client.completions().create(request([http(http_mcp, "add")], "use add"))
        assert (response.tool_steps or [])[0].result == "2"
    (connection,) = client.completions()._tool_loop().pool.connections
    assert connection.opened == 1 and sockets_to(port) >= 1
    await client.aclose()
    assert sockets_to(port) == 0


async def test_a_dropped_http_session_is_reopened(server: LocalProviderServer) -> None:
    port = free_port()
    async with client_for(server, "openai") as client:
        with served("--http", "/mcp", port) as url:
            first = await client.completions().create(request([http(url, "pid")], "use pid"))
        with served("--http", "/mcp", port) as url:  # a new server process: the old session is gone
            second = await client.completions().create(request([http(url, "pid")], "use pid"))
        (connection,) = client.completions()._tool_loop().pool.connections
    assert (first.tool_steps or [])[0].result != (second.tool_steps or [])[0].result
    assert not (second.tool_steps or [])[0].is_error and connection.opened == 2


async def test_sse_transport(server: LocalProviderServer) -> None:
    with served("--sse", "/sse") as url:
        async with client_for(server, "anthropic") as client:
            definition = {"type": "sse", "server_url": url, "filter": [{"name": "add"}]}
            response = await client.completions().create(request([definition], "use add"))
    assert [(s.name, s.result) for s in response.tool_steps or []] == [("add", "2")]
    assert "The tool returned: 2" in response.text()


async def test_sessions_are_reused_and_closed(server: LocalProviderServer) -> None:
    client = client_for(server, "openai")
    pids = []
    for _ in range(3):
        response = await client.completions().create(request([stdio("pid")], "use pid"))
        pids.append(int((response.tool_steps or [])[0].result))
    assert len(set(pids)) == 1 and alive(pids[0])
    (connection,) = client.completions()._tool_loop().pool.connections
    assert connection.opened == 1
    await client.aclose()
    await wait_dead(pids[0])  # stopped and reaped: no zombie


async def test_a_dead_server_is_restarted_once(server: LocalProviderServer) -> None:
    async with client_for(server, "openai") as client:
        first = await client.completions().create(request([stdio("pid")], "use pid"))
        pid = int((first.tool_steps or [])[0].result)
        os.kill(pid, signal.SIGKILL)
        await wait_dead(pid)
        second = await client.completions().create(request([stdio("pid")], "use pid"))
        new_pid = int((second.tool_steps or [])[0].result)
        assert new_pid != pid and alive(new_pid)
        # a server that dies on every call: restarted once, then a typed error
        with pytest.raises(McpConnectionError, match=r"MCP server 'test' calling 'crash' failed after a reconnect"):
            await client.completions().create(request([stdio("crash")], "use crash"))


async def test_server_env_is_only_the_definitions_plus_path(
    server: LocalProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-must-not-leak")
    async with client_for(server, "openai") as client:
        response = await client.completions().create(
            request([stdio("environment", env={"MY_SETTING": "1"})], "use environment")
        )
    names = set((response.tool_steps or [])[0].result.split(","))
    assert {"PATH", "MY_SETTING"} <= names
    assert names - {"PATH", "MY_SETTING", "LC_CTYPE"} == set()  # (Python may set LC_CTYPE itself)


async def test_tool_list_changes_are_picked_up(server: LocalProviderServer) -> None:
    async with client_for(server, "openai") as client:
        await client.completions().create(request([stdio("grow|extra")], "use grow"))
        offered = [t["function"]["name"] for t in server.requests[0].json["tools"]]
        assert offered == ["grow"]
        await asyncio.sleep(0.1)
        server.reset()
        await client.completions().create(request([stdio("grow|extra")], "use grow"))
        offered = [t["function"]["name"] for t in server.requests[0].json["tools"]]
        assert offered == ["grow", "extra"]


async def test_slow_tool_times_out_and_cancel_leaves_a_usable_session(server: LocalProviderServer) -> None:
    async with client_for(server, "openai", tool_timeout=0.2) as client:
        response = await client.completions().create(request([stdio("sleep")], "use sleep"))
        assert (response.tool_steps or [])[0].result == "tool 'sleep' timed out after 0.2 s"
        task = asyncio.create_task(
            client.completions().create(request([stdio("sleep")], "use sleep"), tool_timeout=30)
        )
        while not any("sleep" in json.dumps(r.json) for r in server.requests[2:]):
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # the tool call is running now
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        again = await client.completions().create(request([stdio("pid")], "use pid"))
        assert int((again.tool_steps or [])[0].result) > 0
        (connection,) = client.completions()._tool_loop().pool.connections
        assert connection.opened == 1


async def test_from_provider_defaults_and_request_override(server: LocalProviderServer) -> None:
    async with client_for(server, "openai", mcp_servers=[McpStdio(**{k: v for k, v in stdio("echo").items()
                                                                      if k not in ("type", "filter")},
                                                                   filter=[{"name": "echo"}])]) as client:
        plain = {"model": "m", "messages": [{"role": "user", "content": "use echo"}]}
        response = await client.completions().create(plain)
        assert (response.tool_steps or [])[0].name == "echo"
        response = await client.completions().create(request([stdio("pid")], "use pid"))
        assert (response.tool_steps or [])[0].name == "pid"


async def test_unreachable_or_broken_servers_are_typed_errors(server: LocalProviderServer) -> None:
    secret = "Bearer mcp-secret-token-123"
    dead = McpHttp(server_url=f"http://127.0.0.1:{free_port()}/mcp", headers={"Authorization": secret})
    async with client_for(server, "openai") as client:
        started = time.monotonic()
        with pytest.raises(McpConnectionError) as info:
            await client.completions().create(request([dead], "hi"))
        assert time.monotonic() - started < 15
        assert "could not be started" in str(info.value) and "mcp-secret-token" not in str(info.value)
        with pytest.raises(McpConnectionError, match="could not be started"):
            await client.completions().create(request([{"type": "stdio", "command": "/nonexistent/server"}], "hi"))
    assert server.requests == []  # no model call without the tools


async def test_missing_extra_says_how_to_install(server: LocalProviderServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mcp", None)
    async with client_for(server, "openai") as client:
        with pytest.raises(McpConnectionError, match=r"pip install 'vllora-llm\[mcp\]'"):
            await client.completions().create(request([stdio("echo")], "use echo"))


@pytest.fixture(autouse=True)
async def _no_leftover_tasks() -> AsyncIterator[None]:
    yield
    leftover = [t for t in asyncio.all_tasks() if t.get_name().startswith("mcp:")]
    assert leftover == [], leftover


async def test_routing_file_defaults_name_mcp_servers(server: LocalProviderServer, tmp_path: Any) -> None:
    import yaml

    routes = [
        {"model": "with-tools", "inference_provider": {"provider": "anthropic", "model_name": "claude-x"},
         "base_url": server.base_url_for("anthropic"), "defaults": {"mcp_servers": [stdio("echo")]}},
        {"model": "plain", "inference_provider": {"provider": "anthropic", "model_name": "claude-x"},
         "base_url": server.base_url_for("anthropic")},
    ]
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(routes))
    async with VlloraLLMClient.from_config(path, environ={"ANTHROPIC_API_KEY": "k"}) as client:
        ask = {"messages": [{"role": "user", "content": "use echo"}]}
        with_tools = await client.completions().create({"model": "with-tools", **ask})
        assert [s.result for s in with_tools.tool_steps or []] == ["echo: example"]
        assert "mcp_servers" not in server.requests[0].body.decode()
        plain = await client.completions().create({"model": "plain", **ask})
        assert plain.tool_steps is None and "tools" not in (server.last_request.json or {})
