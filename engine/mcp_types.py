"""MCP server definitions on a request (the crate's `McpDefinition`, plus stdio), as msgspec Structs.

Pure data, so the request type can carry them; connecting is the runtime's job (`runtime/mcp_session.py`).
A definition is one of three transports, told apart by `type`:

    {"type": "stdio", "command": "python", "args": ["-m", "my_server"], "env": {...}, "cwd": "..."}
    {"type": "http", "server_url": "http://127.0.0.1:8931/mcp", "headers": {...}}     # streamable HTTP
    {"type": "sse", "server_url": "http://127.0.0.1:8931/sse", "headers": {...}}

each with an optional `filter`: only tools whose name matches one of the regexes are offered, and a filter's
`description` replaces the tool's own. `name` labels the server (qualified tool names, errors, logs).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec

from .errors import InvalidRequestError
from .gateway_struct import validation_error

__all__ = ["McpDefinition", "McpHttp", "McpSse", "McpStdio", "McpToolFilter"]


class McpToolFilter(msgspec.Struct, omit_defaults=True, kw_only=True, forbid_unknown_fields=True):
    """Offer the tools whose whole name matches `name` (a regex); `description` overrides theirs."""

    name: str
    description: str | None = None

    def __post_init__(self) -> None:
        try:
            re.compile(self.name)
        except re.error as exc:
            raise ValueError(f"filter name {self.name!r} is not a valid regex: {exc}") from None

    def matches(self, tool_name: str) -> bool:
        return re.fullmatch(self.name, tool_name) is not None


ToolFilter = Literal["all", "All"] | list[McpToolFilter] | None
"""`None` / `"all"` offers every tool (the crate's `All`); a list offers the tools a filter matches."""


class _McpBase(msgspec.Struct, omit_defaults=True, kw_only=True, forbid_unknown_fields=True, tag_field="type"):
    name: str | None = None
    filter: ToolFilter = None

    def filters(self) -> list[McpToolFilter] | None:
        return self.filter if isinstance(self.filter, list) else None

    def label(self) -> str:
        """How errors and logs name this server (never a header or an env value)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        """Header and env values are secrets as often as not: shown as `[REDACTED]`."""
        shown = []
        for field in self.__struct_fields__:
            value = getattr(self, field)
            if value is None or value == []:
                continue
            if field in ("headers", "env") and isinstance(value, dict):
                value = {key: "[REDACTED]" for key in value}
            shown.append(f"{field}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def select(self, tool_name: str, description: str | None) -> tuple[bool, str | None]:
        """Whether the filter offers the tool, and the description to offer it with."""
        filters = self.filters()
        if filters is None:
            return True, description
        for entry in filters:
            if entry.matches(tool_name):
                return True, entry.description if entry.description is not None else description
        return False, description


class McpStdio(_McpBase, tag="stdio"):
    """A server the library starts as a subprocess and talks to over stdin/stdout. Its environment is `env`
    plus PATH, nothing else (never the caller's API keys)."""

    command: Annotated[str, msgspec.Meta(min_length=1)]
    args: list[str] = msgspec.field(default_factory=list)
    env: dict[str, str] | None = None
    cwd: str | None = None

    def label(self) -> str:
        return self.name or self.command.replace("\\", "/").rsplit("/", 1)[-1]  # not the args: they may hold secrets


class McpHttp(_McpBase, tag="http"):
    """A streamable-HTTP server at `server_url`; `headers` go on every request (values never logged)."""

    server_url: Annotated[str, msgspec.Meta(pattern=r"^https?://\S+$")]
    headers: dict[str, str] | None = None

    def label(self) -> str:
        return self.name or self.server_url.split("?", 1)[0]


class McpSse(_McpBase, tag="sse"):
    """A server speaking the older HTTP+SSE transport at `server_url`."""

    server_url: Annotated[str, msgspec.Meta(pattern=r"^https?://\S+$")]
    headers: dict[str, str] | None = None

    def label(self) -> str:
        return self.name or self.server_url.split("?", 1)[0]


McpDefinition = McpStdio | McpHttp | McpSse


def coerce_definitions(value: object, *, path: str = "mcp_servers") -> list[McpDefinition]:
    """Typed definitions or plain dicts → typed definitions; a bad one raises `InvalidRequestError` with its
    path (`mcp_servers[1].server_url: ...`)."""
    if not isinstance(value, (list, tuple)):
        raise InvalidRequestError(f"{path}: expected a list of MCP server definitions", path=path)
    out: list[McpDefinition] = []
    for index, item in enumerate(value):
        if isinstance(item, (McpStdio, McpHttp, McpSse)):
            item = msgspec.to_builtins(item)  # checked like a dict: a constructor does not convert `filter`
        try:
            out.append(msgspec.convert(item, McpDefinition))
        except msgspec.ValidationError as exc:
            raise validation_error(exc, root=f"{path}[{index}]") from None
    return out
