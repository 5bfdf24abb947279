"""Where a request marks its cached prefix (`cache_control` on a message or a content part).

Apart from the prompt-cache plan so the runtime's hot path can ask "is anything marked?" without importing
the spec compiler.
"""

from __future__ import annotations

from .gateway import ChatCompletionRequest, PartsContent


def last_mark(request: ChatCompletionRequest) -> tuple[int, str | None] | None:
    """(the index of the last message carrying `cache_control`, on itself or one of its parts; that mark's
    ttl), or None when nothing is marked. The cached prefix ends with that whole message."""
    found: tuple[int, str | None] | None = None
    for index, message in enumerate(request.messages):
        mark = message.cache_control
        content = message.content
        if type(content) is PartsContent:
            for part in content:
                if part.cache_control is not None:
                    mark = part.cache_control
        if mark is not None:
            found = (index, mark.ttl)
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
