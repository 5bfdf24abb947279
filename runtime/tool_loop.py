"""The tool loop: offer MCP and Python tools beside the request's own, run the calls the model makes, send
the results back, and ask again, until the model answers without calling one of them.

Hooked into `CompletionsClient.create()` / `create_stream()` when a request names `mcp_servers` (or the
client has defaults, or the call passes Python `tools=`). A call to one of the request's own function tools
ends the loop and goes back to the caller (`finish_reason: tool_calls`), like the crate's `stop_at_call`.
A failing tool (an error result, an exception, a timeout) is an error result for the model, never the end of
the loop. Tool arguments and results are logged at DEBUG only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from vllora_llm.engine.gateway import (
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionMessageWithFinishReason,
    ChatCompletionRequest,
    FunctionDefinition,
    ImageUrl,
    ImageUrlPart,
    RequestWarning,
    TextPart,
    Tool,
    ToolCall,
    Usage,
)
from vllora_llm.engine.mcp_types import McpDefinition, coerce_definitions
from vllora_llm.engine.tool_errors import MaxToolStepsError, ToolLoopError
from vllora_llm.engine.tool_types import ToolStep

from .client import ResultStream
from .instance import ModelInstance
from .mcp_session import McpPool
from .observe import CURRENT
from .python_tool import FunctionTool
from .tool_events import ToolResultEvent, ToolStartEvent
from .tool_output import ToolOutput
from .tool_stream import ToolLoopStream
from .transport import Timeouts
from .usage_sum import add_usage

__all__ = ["LoopSettings", "LoopTool", "ToolLoop"]

logger = logging.getLogger("vllora_llm")

_NAME_OK = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class LoopSettings:
    """Client-wide defaults; each call may override `max_tool_steps` and `tool_timeout`."""

    mcp_servers: tuple[McpDefinition, ...] = ()
    tools: tuple[FunctionTool, ...] = ()
    max_tool_steps: int = 8
    tool_timeout: float | None = 60.0
    """Seconds per tool call; None: no limit."""


@dataclass(frozen=True, slots=True)
class LoopTool:
    """A tool the loop runs itself: offered to the model as `name`."""

    name: str
    tool: str
    server: str
    definition: Tool
    run: Callable[[dict[str, Any]], Awaitable[ToolOutput]]


def _safe(name: str) -> str:
    return _NAME_OK.sub("_", name)[:64] or "tool"


class ToolLoop:
    """The client's tool loop: its MCP connections (`pool`) and defaults (`settings`)."""

    def __init__(self, settings: LoopSettings | None = None) -> None:
        self.settings = settings or LoopSettings()
        self.pool = McpPool()

    def applies(self, request: ChatCompletionRequest, tools: Sequence[FunctionTool] | None) -> bool:
        return bool(request.mcp_servers or tools or self.settings.mcp_servers or self.settings.tools)

    async def aclose(self) -> None:
        await self.pool.aclose()

    # ---- tools ---------------------------------------------------------------------------------------------

    async def collect(self, request: ChatCompletionRequest, tools: Sequence[FunctionTool] | None) -> list[LoopTool]:
        """Every tool the loop offers for `request`, named so that no two offered tools share a name."""
        given = request.mcp_servers
        definitions = coerce_definitions(given) if given is not None else list(self.settings.mcp_servers)
        prefixes = [_safe(d.name or f"mcp{i + 1}") for i, d in enumerate(definitions)]
        connections = [self.pool.connection(d, d.label()) for d in definitions]
        listed = await asyncio.gather(*(c.list_tools() for c in connections))
        found: list[tuple[str, LoopTool]] = []
        for definition, prefix, connection, server_tools in zip(
            definitions, prefixes, connections, listed, strict=True
        ):
            for item in server_tools:
                offered, description = definition.select(item.name, item.description)
                if not offered:
                    continue

                def run(args: dict[str, Any], _c: Any = connection, _n: str = item.name) -> Awaitable[ToolOutput]:
                    return _c.call_tool(_n, args)  # type: ignore[no-any-return]

                schema = dict(item.input_schema or {"type": "object", "properties": {}})
                found.append((prefix, _loop_tool(item.name, item.name, connection.label, description, schema, run)))
        for fn in [*(tools if tools is not None else self.settings.tools)]:
            found.append(("python", _loop_tool(fn.name, fn.name, "python", fn.description, fn.parameters, fn.call)))
        own = [t.function.name for t in request.tools or []]
        counts = Counter([*own, *(t.name for _, t in found)])
        out: list[LoopTool] = []
        for prefix, item in found:
            if counts[item.name] > 1:
                name = _safe(f"{prefix}__{item.tool}")
                item = _loop_tool(name, item.tool, item.server, item.definition.function.description,
                                  item.definition.function.parameters, item.run)
            out.append(item)
        return out

    # ---- one whole completion ------------------------------------------------------------------------------

    async def complete(
        self,
        model_call: Callable[[ChatCompletionRequest], Awaitable[ChatCompletionMessageWithFinishReason]],
        request: ChatCompletionRequest,
        *,
        tools: Sequence[FunctionTool] | None = None,
        max_tool_steps: int | None = None,
        tool_timeout: float | None = None,
    ) -> ChatCompletionMessageWithFinishReason:
        run = _Run(self, request, tools, max_tool_steps, tool_timeout)
        current = await run.start()
        while True:
            response = await model_call(current)
            run.account(response)
            calls = run.loop_calls(response)
            if calls is None:
                return run.finish(response)
            await run.execute(calls)
            if run.hand_back:
                return run.finish(response)
            current = run.next_request(response)

    def stream(
        self,
        instance: ModelInstance,
        request: ChatCompletionRequest,
        *,
        timeout: Timeouts | float | None = None,
        tools: Sequence[FunctionTool] | None = None,
        max_tool_steps: int | None = None,
        tool_timeout: float | None = None,
    ) -> ToolLoopStream:
        """Every turn's chunks, then tool events, until the last turn (each turn a `ResultStream`)."""
        run = _Run(self, request, tools, max_tool_steps, tool_timeout)

        def open_turn(turn: ChatCompletionRequest) -> ResultStream:
            return ResultStream(instance, turn, timeout)

        return ToolLoopStream(instance, _stream(run, open_turn), run)


