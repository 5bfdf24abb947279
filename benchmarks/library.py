"""The library side: vllora-llm through its public API only, against the benchmark server."""

from __future__ import annotations

from importlib import resources
from typing import Any

from .wire import MAX_TOKENS, MODELS, PROMPT, REPLY, SYSTEM


def spec_available(fmt: str) -> bool:
    """True when the provider spec of this format ships in `vllora_llm.specs` (the column is skipped if not)."""
    return resources.files("vllora_llm.specs").joinpath("providers", f"{fmt}.yaml").is_file()


class LibraryClient:
    """`VlloraLLMClient.from_provider(fmt, api_key="bench", base_url=...)`, one typed request reused.

    An `api_key` is what every format gets, Bedrock included (its API keys are bearer tokens; the floor
    sends the same header)."""

    def __init__(self, fmt: str, base_url: str) -> None:
        from vllora_llm.client import VlloraLLMClient
        from vllora_llm.types.gateway import ChatCompletionMessage, ChatCompletionRequest

        self.fmt = fmt
        self.client = VlloraLLMClient.from_provider(fmt, api_key="bench", base_url=base_url, max_retries=0)
        self.completions = self.client.completions()
        self.request = ChatCompletionRequest(
            model=MODELS[fmt],
            messages=[ChatCompletionMessage.new_text("system", SYSTEM), ChatCompletionMessage.new_text("user", PROMPT)],
            max_tokens=MAX_TOKENS,
        )

    async def complete(self) -> Any:
        return await self.completions.create(self.request)

    def stream(self) -> Any:
        return self.completions.create_stream(self.request)

    async def check(self) -> None:
        response = await self.complete()
        if response.text() != REPLY:
            raise AssertionError(f"{self.fmt}: unexpected reply {response.text()!r}")

    async def check_stream(self, shape: str, expected: tuple[str, str, str]) -> None:
        """The stream of `shape` adds up to what the server sent (text, reasoning, tool-call arguments)."""
        async with self.stream() as stream:
            async for _ in stream:
                pass
        message = stream.aggregate().message()
        got = (message.content.as_string() if message.content is not None else "") or "", message.reasoning or "", \
            "".join(call.function.arguments for call in message.tool_calls or ())
        if got != expected:
            raise AssertionError(f"{self.fmt} {shape} stream: got {tuple(x[:80] for x in got)}, "
                                 f"expected {tuple(x[:80] for x in expected)}")

    async def aclose(self) -> None:
        await self.client.aclose()
