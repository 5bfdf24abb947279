"""The three ways a caller uses a stream, shared by the stream types: `async for`, `stream = await ...` (the HTTP
call is made, and its errors raised, at the await) and `async with ... as stream` (closed on the way out)."""

from __future__ import annotations

from collections.abc import Generator
from types import TracebackType
from typing import Any, Self


class StreamForms:
    """A stream type defines `_open` (make the call once), `aclose` and `__aiter__`; this gives it the three
    forms."""

    __slots__ = ()

    async def _open(self) -> Any:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    async def _opened(self) -> Self:
        await self._open()
        return self

    def __await__(self) -> Generator[Any, None, Self]:
        return self._opened().__await__()

    async def __aenter__(self) -> Self:
        return await self._opened()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
