"""The floor: what a careful hand-written client for each wire format costs (aiohttp + msgspec, nothing else).

Per format: the native request body encoded with msgspec, one reused `aiohttp.ClientSession`, the response
decoded into a small msgspec Struct holding what a caller reads (text, reasoning, tool calls, finish reason,
usage); streams cut by a minimal splitter (SSE on blank lines; AWS event-stream by the length prelude, CRCs
checked) with each payload decoded into a small Struct and yielded from an async generator. The library is
measured against it.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import msgspec

from .wire import MAX_TOKENS, MODELS, PROMPT, SYSTEM

_encode = msgspec.json.encode
Struct = msgspec.Struct


# ---- OpenAI --------------------------------------------------------------------------------------------------


class OAMessage(Struct):
    role: str
    content: str | None = None


class OAChoice(Struct):
    message: OAMessage
    index: int = 0
    finish_reason: str | None = None


class OAPromptDetails(Struct):
    cached_tokens: int = 0


class OAUsage(Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: OAPromptDetails | None = None


class OAResponse(Struct):
    choices: list[OAChoice]
    id: str | None = None
    model: str | None = None
    usage: OAUsage | None = None


class OAFunctionDelta(Struct):
    name: str | None = None
    arguments: str | None = None


class OAToolDelta(Struct):
    index: int = 0
    id: str | None = None
    function: OAFunctionDelta | None = None


class OADelta(Struct):
    role: str | None = None
    content: str | None = None
    tool_calls: list[OAToolDelta] | None = None


class OAChunkChoice(Struct):
    delta: OADelta
    index: int = 0
    finish_reason: str | None = None


class OAChunk(Struct):
    choices: list[OAChunkChoice]
    id: str | None = None
    usage: OAUsage | None = None


# ---- Anthropic -----------------------------------------------------------------------------------------------


class ABlock(Struct):
    type: str
    text: str | None = None


class AUsage(Struct):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0


class AResponse(Struct):
    content: list[ABlock]
    id: str | None = None
    model: str | None = None
    stop_reason: str | None = None
    usage: AUsage | None = None


class ADelta(Struct):
    type: str | None = None
    text: str | None = None
    partial_json: str | None = None
    thinking: str | None = None
    signature: str | None = None
    stop_reason: str | None = None


class AStart(Struct):
    type: str
    id: str | None = None
    name: str | None = None


class AMessage(Struct):
    id: str | None = None
    model: str | None = None
    usage: AUsage | None = None


class AEvent(Struct):
    type: str
    index: int | None = None
    delta: ADelta | None = None
    content_block: AStart | None = None
    message: AMessage | None = None
    usage: AUsage | None = None


# ---- Gemini --------------------------------------------------------------------------------------------------


class GFunctionCall(Struct):
    name: str
    args: msgspec.Raw = msgspec.Raw(b"{}")
    id: str | None = None


class GPart(Struct):
    text: str | None = None
    thought: bool = False
    functionCall: GFunctionCall | None = None
    thoughtSignature: str | None = None


class GContent(Struct):
    parts: list[GPart] = []
    role: str | None = None


class GCandidate(Struct):
    content: GContent | None = None
    finishReason: str | None = None


class GUsage(Struct):
    promptTokenCount: int = 0
    candidatesTokenCount: int = 0
    totalTokenCount: int = 0
    thoughtsTokenCount: int = 0


class GResponse(Struct):
    candidates: list[GCandidate] = []
    usageMetadata: GUsage | None = None
    responseId: str | None = None
    modelVersion: str | None = None


# ---- Bedrock Converse ----------------------------------------------------------------------------------------


class BText(Struct):
    text: str | None = None


class BMessage(Struct):
    content: list[BText]
    role: str = "assistant"


class BOutput(Struct):
    message: BMessage


class BUsage(Struct):
    inputTokens: int = 0
    outputTokens: int = 0
    totalTokens: int = 0
    cacheReadInputTokens: int = 0
    cacheWriteInputTokens: int = 0


class BResponse(Struct):
    output: BOutput
    stopReason: str | None = None
    usage: BUsage | None = None


class BToolInput(Struct):
    input: str | None = None


class BReasoning(Struct):
    text: str | None = None
    signature: str | None = None


class BDelta(Struct):
    text: str | None = None
    toolUse: BToolInput | None = None
    reasoningContent: BReasoning | None = None


class BToolStart(Struct):
    toolUseId: str | None = None
    name: str | None = None


class BStart(Struct):
    toolUse: BToolStart | None = None


class BEvent(Struct):
    contentBlockIndex: int | None = None
    delta: BDelta | None = None
    start: BStart | None = None
    stopReason: str | None = None
    usage: BUsage | None = None
    role: str | None = None


# ---- the clients ---------------------------------------------------------------------------------------------


def _sse_data(strip_event: bool) -> Callable[[bytes], list[bytes]]:
    """Minimal SSE splitter for one block: the bytes after `data: ` (blocks end at a blank line; the client
    knows its server's line ending, see `FloorClient.blank`)."""

    def data_of(block: bytes) -> list[bytes]:
        if strip_event:
            return [line[6:] for line in block.split(b"\n") if line[:6] == b"data: "]
        return [block[6:]] if block[:6] == b"data: " else []

    return data_of


@dataclass
class FloorClient:
    """One format's hand-written client; `complete()` and `stream()` are what the library is compared with."""

    fmt: str
    session: aiohttp.ClientSession
    base: str

    def __post_init__(self) -> None:
        model = MODELS[self.fmt]
        self.model = model
        if self.fmt == "openai":
            self.url = self.stream_url = f"{self.base}/chat/completions"
            self.headers = {"authorization": "Bearer bench", "content-type": "application/json"}
            self.decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(OAResponse)
            self.event_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(OAChunk)
        elif self.fmt == "anthropic":
            self.url = self.stream_url = f"{self.base}/v1/messages"
            self.headers = {"x-api-key": "bench", "anthropic-version": "2023-06-01", "content-type": "application/json"}
            self.decoder = msgspec.json.Decoder(AResponse)
            self.event_decoder = msgspec.json.Decoder(AEvent)
        elif self.fmt == "gemini":
            self.url = f"{self.base}/v1beta/models/{model}:generateContent"
            self.stream_url = f"{self.base}/v1beta/models/{model}:streamGenerateContent?alt=sse"
            self.headers = {"x-goog-api-key": "bench", "content-type": "application/json"}
            self.decoder = msgspec.json.Decoder(GResponse)
            self.event_decoder = self.decoder
        else:
            self.url = f"{self.base}/model/{quote(model, safe='')}/converse"
            self.stream_url = f"{self.base}/model/{quote(model, safe='')}/converse-stream"
            self.headers = {"authorization": "Bearer bench", "content-type": "application/json"}  # an API key
            self.decoder = msgspec.json.Decoder(BResponse)
            self.event_decoder = msgspec.json.Decoder(BEvent)
        self._data_of = _sse_data(self.fmt == "anthropic")
        self.blank = b"\r\n\r\n" if self.fmt == "gemini" else b"\n\n"
        """Where an SSE event ends: Gemini frames its events with CRLF."""

    def body(self, stream: bool) -> bytes:
        user = {"role": "user", "content": PROMPT}
        if self.fmt == "openai":
            data: dict[str, Any] = {"model": self.model, "messages": [{"role": "system", "content": SYSTEM}, user],
                                    "max_tokens": MAX_TOKENS}
            if stream:
                data["stream"] = True
                data["stream_options"] = {"include_usage": True}
        elif self.fmt == "anthropic":
            data = {"model": self.model, "max_tokens": MAX_TOKENS, "system": SYSTEM, "messages": [user]}
            if stream:
                data["stream"] = True
        elif self.fmt == "gemini":
            data = {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}],
                    "systemInstruction": {"parts": [{"text": SYSTEM}]},
                    "generationConfig": {"maxOutputTokens": MAX_TOKENS}}
        else:
            data = {"messages": [{"role": "user", "content": [{"text": PROMPT}]}], "system": [{"text": SYSTEM}],
                    "inferenceConfig": {"maxTokens": MAX_TOKENS}}
        return _encode(data)

    async def complete(self) -> Any:
        body = self.body(False)
        async with self.session.post(self.url, data=body, headers=self.headers) as response:
            raw = await response.read()
            if response.status != 200:
                raise RuntimeError(f"{self.fmt}: HTTP {response.status}")
            return self.decoder.decode(raw)

    async def stream(self) -> AsyncIterator[Any]:
        body = self.body(True)
        url = self.stream_url
        async with self.session.post(url, data=body, headers=self.headers) as response:
            if response.status != 200:
                raise RuntimeError(f"{self.fmt}: HTTP {response.status}")
            if self.fmt == "bedrock":
                async for event in self._frames(response):
                    yield event
                return
            decode, data_of, blank = self.event_decoder.decode, self._data_of, self.blank
            rest = b""
            async for piece in response.content.iter_any():
                *blocks, rest = (rest + piece).split(blank)
                for block in blocks:
                    for data in data_of(block):
                        if data == b"[DONE]":
                            return
                        yield decode(data)

    async def _frames(self, response: aiohttp.ClientResponse) -> AsyncIterator[Any]:
        decode = self.event_decoder.decode
        unpack = struct.Struct(">III").unpack_from
        buf = b""
        async for piece in response.content.iter_any():
            buf += piece
            at = 0
            while len(buf) - at >= 12:
                total, headers_len, prelude_crc = unpack(buf, at)
                if len(buf) - at < total:
                    break
                if zlib.crc32(buf[at:at + 8]) != prelude_crc:
                    raise RuntimeError("bad prelude CRC")
                end = at + total
                if zlib.crc32(buf[at:end - 4]) != int.from_bytes(buf[end - 4:end]):
                    raise RuntimeError("bad message CRC")
                yield decode(buf[at + 12 + headers_len:end - 4])
                at = end
            buf = buf[at:]
