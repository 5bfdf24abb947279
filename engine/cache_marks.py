"""Where a request marks its cached prefix (`cache_control` on a message or a content part).

Apart from the prompt-cache plan so the runtime's hot path can ask "is anything marked?" without importing
the spec compiler.
"""

from __future__ import annotations

from typing import NamedTuple

from .gateway import ChatCompletionRequest, PartsContent


class Mark(NamedTuple):
    message: int
    """The message the cached prefix ends with (the whole message)."""
    ttl: str | None
    path: str
    """Where the mark is (`messages[1].content[0].cache_control`), for errors."""


def last_mark(request: ChatCompletionRequest) -> Mark | None:
    """The last `cache_control` mark (on a message or one of its parts), or None when nothing is marked."""
    found: Mark | None = None
    for index, message in enumerate(request.messages):
        if message.cache_control is not None:
            found = Mark(index, message.cache_control.ttl, f"messages[{index}].cache_control")
        content = message.content
        if type(content) is PartsContent:
            for position, part in enumerate(content):
                if part.cache_control is not None:
                    found = Mark(index, part.cache_control.ttl, f"messages[{index}].content[{position}].cache_control")
    return found


def is_marked(request: ChatCompletionRequest) -> bool:
    """Whether any message or part carries `cache_control` (a few attribute reads per message)."""
    for message in request.messages:
        if message.cache_control is not None:
            return True
        content = message.content
        if type(content) is PartsContent:
            for part in content:
                if part.cache_control is not None:
                    return True
    return False
