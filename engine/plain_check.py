"""Checking a simple request's plain-data form without building a typed copy of it.

A typed `ChatCompletionRequest` is validated by converting its plain-data form back into the typed request
(msgspec checks every type and range on the way) and throwing the copy away: a dozen objects and a copy of
every message's text per call. Most requests are simple: text messages and a few numbers. For those, the
checks below say yes with plain comparisons, and the conversion is skipped. Anything they do not know (tools,
content parts, nested options, a value out of range, a type they do not expect) is left to the conversion,
which raises the error with its field path, so what they accept must be a subset of what it accepts (a test
checks that on random data).
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_plain_request"]

_ROLES = frozenset(("system", "developer", "user", "assistant", "tool", "function"))
_LIMIT = 2**63  # msgspec's integers are 64-bit

_TEXT, _FLAG, _INTEGER, _COUNT, _STOP, _MESSAGES = range(6)
_KINDS: dict[str, int | tuple[float, float]] = {
    "model": _TEXT, "user": _TEXT, "prompt_cache_key": _TEXT, "reasoning_effort": _TEXT,
    "logprobs": _FLAG, "stream": _FLAG, "parallel_tool_calls": _FLAG,
    "top_logprobs": _INTEGER, "seed": _INTEGER,
    "max_tokens": _COUNT, "max_completion_tokens": _COUNT, "n": _COUNT,
    "stop": _STOP, "messages": _MESSAGES,
    "temperature": (0.0, 2.0), "top_p": (0.0, 1.0), "presence_penalty": (-2.0, 2.0), "frequency_penalty": (-2.0, 2.0),
}
"""What each simple field must be: a kind, or the (low, high) range of a number. A field not here is not simple."""


def _plain_messages(messages: Any) -> bool:
    """Each message `{role, content}` (or with a `name`), its content text."""
    if type(messages) is not list or not messages:  # an empty list is refused by the conversion
        return False
    roles = _ROLES
    for message in messages:
        if type(message) is not dict:
            return False
        role = message.get("role")
        if type(role) is not str or role not in roles or type(message.get("content")) is not str:
            return False
        if len(message) != 2 and (len(message) != 3 or type(message.get("name")) is not str):
            return False
    return True


def is_plain_request(data: dict[str, Any]) -> bool:
    """True when `data` (a request's plain-data form) holds only text messages and simple values that are
    valid as they are; False means "not known here" (the full conversion decides), not "invalid".

    One loop with the checks inline: it runs on every call, and a function call per field would cost as
    much as the conversion it replaces."""
    if "model" not in data or "messages" not in data:
        return False
    kinds = _KINDS
    for key, value in data.items():
        kind = kinds.get(key)
        kind_of = type(value)
        if kind is _TEXT:
            if kind_of is not str:
                return False
        elif kind is _MESSAGES:
            if not _plain_messages(value):
                return False
        elif kind is _COUNT:
            if kind_of is not int or not 1 <= value < _LIMIT:
                return False
        elif type(kind) is tuple:  # a number in a range (NaN fails both comparisons)
            if not ((kind_of is float or (kind_of is int and -_LIMIT <= value < _LIMIT))
                    and kind[0] <= value <= kind[1]):
                return False
        elif kind is _FLAG:
            if kind_of is not bool:
                return False
        elif kind is _INTEGER:
            if kind_of is not int or not -_LIMIT <= value < _LIMIT:
                return False
        elif kind is _STOP:
            if kind_of is not str and (kind_of is not list or any(type(item) is not str for item in value)):
                return False
        else:  # not a simple field
            return False
    return True
