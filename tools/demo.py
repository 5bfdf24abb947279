"""`vllora-llm demo`: the usage guide's two examples, offline, through the real runtime.

Starts the built-in local provider server on 127.0.0.1 (a free port), then for every provider spec the
server speaks runs the guide's one-shot call and its streaming call via `VlloraLLMClient.from_provider`,
and one embeddings call and one image call where the provider has those operations, and the Responses API on
OpenAI (served natively) and Anthropic (translated through its chat spec), printing what a user would want
to see. No keys (a placeholder is sent), no internet.
"""

from __future__ import annotations

import asyncio
import sys

OPERATION_MODELS = {  # provider → (embeddings model, image model)
    "openai": ("text-embedding-3-small", "gpt-image-1"),
    "gemini": ("gemini-embedding-001", "imagen-4.0-generate-001"),
    "bedrock": ("amazon.titan-embed-text-v2:0", "amazon.nova-canvas-v1:0"),
}

DEMO_MODELS = {
    "openai": "gpt-4.1-mini",
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-2.5-flash",
    "bedrock": "anthropic.claude-3-5-sonnet-20240620-v1:0",
}


def _request(model: str) -> object:
    from vllora_llm.types.gateway import ChatCompletionMessage, ChatCompletionRequest

    return ChatCompletionRequest(
        model=model,
        messages=[
            ChatCompletionMessage.new_text("system", "You are a helpful assistant."),
            ChatCompletionMessage.new_text("user", "Say hello in one short sentence."),
        ],
    )


async def _one_provider(name: str, base_url: str, out: list[str]) -> None:
    from vllora_llm.client import VlloraLLMClient
    from vllora_llm.types.gateway import ChatCompletionRequest

    model = DEMO_MODELS.get(name, "local-model")
    request = _request(model)
    assert isinstance(request, ChatCompletionRequest)
    async with VlloraLLMClient.from_provider(name, api_key="local-demo-key", base_url=base_url) as client:
        response = await client.completions().create(request)
        message = response.message()
        out.append(f"== {name} ({model}) via {base_url}")
        if message.content is not None and (text := message.content.as_string()):
            out.append(f"Model reply: {text}")
        usage = response.usage
        if usage is not None:
            out.append(
                f"  finish_reason={response.finish_reason()} prompt_tokens={usage.prompt_tokens} "
                f"completion_tokens={usage.completion_tokens}"
            )
        for warning in response.warnings:
            out.append(f"  warning: {warning.message}")
        pieces: list[str] = []
        async with client.completions().create_stream(request) as stream:
            async for chunk in stream:
                for choice in chunk.choices:
                    if choice.delta.content:
                        pieces.append(choice.delta.content)
        out.append(f"Streamed ({len(pieces)} pieces): {''.join(pieces)}")
        whole = stream.aggregate()
        out.append(f"  stream finish_reason={whole.finish_reason()}")
        if name in OPERATION_MODELS:
            embedding_model, image_model = OPERATION_MODELS[name]
            vectors = await client.embeddings().create(
                {"model": embedding_model, "input": ["first text", "second text"], "dimensions": 4})
            shown = ", ".join(f"[{item.index}] {item.embedding!r}" for item in vectors.data)
            out.append(f"Embeddings ({embedding_model}): {shown}")
            images = await client.images().create({"model": image_model, "prompt": "a red square", "n": 1})
            out.append(f"Image ({image_model}): {len(images.data)} image(s), "
                       f"{len(images.data[0].b64_json or '')} base64 characters of PNG")


