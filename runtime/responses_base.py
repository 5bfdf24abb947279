"""What the two Responses streams share (translated from chat: `responses.py`; served natively:
`responses_native.py`): how a stream ends and what it says after (`done`, `error`, `response`, `provider`),
closing early, and the first-item timing an observed stream reports.

Both end the same way: a failure once open yields `error` and `response.failed` events, then raises the typed
`LLMError` once (so a loop never takes a failure for an end), and `error` / `response` stay readable after.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable
from typing import Any, Generic, Protocol, Self, TypeVar

from vllora_llm.engine.errors import LLMError
from vllora_llm.engine.gateway import RequestWarning
from vllora_llm.engine.responses_types import Response

from .observe import Observation
from .stream_forms import StreamForms


class Below(Protocol):
    """The stream a Responses stream reads: a chat `ResultStream`, or a native operation's `ChunkStream`."""

    @property
    def warnings(self) -> list[RequestWarning]: ...

    @property
    def provider(self) -> str | None: ...

    def __anext__(self) -> Awaitable[Any]: ...

    async def aclose(self) -> None: ...


B = TypeVar("B", bound=Below)


class ResponsesStream(StreamForms, Generic[B]):
    """A Responses event stream's end state; a subclass opens its `_chunks` and sets `_response` (the `Response`
    the stream builds or the server sends), `_done` at the end and `_failure` when it broke."""

    __slots__ = ("_chunks", "_closed", "_done", "_failure", "_first", "_observation", "_raise", "_response")

    def __init__(self) -> None:
        self._chunks: B | None = None
        """The stream below (chat chunks, or the server's events), once open."""
        self._observation: Observation | None = None
        self._first = True
        self._response: Response | None = None
        self._done = False
        self._closed = False
        self._failure: LLMError | None = None
        self._raise: LLMError | None = None
        """A failure whose events were served: raised once, at the next step."""

    def __aiter__(self) -> Self:
        return self

    def _report_partial(self, observation: Observation) -> None:
        """End the observation of a stream left early with what had arrived (each stream knows what that is)."""
        raise NotImplementedError

    def _end_early(self) -> None:
        observation = self._observation
        if observation is not None and not observation.ended:
            self._report_partial(observation)

    async def _observed_next(self, observation: Observation) -> Any:
        """The next item from below; the first one is timed (and may still re-open the call: a retry)."""
        chunks = self._chunks
        assert chunks is not None
        if self._first:
            with observation.active():
                item = await chunks.__anext__()
            self._first = False
            observation.first_chunk()
            return item
        return await chunks.__anext__()

    async def aclose(self) -> None:
        """Stop now and release the connection (idempotent)."""
        self._closed = True
        if self._chunks is not None:
            await self._chunks.aclose()
        self._end_early()

    def __del__(self) -> None:
        # A bare `async for` that breaks never calls aclose(); the stream below releases its socket itself.
        with contextlib.suppress(Exception):
            self._end_early()

    @property
    def provider(self) -> str | None:
        """Who answers (after a fallback: the target that does), known once the stream is open."""
        return self._chunks.provider if self._chunks is not None else None

    @property
    def done(self) -> bool:
        """True once the stream ended: completed, incomplete, or failed (then `error` says why)."""
        return self._done

    @property
    def error(self) -> LLMError | None:
        """The typed error a failed stream raised (after its `error` and `response.failed` events), else None."""
        return self._failure

    @property
    def response(self) -> Response:
        """The whole `Response` (`status: failed` with its `error` after a failure); only after the stream ended."""
        if not self._done or self._response is None:
            raise RuntimeError("the stream has not ended yet: iterate it to the end")
        return self._response
