"""What a tool gives back to the model, whatever ran it: text, images, and whether it failed.

MCP results (`mcp_content.py`) and Python tools (`vllora_llm.tool`) both become a `ToolOutput`; the tool loop
turns it into the tool message (text, `is_error`) and, for images, image parts the model can see.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ToolOutput", "output_from_value"]


@dataclass(frozen=True, slots=True)
class ToolOutput:
    text: str
    is_error: bool = False
    images: tuple[str, ...] = field(default=())
    """data: URLs of images the tool returned."""


def output_from_value(value: Any) -> ToolOutput:
    """A Python tool's return value as text: strings as they are, anything else as JSON."""
    if isinstance(value, ToolOutput):
        return value
    if isinstance(value, str):
        return ToolOutput(value)
    try:
        import msgspec

        return ToolOutput(msgspec.json.encode(value).decode())
    except (TypeError, ValueError):
        return ToolOutput(json.dumps(value, default=str, ensure_ascii=False))
