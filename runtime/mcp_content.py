"""An MCP `CallToolResult` as a `ToolOutput`: every content block kept, not only the first text.

Text blocks as they are; images (and audio) as data: URLs beside a short note in the text; embedded resources
as their text (or a note for a binary one); resource links as their URI; structured content as JSON text
unless a text block already carries the same JSON; `isError` kept.
"""

from __future__ import annotations

import json
from typing import Any

from .tool_output import ToolOutput

__all__ = ["convert_result"]


def convert_result(result: Any) -> ToolOutput:
    texts: list[str] = []
    images: list[str] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", None)
        if kind == "text":
            texts.append(block.text)
        elif kind == "image":
            images.append(f"data:{block.mime_type};base64,{block.data}")
            texts.append(f"[image {len(images)}: {block.mime_type}]")
        elif kind == "audio":
            texts.append(f"[audio: {block.mime_type}, {len(block.data) * 3 // 4} bytes, not shown]")
        elif kind == "resource":
            resource = block.resource
            text = getattr(resource, "text", None)
            uri = str(resource.uri)
            if text is not None:
                texts.append(f"[resource {uri}]\n{text}")
            else:
                mime = getattr(resource, "mime_type", None) or "application/octet-stream"
                if mime.startswith("image/"):
                    images.append(f"data:{mime};base64,{resource.blob}")
                texts.append(f"[resource {uri}: {mime}]")
        elif kind == "resource_link":
            texts.append(f"[resource link {block.uri}]")
    structured = getattr(result, "structured_content", None)
    if structured is not None and not _already_said(structured, texts):
        texts.append(json.dumps(structured, ensure_ascii=False, separators=(",", ":")))
    return ToolOutput("\n".join(texts), bool(getattr(result, "is_error", False)), tuple(images))


def _already_said(structured: Any, texts: list[str]) -> bool:
    """True when a text block holds the same value (servers are asked to send both; the SDK wraps a plain
    return value as ``{"result": value}``)."""
    candidates = [structured]
    if isinstance(structured, dict) and set(structured) == {"result"}:
        candidates.append(structured["result"])
    for text in texts:
        if any(isinstance(c, str) and c == text for c in candidates):
            return True
        try:
            parsed = json.loads(text)
        except ValueError:
            continue
        if any(parsed == c for c in candidates):
            return True
    return False
