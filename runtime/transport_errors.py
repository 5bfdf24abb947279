"""How a transport names its failures: the request's origin (never its query string, which may hold a key)
and which timeout passed, shared by the whole-body calls and the streamed ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
from yarl import URL

from vllora_llm.engine.errors import TimeoutError as LLMTimeoutError
from vllora_llm.engine.wire import WireRequest

if TYPE_CHECKING:
    from .transport import Timeouts

__all__ = ["origin", "timeout_error", "timeout_text"]


def origin(wire: WireRequest) -> str:
    """`POST https://host:port/path` without the query string (which may hold a key)."""
    try:
        url = URL(wire.url)
        return f"{wire.method} {url.with_query(None).with_fragment(None)}"
    except (ValueError, TypeError):
        return wire.method


def timeout_text(what: str, t: Timeouts) -> str:
    """How a timeout is named in messages, by which limit passed (`connect`, `read` or `total`)."""
    if what == "connect":
        return f"connect timeout ({t.connect} s)"
    if what == "read":
        return f"no data for {t.read} s (read timeout)"
    return f"total timeout ({t.total} s)"


def timeout_error(exc: BaseException, wire: WireRequest, timeouts: Timeouts, *, reading: bool) -> LLMTimeoutError:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        what = "connect"
    elif isinstance(exc, aiohttp.SocketTimeoutError) or reading:
        what = "read"
    else:
        what = "total"
    return LLMTimeoutError(f"{origin(wire)}: {timeout_text(what, timeouts)}")