RESPONSES_DEMO = ("openai", "anthropic")  # one provider serving the Responses API natively, one translated
WEATHER_TOOL = {"type": "function", "name": "get_weather", "description": "Current weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


async def _responses(name: str, server: object, out: list[str]) -> None:
    """The Responses API on `name`: a tool call answered with `function_call_output` (continued with
    `previous_response_id`), then a streamed response, showing whether it was served natively or translated."""
    from vllora_llm.client import VlloraLLMClient
    from vllora_llm.testing import LocalProviderServer
    from vllora_llm.types.responses import FunctionCallItem, OutputTextDeltaEvent

    assert isinstance(server, LocalProviderServer)
    model = DEMO_MODELS[name]
    async with VlloraLLMClient.from_provider(name, api_key="local-demo-key",
                                             base_url=server.base_url_for(name)) as client:
        responses = client.responses()
        first = await responses.create({"model": model, "input": 'Weather in "Paris"? Ask get_weather.',
                                        "tools": [WEATHER_TOOL]})
        how = "natively" if client.instance.serves("responses", model) else "translated through its chat spec"
        out.append(f"== Responses API: {name} ({model}), {how}: POST {server.last_request.path}")
        for item in first.output:
            if isinstance(item, FunctionCallItem):
                out.append(f"  {first.id}: function_call {item.name}({item.arguments}) call_id={item.call_id}")
                final = await responses.create({
                    "model": model, "previous_response_id": first.id, "tools": [WEATHER_TOOL],
                    "input": [{"type": "function_call_output", "call_id": item.call_id, "output": "sunny"}]})
                usage = final.usage
                out.append(f"  {final.id} (previous_response_id={first.id}): {final.output_text}")
                if usage is not None:
                    out.append(f"  status={final.status} input_tokens={usage.input_tokens} "
                               f"output_tokens={usage.output_tokens}")
        deltas: list[str] = []
        async with responses.create_stream({"model": model, "input": "Say hello."}) as stream:
            async for event in stream:
                if isinstance(event, OutputTextDeltaEvent):
                    deltas.append(event.delta)
        out.append(f"Streamed ({len(deltas)} output_text deltas): {''.join(deltas)} "
                   f"[{stream.response.status}]")


MCP_HINT = "MCP tool loop: skipped (pip install 'vllora-llm[mcp]' to run it against a local MCP server)"


async def _mcp_loop(base_url: str, out: list[str]) -> None:
    """One tool loop: the local model calls `add` on the MCP server the package ships, started over stdio."""
    import importlib.util
    import json

    if importlib.util.find_spec("mcp") is None:
        out.append(MCP_HINT)
        return
    from vllora_llm.client import VlloraLLMClient

    server = {
        "type": "stdio",
        "name": "demo",
        "command": sys.executable,
        "args": ["-m", "vllora_llm.testing.mcp_server"],
        "filter": [{"name": "add"}],
    }
    request = {
        "model": DEMO_MODELS["openai"],
        "messages": [{"role": "user", "content": "Use the add tool to add two numbers."}],
        "mcp_servers": [server],
    }
    async with VlloraLLMClient.from_provider("openai", api_key="local-demo-key", base_url=base_url) as client:
        response = await client.completions().create(request)
    out.append("== MCP tool loop (openai wire format; stdio server: python -m vllora_llm.testing.mcp_server)")
    for step in response.tool_steps or []:
        arguments = json.dumps(step.arguments, separators=(",", ":"))
        status = "error" if step.is_error else "ok"
        out.append(f"  tool {step.name}({arguments}) on {step.server!r} -> {step.result} [{status}]")
    out.append(f"Model reply: {response.text()}")


async def _run() -> int:
    from vllora_llm.client import DummyModelInstance, VlloraLLMClient
    from vllora_llm.testing import LocalProviderServer
    from vllora_llm.types.gateway import ChatCompletionRequest

    lines: list[str] = []
    request = _request("gpt-4.1-mini")
    assert isinstance(request, ChatCompletionRequest)
    client = VlloraLLMClient.new_with_instance(DummyModelInstance())
    response = await client.completions().create(request)
    lines.append("== DummyModelInstance (no server at all)")
    lines.append(f"Model reply: {response.message().content.as_string() if response.message().content else ''}")
    print("\n".join(lines), flush=True)
    async with LocalProviderServer() as server:
        print(f"Local provider server on {server.url}", flush=True)
        for name in server.providers:
            lines = []
            await _one_provider(name, server.base_url_for(name), lines)
            print("\n".join(lines), flush=True)
        for name in RESPONSES_DEMO:
            lines = []
            await _responses(name, server, lines)
            print("\n".join(lines), flush=True)
        lines = []
        await _mcp_loop(server.base_url_for("openai"), lines)
        print("\n".join(lines), flush=True)
    print("Demo finished: every provider answered through the real HTTP runtime.")
    return 0


def run_demo() -> int:
    try:
        return asyncio.run(_run())
    except Exception as exc:  # a demo failure is reported as one line, not a traceback
        print(f"demo failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
