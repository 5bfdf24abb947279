"""Tools the client runs itself: MCP servers and plain Python functions, in one tool loop.

    from vllora_llm.tool import tool, McpStdio, load_mcp_config

    @tool
    async def add(a: int, b: int) -> int:
        \"\"\"Add two integers.\"\"\"
        return a + b

    response = await client.completions().create(request, tools=[add])      # or mcp_servers on the request
    for step in response.tool_steps or []: ...

(`vllora_llm.tools` is the command-line package; this is `vllora_llm.tool`.)
"""

from vllora_llm.engine.mcp_types import McpDefinition, McpHttp, McpSse, McpStdio, McpToolFilter
from vllora_llm.engine.tool_errors import MaxToolStepsError, McpConnectionError, ToolLoopError
from vllora_llm.engine.tool_types import ToolStep
from vllora_llm.runtime.mcp_config import load_mcp_config
from vllora_llm.runtime.python_tool import FunctionTool
from vllora_llm.runtime.python_tool import function_tool as tool
from vllora_llm.runtime.tool_events import ToolResultEvent, ToolStartEvent
from vllora_llm.runtime.tool_output import ToolOutput

__all__ = [
    "FunctionTool",
    "MaxToolStepsError",
    "McpConnectionError",
    "McpDefinition",
    "McpHttp",
    "McpSse",
    "McpStdio",
    "McpToolFilter",
    "ToolLoopError",
    "ToolOutput",
    "ToolResultEvent",
    "ToolStartEvent",
    "ToolStep",
    "load_mcp_config",
    "tool",
]