def _loop_tool(
    name: str,
    tool: str,
    server: str,
    description: str | None,
    parameters: dict[str, Any] | None,
    run: Callable[[dict[str, Any]], Awaitable[ToolOutput]],
) -> LoopTool:
    definition = Tool(function=FunctionDefinition(name=name, description=description, parameters=parameters))
    return LoopTool(name, tool, server, definition, run)


class _Run:
    """The state of one loop: messages so far, steps, summed usage."""

    def __init__(
        self,
        loop: ToolLoop,
        request: ChatCompletionRequest,
        tools: Sequence[FunctionTool] | None,
        max_tool_steps: int | None,
        tool_timeout: float | None,
    ) -> None:
        settings = loop.settings
        self.loop = loop
        self.request = request
        self.python_tools = tools
        self.max_steps = settings.max_tool_steps if max_tool_steps is None else max_tool_steps
        if self.max_steps < 0:
            raise ToolLoopError(f"max_tool_steps must be 0 or more, got {self.max_steps}", path="max_tool_steps")
        self.tool_timeout = settings.tool_timeout if tool_timeout is None else tool_timeout
        self.tools: dict[str, LoopTool] = {}
        self.steps: list[ToolStep] = []
        self.rounds = 0
        self.usage: Usage | None = None
        self.warnings: list[RequestWarning] = []
        self.current = request
        self.pending: list[tuple[ToolStep, ToolOutput]] = []
        self.final: ChatCompletionMessageWithFinishReason | None = None
        self.last: ChatCompletionMessageWithFinishReason | None = None
        self.hand_back = False
        """The last turn called the caller's own tools beside ours: after running ours, the loop ends."""

    async def start(self) -> ChatCompletionRequest:
        loop_tools = await self.loop.collect(self.request, self.python_tools)
        self.tools = {t.name: t for t in loop_tools}
        offered = [*(self.request.tools or []), *(t.definition for t in loop_tools)]
        self.current = msgspec.structs.replace(self.request, mcp_servers=None, tools=offered or None)
        return self.current

    def account(self, response: ChatCompletionMessageWithFinishReason) -> None:
        self.usage = add_usage(self.usage, response.usage)
        for warning in response.warnings:
            if warning not in self.warnings:
                self.warnings.append(warning)

    def loop_calls(self, response: ChatCompletionMessageWithFinishReason) -> list[ToolCall] | None:
        """The calls the loop must run, or None when this response is the answer."""
        if not response.choices:
            return None
        calls = response.choices[0].message.tool_calls or []
        mine = [c for c in calls if c.function.name in self.tools]
        if not mine:
            return None  # no loop tool called: the answer, or calls of the caller's own tools only
        self.hand_back = len(mine) < len(calls)  # the caller's tools too: run ours, then the caller answers
        if self.rounds >= self.max_steps and not self.hand_back:
            raise MaxToolStepsError(
                f"the model still called tools after {self.max_steps} rounds of tool calls (max_tool_steps); "
                f"{len(self.steps)} tool calls were run",
                steps=self.steps,
                path="max_tool_steps",
            )
        return mine

    def finish(self, response: ChatCompletionMessageWithFinishReason) -> ChatCompletionMessageWithFinishReason:
        if self.hand_back:  # the caller sees (and answers) only its own calls; ours are in tool_steps
            message = response.choices[0].message
            message.tool_calls = [c for c in message.tool_calls or [] if c.function.name not in self.tools]
        response.usage = self.usage
        response.tool_steps = list(self.steps)
        response.warnings = list(self.warnings)
        return response

    async def execute(self, calls: list[ToolCall]) -> list[tuple[ToolStep, ToolOutput]]:
        """Run the calls of one turn concurrently; their steps, in the model's order."""
        self.rounds += 1
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._one(call)) for call in calls]
        except BaseExceptionGroup as group_error:
            first = group_error.exceptions[0]
            if isinstance(first, ToolLoopError):
                first.steps = list(self.steps)
            raise first from None
        results = [task.result() for task in tasks]
        self.pending = results
        self.steps.extend(step for step, _ in results)
        return results

    async def _one(self, call: ToolCall) -> tuple[ToolStep, ToolOutput]:
        tool = self.tools[call.function.name]
        observation = CURRENT.get()  # an observed call: this tool run is its child span and its events
        watch = observation.tool(tool.name, call.id, call.function.arguments) if observation is not None else None
        started = time.perf_counter()
        arguments: Any = call.function.arguments
        try:
            parsed = json.loads(call.function.arguments or "{}")
        except ValueError as exc:
            output = ToolOutput(f"the arguments are not valid JSON ({exc}); call {tool.name} again", is_error=True)
        else:
            arguments = parsed
            if not isinstance(parsed, dict):
                output = ToolOutput("the arguments must be a JSON object", is_error=True)
            else:
                output = await self._guarded(tool, parsed)
        step = ToolStep(
            id=call.id,
            name=tool.name,
            tool=tool.tool,
            server=tool.server,
            arguments=arguments,
            result=output.text,
            is_error=output.is_error,
            duration_s=round(time.perf_counter() - started, 6),
            turn=self.rounds,
        )
        if watch is not None:
            watch.finish(output.text, is_error=output.is_error)
        logger.info("tool %r on %r: %s in %.3f s", tool.tool, tool.server, "error" if output.is_error else "ok",
                    step.duration_s)
        logger.debug("tool %r arguments %r result %r", tool.tool, arguments, output.text[:2000])
        return step, output

    async def _guarded(self, tool: LoopTool, arguments: dict[str, Any]) -> ToolOutput:
        try:
            async with asyncio.timeout(self.tool_timeout):
                return await tool.run(arguments)
        except ToolLoopError:
            raise
        except TimeoutError:
            return ToolOutput(f"tool {tool.name!r} timed out after {self.tool_timeout:g} s", is_error=True)
        except Exception as exc:
            return ToolOutput(f"tool {tool.name!r} failed: {type(exc).__name__}: {exc}", is_error=True)

    def next_request(self, response: ChatCompletionMessageWithFinishReason) -> ChatCompletionRequest:
        """The request for the next turn: the model's message, the tool results, any images as a user turn."""
        results = self.pending
        added: list[ChatCompletionMessage] = [response.choices[0].message]
        images: list[str] = []
        for step, output in results:
            added.append(
                ChatCompletionMessage(
                    role="tool",
                    tool_call_id=step.id,
                    content=output.text or "(no output)",
                    is_error=True if output.is_error else None,
                )
            )
            images.extend(output.images)
        if images:
            parts: list[Any] = [TextPart(text="The images the tool calls above returned:")]
            parts.extend(ImageUrlPart(image_url=ImageUrl(url=url)) for url in images)
            added.append(ChatCompletionMessage(role="user", content=parts))
        choice = self.current.tool_choice
        if choice is not None and choice != "auto" and choice != "none":
            choice = "auto"  # a forced tool is forced once, or the model could never answer
        self.current = msgspec.structs.replace(
            self.current, messages=[*self.current.messages, *added], tool_choice=choice
        )
        return self.current


async def _stream(
    run: _Run, open_turn: Callable[[ChatCompletionRequest], ResultStream]
) -> AsyncIterator[ChatCompletionChunk]:
    current = await run.start()
    while True:
        stream = open_turn(current)
        async with stream:
            async for chunk in stream:
                yield chunk
        response = stream.aggregate()
        run.account(response)
        run.last = response
        calls = run.loop_calls(response)
        if calls is None:
            run.final = run.finish(response)
            return
        for call in calls:
            tool = run.tools[call.function.name]
            yield ToolStartEvent(
                call_id=call.id, name=tool.name, tool=tool.tool, server=tool.server,
                arguments=_parsed(call.function.arguments), turn=run.rounds + 1,
            )
        results = await run.execute(calls)
        for step, _ in results:
            yield ToolResultEvent(step=step)
        if run.hand_back:
            run.final = run.finish(response)
            return
        current = run.next_request(response)


def _parsed(arguments: str) -> Any:
    try:
        return json.loads(arguments or "{}")
    except ValueError:
        return arguments
