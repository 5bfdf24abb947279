"""MCP server definitions on the request: typed classes and plain dicts, errors with field paths, filters,
the `{"mcpServers": ...}` config file, and reprs that never show header or env values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllora_llm.error import InvalidRequestError
from vllora_llm.tool import McpHttp, McpSse, McpStdio, McpToolFilter, load_mcp_config
from vllora_llm.types.gateway import ChatCompletionMessage, ChatCompletionRequest


def _request(servers: object) -> ChatCompletionRequest:
    return ChatCompletionRequest.from_dict(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "mcp_servers": servers}
    )


def test_dicts_become_typed_definitions_by_type() -> None:
    request = _request(
        [
            {"type": "stdio", "command": "python", "args": ["-m", "srv"], "env": {"A": "1"}, "cwd": "/tmp"},
            {"type": "http", "server_url": "http://127.0.0.1:1/mcp", "headers": {"Authorization": "Bearer x"}},
            {"type": "sse", "server_url": "https://e.com/sse", "filter": [{"name": "get_.*", "description": "d"}]},
        ]
    )
    stdio, http, sse = request.mcp_servers or []
    assert isinstance(stdio, McpStdio) and stdio.args == ["-m", "srv"] and stdio.cwd == "/tmp"
    assert isinstance(http, McpHttp) and http.headers == {"Authorization": "Bearer x"}
    assert isinstance(sse, McpSse) and sse.filters() == [McpToolFilter(name="get_.*", description="d")]
    assert request.to_dict()["mcp_servers"][0]["type"] == "stdio"  # round-trips in the crate's shape
    hello = [ChatCompletionMessage.new_text("user", "hi")]
    typed = ChatCompletionRequest(model="m", messages=hello, mcp_servers=[stdio, http, sse])
    assert ChatCompletionRequest.from_dict(typed.to_dict()) == typed


@pytest.mark.parametrize(
    ("servers", "path"),
    [
        ([{"type": "ws", "server_url": "ws://x"}], "mcp_servers[0]"),
        ([{"type": "http", "server_url": 3}], "mcp_servers[0].server_url"),
        ([{"type": "http", "server_url": "not a url"}], "mcp_servers[0].server_url"),
        ([{"type": "stdio"}], "mcp_servers[0].command"),
        ([{"type": "stdio", "command": "x", "bogus": 1}], "mcp_servers[0].bogus"),
        ([{"type": "stdio", "command": "x", "filter": [{"name": "("}]}], "mcp_servers[0].filter[0]"),
    ],
)
def test_bad_definitions_name_the_field(servers: object, path: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        _request(servers)
    assert str(info.value).startswith(path), str(info.value)


def test_filter_offers_matching_tools_with_overridden_descriptions() -> None:
    definition = McpStdio(command="x", filter=[McpToolFilter(name="get_.*", description="Fetch it.")])
    assert definition.select("get_weather", "own") == (True, "Fetch it.")
    assert definition.select("set_weather", "own") == (False, "own")
    assert definition.select("xget_weather", "own")[0] is False  # the regex matches the whole name
    assert McpStdio(command="x", filter="all").select("anything", "own") == (True, "own")


def test_repr_hides_header_and_env_values() -> None:
    http = McpHttp(server_url="http://127.0.0.1/mcp", headers={"Authorization": "Bearer sk-secret-123"})
    stdio = McpStdio(command="srv", env={"TOKEN": "tok-secret-456"})
    assert "sk-secret-123" not in repr(http) and "Authorization" in repr(http)
    assert "tok-secret-456" not in repr(stdio) and "TOKEN" in repr(stdio)


def test_config_file_format(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "files": {"command": "npx", "args": ["-y", "server"], "env": {"ROOT": "/data"}},
                    "search": {"url": "https://mcp.example.com/mcp", "headers": {"X-Key": "k"}},
                    "old": {"url": "https://old.example.com/sse", "type": "sse"},
                    "off": {"command": "nothing", "disabled": True},
                }
            }
        )
    )
    files, search, old = load_mcp_config(path)
    assert files == McpStdio(name="files", command="npx", args=["-y", "server"], env={"ROOT": "/data"})
    assert search == McpHttp(name="search", server_url="https://mcp.example.com/mcp", headers={"X-Key": "k"})
    assert old == McpSse(name="old", server_url="https://old.example.com/sse")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "mcpServers: expected an object of servers"),
        ({"mcpServers": {"a": {"args": []}}}, "mcpServers.a: expected 'command'"),
        ({"mcpServers": {"a": {"command": "x", "colour": 1}}}, "mcpServers.a: unknown field(s) ['colour']"),
        ({"mcpServers": {"a": {"url": "nope"}}}, "mcpServers.a[0].server_url"),
    ],
)
def test_bad_config_names_the_entry(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        load_mcp_config(data)
    assert message in str(info.value)


def test_config_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text("{nope")
    with pytest.raises(InvalidRequestError, match="not JSON"):
        load_mcp_config(path)
