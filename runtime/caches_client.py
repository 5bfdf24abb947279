"""`client.caches()`: the provider-side prompt caches this library created (list, get, delete).

A thin front over the instance's `PromptCaching` (`prompt_cache.py`), kept apart so importing the client API
does not import the spec compiler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vllora_llm.engine.gateway_ops import CachedContent

    from .prompt_cache import PromptCaching

__all__ = ["CachesClient"]


class CachesClient:
    """`client.caches()`: the prompt caches this library created on the provider (list, get, delete)."""

    __slots__ = ("_caching",)

    def __init__(self, caching: PromptCaching) -> None:
        self._caching = caching

    async def list(self, *, everything: bool = False) -> list[CachedContent]:
        """This library's caches (their display name starts with `vllora-llm:`); `everything=True`: all."""
        return await self._caching.list(everything=everything)

    async def get(self, name: str) -> CachedContent:
        return await self._caching.get(name)

    async def delete(self, name: str) -> None:
        """Delete the cache `name` (`cachedContents/...`) and forget it, so the next request recreates it."""
        await self._caching.delete(name)

    async def delete_all(self) -> int:
        """Delete every cache this library created (as `list()` shows them); how many were deleted."""
        caches = await self.list()
        for cache in caches:
            await self.delete(cache.name)
        return len(caches)

    @property
    def created(self) -> int:
        """How many caches this client created so far."""
        return self._caching.created
