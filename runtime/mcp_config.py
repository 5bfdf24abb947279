"""The `{"mcpServers": {...}}` config file many MCP clients share, as `McpDefinition`s.

    {"mcpServers": {
        "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "."], "env": {}},
        "search": {"url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer ..."}},
        "legacy": {"url": "https://old.example.com/sse", "type": "sse"}}}

An entry with `command` is a stdio server; one with `url` is streamable HTTP, or SSE when its `type` (or
`transport`) says `sse`. `"disabled": true` entries are skipped. Each definition is named after its key.
A bad file raises `InvalidRequestError` naming the entry (`mcpServers.search.url: ...`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vllora_llm.engine.errors import InvalidRequestError
from vllora_llm.engine.mcp_types import McpDefinition, coerce_definitions

__all__ = ["load_mcp_config"]

_STDIO_KEYS = {"command", "args", "env", "cwd"}
_URL_KEYS = {"url", "headers"}
_IGNORED = {"type", "transport", "disabled", "description", "timeout", "alwaysAllow", "autoApprove"}


def load_mcp_config(source: str | Path | Mapping[str, Any]) -> list[McpDefinition]:
    """The servers of a config file (a path) or of its parsed content (a mapping)."""
    where = "mcpServers"
    if isinstance(source, Mapping):
        data: Any = source
    else:
        path = Path(source)
        where = f"{path}: mcpServers"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidRequestError(f"{path}: cannot read the MCP config file: {exc.strerror}") from None
        except ValueError as exc:
            raise InvalidRequestError(f"{path}: not JSON: {exc}") from None
    servers = data.get("mcpServers") if isinstance(data, Mapping) else None
    if not isinstance(servers, Mapping):
        raise InvalidRequestError(f"{where}: expected an object of servers under the key 'mcpServers'")
    plain: list[dict[str, Any]] = []
    for name, entry in servers.items():
        at = f"{where}.{name}"
        if not isinstance(entry, Mapping):
            raise InvalidRequestError(f"{at}: expected an object with 'command' or 'url'")
        if entry.get("disabled") is True:
            continue
        unknown = set(entry) - _STDIO_KEYS - _URL_KEYS - _IGNORED
        if unknown:
            raise InvalidRequestError(f"{at}: unknown field(s) {sorted(unknown)}")
        if "command" in entry:
            item: dict[str, Any] = {"type": "stdio", "name": name}
            item.update({k: entry[k] for k in _STDIO_KEYS if k in entry})
        elif "url" in entry:
            kind = str(entry.get("type") or entry.get("transport") or "http").lower()
            item = {"type": "sse" if kind == "sse" else "http", "name": name, "server_url": entry["url"]}
            if "headers" in entry:
                item["headers"] = entry["headers"]
        else:
            raise InvalidRequestError(f"{at}: expected 'command' (a stdio server) or 'url' (an HTTP server)")
        plain.append(item)
    definitions = []
    for item in plain:
        definitions.extend(coerce_definitions([item], path=f"{where}.{item['name']}"))
    return definitions
