"""`vllora-llm chat`: one real call to a provider, the key taken from the spec's environment variable."""

from __future__ import annotations

import asyncio
import sys


async def _chat(provider: str, model: str, prompt: str, base_url: str | None, stream: bool) -> int:
    from vllora_llm.client import VlloraLLMClient

    request = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    async with VlloraLLMClient.from_provider(provider, base_url=base_url) as client:
        if stream:
            async with client.completions().create_stream(request) as chunks:
                async for chunk in chunks:
                    for choice in chunk.choices:
                        if choice.delta.content:
                            print(choice.delta.content, end="", flush=True)
            print()
            response = chunks.aggregate()
        else:
            response = await client.completions().create(request)
            print(response.text())
    for warning in response.warnings:
        print(f"warning: {warning.message}", file=sys.stderr)
    if response.usage is not None:
        usage = response.usage
        summary = f"[{response.finish_reason()}; {usage.prompt_tokens} in / {usage.completion_tokens} out]"
        print(summary, file=sys.stderr)
    return 0


def run_chat(provider: str, model: str, prompt: str, *, base_url: str | None, stream: bool) -> int:
    from vllora_llm.error import LLMError

    try:
        return asyncio.run(_chat(provider, model, prompt, base_url, stream))
    except LLMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
