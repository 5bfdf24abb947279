"""What the tool loop reports: one `ToolStep` per tool call it ran (on the response and in its errors)."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["ToolStep"]


class ToolStep(msgspec.Struct, omit_defaults=True, kw_only=True):
    """One tool call run by the client: what the model asked, what went back to it, and how long it took.

    `name` is the name the model called (qualified when two tools shared a name), `tool` the tool's own name
    on its `server` (an MCP server's label, or ``"python"``); `result` is the text the model received."""

    id: str
    name: str
    tool: str
    server: str
    arguments: Any
    result: str
    is_error: bool = False
    duration_s: float = 0.0
    turn: int = 0
