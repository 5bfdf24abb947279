"""The precomputed wire data of each format: the server's response bodies and its 5,000-event streams.

Shapes follow the recordings in tests/recordings/ (one short text reply; a stream of text deltas with
the usual opening and closing events). Everything is built once, at server start, into bytes.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import msgspec

FORMATS = ("openai", "anthropic", "gemini", "bedrock")
"""Wire formats, named after the provider spec that speaks each one (benchmarks/ may name providers)."""

MODELS = {
    "openai": "gpt-4.1-mini",
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-2.5-flash",
    "bedrock": "anthropic.claude-3-5-haiku-20241022-v1:0",
}

REPLY = "Hello! I'm doing well, thanks for asking. How can I help you today?"
SYSTEM = "You are a helpful assistant."
PROMPT = "Say hello in one short sentence."
MAX_TOKENS = 256

_json = msgspec.json.encode


@dataclass(frozen=True, slots=True)
class Payloads:
    response: bytes
    """The non-streamed response body."""
    stream: bytes
    """The whole streamed body (SSE text, or AWS event-stream frames)."""
    stream_type: str
    events: int


def _words(n: int) -> list[str]:
    base = ["Hello", " there", ",", " this", " is", " a", " streamed", " reply", " token", " by", " token", "."]
    return [base[i % len(base)] for i in range(n)]


def _sse(events: list[tuple[str | None, bytes]]) -> bytes:
    out = bytearray()
    for name, data in events:
        if name is not None:
            out += b"event: " + name.encode() + b"\n"
        out += b"data: " + data + b"\n\n"
    return bytes(out)


# ---- OpenAI chat completions ---------------------------------------------------------------------------------


def _openai(n: int) -> Payloads:
    response = {
        "id": "chatcmpl-BENCH0001", "object": "chat.completion", "created": 1_750_000_000,
        "model": "gpt-4.1-mini-2025-04-14",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY, "refusal": None,
                                             "annotations": []},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 24, "completion_tokens": 17, "total_tokens": 41,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
        "service_tier": "default", "system_fingerprint": "fp_bench",
    }

    def chunk(delta: dict[str, object] | None, finish: str | None = None, usage: object = None) -> bytes:
        choices = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if delta is not None else []
        return _json({"id": "chatcmpl-BENCH0002", "object": "chat.completion.chunk", "created": 1_750_000_000,
                      "model": "gpt-4.1-mini-2025-04-14", "service_tier": "default",
                      "system_fingerprint": "fp_bench", "choices": choices, "usage": usage})

    events = [(None, chunk({"role": "assistant", "content": "", "refusal": None}))]
    events += [(None, chunk({"content": w})) for w in _words(n - 3)]
    events.append((None, chunk({}, "stop")))
    events.append((None, chunk(None, usage={"prompt_tokens": 24, "completion_tokens": n, "total_tokens": n + 24})))
    events.append((None, b"[DONE]"))
    return Payloads(_json(response), _sse(events), "text/event-stream", n)


# ---- Anthropic messages --------------------------------------------------------------------------------------


def _anthropic(n: int) -> Payloads:
    usage = {"input_tokens": 24, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
             "output_tokens": 17, "service_tier": "standard"}
    response = {"model": "claude-sonnet-4-5-20250929", "id": "msg_01BENCH", "type": "message", "role": "assistant",
                "content": [{"type": "text", "text": REPLY}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": usage}
    start = {"type": "message_start", "message": {**response, "content": [], "stop_reason": None,
                                                   "usage": {**usage, "output_tokens": 1}}}
    events: list[tuple[str | None, bytes]] = [
        ("message_start", _json(start)),
        ("content_block_start", _json({"type": "content_block_start", "index": 0,
                                       "content_block": {"type": "text", "text": ""}})),
    ]
    events += [("content_block_delta", _json({"type": "content_block_delta", "index": 0,
                                              "delta": {"type": "text_delta", "text": w}})) for w in _words(n - 5)]
    events += [
        ("content_block_stop", _json({"type": "content_block_stop", "index": 0})),
        ("message_delta", _json({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                 "usage": {"output_tokens": n}})),
        ("message_stop", _json({"type": "message_stop"})),
    ]
    return Payloads(_json(response), _sse(events), "text/event-stream", n)


# ---- Gemini generateContent ----------------------------------------------------------------------------------


def _gemini_body(text: str, finish: str | None, candidates_tokens: int | None) -> dict[str, object]:
    candidate: dict[str, object] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    usage: dict[str, object] = {"promptTokenCount": 24, "totalTokenCount": 24 + (candidates_tokens or 0),
                                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 24}]}
    if candidates_tokens is not None:
        usage["candidatesTokenCount"] = candidates_tokens
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-2.5-flash",
            "responseId": "BENCHgeminiResponse01"}


def _gemini(n: int) -> Payloads:
    words = _words(n)
    events: list[tuple[str | None, bytes]] = [(None, _json(_gemini_body(w, None, None))) for w in words[:-1]]
    events.append((None, _json(_gemini_body(words[-1], "STOP", n))))
    return Payloads(_json(_gemini_body(REPLY, "STOP", 17)), _sse(events), "text/event-stream", n)


# ---- Bedrock Converse (AWS event-stream frames) --------------------------------------------------------------


def event_frame(event_type: str, payload: bytes) -> bytes:
    """One AWS event-stream message with string headers, as Bedrock's ConverseStream sends them."""
    headers = bytearray()
    for name, value in ((":event-type", event_type), (":content-type", "application/json"),
                        (":message-type", "event")):
        raw_name, raw_value = name.encode(), value.encode()
        headers += bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + bytes(headers) + payload
    return message + struct.pack(">I", zlib.crc32(message))


def _bedrock(n: int) -> Payloads:
    response = {"metrics": {"latencyMs": 412},
                "output": {"message": {"content": [{"text": REPLY}], "role": "assistant"}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 24, "outputTokens": 17, "totalTokens": 41}}
    frames = [event_frame("messageStart", _json({"role": "assistant", "p": "abcd"}))]
    frames += [event_frame("contentBlockDelta", _json({"contentBlockIndex": 0, "delta": {"text": w}, "p": "abcdef"}))
               for w in _words(n - 4)]
    frames += [
        event_frame("contentBlockStop", _json({"contentBlockIndex": 0, "p": "ab"})),
        event_frame("messageStop", _json({"stopReason": "end_turn", "p": "abc"})),
        event_frame("metadata", _json({"usage": {"inputTokens": 24, "outputTokens": n, "totalTokens": n + 24},
                                       "metrics": {"latencyMs": 900}, "p": "ab"})),
    ]
    return Payloads(_json(response), b"".join(frames), "application/vnd.amazon.eventstream", n)


BUILDERS = {"openai": _openai, "anthropic": _anthropic, "gemini": _gemini, "bedrock": _bedrock}


def payloads(name: str, events: int) -> Payloads:
    return BUILDERS[name](events)
