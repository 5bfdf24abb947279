"""A streamed tool loop with `ResultStream`'s face: `async for`, `await`, `async with`, `aggregate()`.

It yields every model turn's chunks and the loop's `ToolStartEvent` / `ToolResultEvent`s in order; once done,
`response` is the last turn's message with the loop's `tool_steps` and the usage summed over every turn.
Leaving early (break, an exception, cancellation, `aclose()`) closes the open HTTP stream and cancels the
running tool calls. When someone listens, the whole loop is one observed call (`observe`): every turn's model
calls, retries and tool spans report to it, and it ends with the final answer (usage summed over the turns).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from vllora_llm.engine.aggregate import StreamAggregator
from vllora_llm.engine.gateway import (
    ChatCompletionChunk,
    ChatCompletionMessageWithFinishReason,
    RequestWarning,
)

from .client import ResultStream
from .genai_chat import finish_chat
from .instance import ModelInstance
from .observe import Observation
from .tool_events import ToolResultEvent, ToolStartEvent

__all__ = ["ToolLoopStream"]


class ToolLoopStream(ResultStream):
    """One streamed completion run through the tool loop (see the module docstring); a `ResultStream`, so
    `create_stream()` has one return type."""

    def __init__(self, instance: ModelInstance, events: AsyncIterator[ChatCompletionChunk], run: Any) -> None:
        super().__init__(instance, run.request)
        self._events = events
        self._run = run
        self._aggregator = StreamAggregator()
        self._done = False
        self._closed = False
        self._first: ChatCompletionChunk | None = None
        self._started = False
        self._start: Callable[[], Observation | None] | None = None
        self._observation: Observation | None = None
        self._text_seen = False

    def observe(self, start: Callable[[], Observation | None]) -> None:
        """Report the loop to the observation `start` opens when the stream opens (a stream never opened was
        never a call)."""
        self._start = start

    async def _next(self) -> ChatCompletionChunk:
        observation = self._observation
        if observation is None or observation.ended:
            return await self._events.__anext__()
        with observation.active():  # the turns' model calls, retries and tool calls report to this call
            chunk = await self._events.__anext__()
        if not isinstance(chunk, (ToolStartEvent, ToolResultEvent)):
            if not self._text_seen:
                self._text_seen = True
                observation.first_chunk()
            if observation.wants_content():
                for choice in chunk.choices:
                    if choice.delta.content:
                        observation.content(choice.delta.content)
        return chunk

    def _fail(self, err: BaseException) -> None:
        if self._observation is not None:
            self._observation.fail(err)

    def _end(self) -> None:
        """End the observation with the final answer, or what had arrived when left early (no error)."""
        observation = self._observation
        if observation is not None and not observation.ended:
            finish_chat(observation, self.aggregate())

    async def _opened(self) -> ToolLoopStream:
        if not self._started:
            self._started = True
            start, self._start = self._start, None
            if start is not None:
                self._observation = start()
            try:  # open now so that connection and HTTP errors raise at the await, like ResultStream
                self._first = await self._next()
            except StopAsyncIteration:
                self._done = True
                self._end()
            except BaseException as err:
                self._fail(err)
                await self.aclose()
                raise
        return self

    def __aiter__(self) -> ToolLoopStream:
        return self  # (its own `__anext__`: not `ResultStream`'s generator, which reads one chunk stream's queue)

    async def __anext__(self) -> ChatCompletionChunk:
        if not self._started:
            await self._opened()
        if self._first is not None:
            chunk, self._first = self._first, None
        else:
            if self._done or self._closed:
                raise StopAsyncIteration
            try:
                chunk = await self._next()
            except StopAsyncIteration:
                self._done = True
                self._end()
                raise
            except BaseException as err:
                self._fail(err)
                await self.aclose()
                raise
        if isinstance(chunk, (ToolStartEvent, ToolResultEvent)):
            self._aggregator = StreamAggregator()  # the next turn starts a new message
        elif self._aggregator is not None:  # (always kept here: a tool loop's stream aggregates its turns)
            self._aggregator.add(chunk)
        return chunk

    async def aclose(self) -> None:
        """Stop now: close the open model stream and cancel running tool calls (idempotent)."""
        if not self._closed:
            self._closed = True
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                await aclose()
            self._end()

    @property
    def done(self) -> bool:
        return self._done

    @property
    def warnings(self) -> list[RequestWarning]:
        return list(self._run.warnings)

    def aggregate(self) -> ChatCompletionMessageWithFinishReason:
        """The whole answer once done (with `tool_steps` and summed usage); before, the current turn so far."""
        final = self._run.final
        if final is not None:
            return final  # type: ignore[no-any-return]
        if self._aggregator is None:
            raise RuntimeError("this stream keeps no chunks to aggregate")
        return self._aggregator.result()

    @property
    def response(self) -> ChatCompletionMessageWithFinishReason:
        if not self._done:
            raise RuntimeError("the stream has not ended yet: iterate it to the end, or call aggregate()")
        return self.aggregate()
