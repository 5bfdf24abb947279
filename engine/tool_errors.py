"""Errors of the tool loop (MCP servers and Python tools run by the client), under `LLMError`::

    LLMError
    └── ToolLoopError              the loop could not go on
        ├── MaxToolStepsError      the model still called tools after `max_tool_steps` rounds (carries `steps`)
        └── McpConnectionError     an MCP server could not be started / reached, even after one reconnect

A tool that fails (an error result, an exception, a timeout) is not an error here: it goes back to the model.
"""

from __future__ import annotations

from typing import Any

from .errors import LLMError

__all__ = ["MaxToolStepsError", "McpConnectionError", "ToolLoopError"]


class ToolLoopError(LLMError):
    """The tool loop stopped; `steps` holds the tool calls run so far (`ToolStep`s)."""

    def __init__(self, message: str, *, steps: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.steps: list[Any] = list(steps or [])


class MaxToolStepsError(ToolLoopError):
    """The model asked for tools again after `max_tool_steps` rounds of tool calls."""


class McpConnectionError(ToolLoopError):
    """An MCP server could not be started or reached (after one reconnect), or the `[mcp]` extra is missing."""
