"""Tool events in a streamed tool loop, shaped as chunks so code that reads `chunk.choices` keeps working.

A streamed request with MCP servers or Python tools yields each model turn's chunks and, between turns, a
`ToolStartEvent` per tool call and a `ToolResultEvent` per result (both with empty `choices`). Tell them apart
with `isinstance`, or by `object` ("tool.start" / "tool.result").
"""

from __future__ import annotations

from typing import Any

from vllora_llm.engine.gateway import ChatCompletionChunk
from vllora_llm.engine.tool_types import ToolStep

__all__ = ["ToolResultEvent", "ToolStartEvent"]


class ToolStartEvent(ChatCompletionChunk, kw_only=True):
    """The loop is about to run a tool call the model made."""

    object: str = "tool.start"
    call_id: str = ""
    name: str = ""
    tool: str = ""
    server: str = ""
    arguments: Any = None
    turn: int = 0


class ToolResultEvent(ChatCompletionChunk, kw_only=True):
    """A tool call finished; `step` has its result (sent back to the model), error flag and duration."""

    object: str = "tool.result"
    step: ToolStep | None = None
