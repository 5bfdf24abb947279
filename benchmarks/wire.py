"""The precomputed wire data of each format: the server's response bodies and its 5,000-event streams.

Shapes follow the recorded payloads in tests/recordings/ (see SOURCES.md there), not minimal bodies:

- OpenAI: `service_tier`, `system_fingerprint`, `usage: null` and an `obfuscation` string of varying length on
  every chunk, a final usage chunk with token details (`stream_text_with_usage.sse`); tool-call argument
  pieces (`stream_tool_call_args_in_pieces_with_usage.sse`).
- Anthropic: JSON padded with spaces before its closing brace, `ping` events, the full usage block (cache
  fields, `service_tier`, `inference_geo`) in `message_start` and `message_delta` (`stream_text.sse`);
  `input_json_delta` pieces after a short text block (`stream_thinking_then_tool_use.sse`); thinking deltas,
  a signature, then text (`stream_thinking_signature.sse`).
- Gemini: CRLF framing, `usageMetadata` on every event with growing counts, `modelVersion` and `responseId`
  (`stream_thought_parts.sse`, 23 events, 23 usage blocks); thought parts, then text; one `functionCall`
  part per event, the first with a `thoughtSignature` (`stream_function_call_gemini3_flash.sse`).
- Bedrock: a `p` padding field of varying length on every event, usage with cache fields and metrics
  (`converse_stream_text_nova.eventstream`); `toolUse` input pieces; `reasoningContent` text then its
  signature (`converse_stream_reasoning_signature_claude.eventstream`).

Each format has a `text` stream (what sequential and concurrent calls' replies look like, streamed) and extra
shapes (`tools`, `thinking`) reported as rows of their own. Everything is built once, at server start.
"""

from __future__ import annotations

import json
import random
import struct
import zlib
from dataclasses import dataclass, field

import msgspec

FORMATS = ("openai", "anthropic", "gemini", "bedrock")
"""Wire formats, named after the provider spec that speaks each one (benchmarks/ may name providers)."""

SHAPES: dict[str, tuple[str, ...]] = {
    "openai": ("text", "tools"),  # (the chat completions API streams no reasoning)
    "anthropic": ("text", "tools", "thinking"),
    "gemini": ("text", "tools", "thinking"),
    "bedrock": ("text", "tools", "thinking"),
}
"""The stream shapes of each format; `text` first (it is the stream the smoke test and the README table read)."""

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
TOOL = "get_weather"

_json = msgspec.json.encode


@dataclass(frozen=True, slots=True)
class Payloads:
    response: bytes
    """The non-streamed response body."""
    streams: dict[str, bytes]
    """The whole streamed body (SSE text, or AWS event-stream frames) of each shape."""
    stream_type: str
    events: int
    expected: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    """Per shape: (text, reasoning text, tool-call arguments) the whole stream adds up to (a check, not timed)."""


def _words(n: int) -> list[str]:
    base = ["Hello", " there", ",", " this", " is", " a", " streamed", " reply", " token", " by", " token", "."]
    return [base[i % len(base)] for i in range(n)]


def _arg_pieces(n: int) -> list[str]:
    """`n` pieces of one long JSON arguments object, cut where a model's tokens would cut it."""
    head = ['{"', "city", '":"', "Paris", '","', "days", '":[']
    return [*[*head, *['"mon', 'day",'] * n][: n - 1], '"sun"]}']


def _pad(rng: random.Random, lo: int = 2, hi: int = 60) -> str:
    """Bedrock's `p` field: letters and digits of a varying length (the recordings: 2 to ~60)."""
    return "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[: rng.randint(lo, hi)]


def _sse(events: list[tuple[str | None, bytes]], newline: bytes = b"\n") -> bytes:
    out = bytearray()
    for name, data in events:
        if name is not None:
            out += b"event: " + name.encode() + newline
        out += b"data: " + data + newline + newline
    return bytes(out)


# ---- OpenAI chat completions ---------------------------------------------------------------------------------


def _openai(n: int) -> Payloads:
    details = {"prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
               "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                             "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
    response = {
        "id": "chatcmpl-BENCH0001", "object": "chat.completion", "created": 1_750_000_000,
        "model": "gpt-4.1-mini-2025-04-14",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY, "refusal": None,
                                             "annotations": []},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 24, "completion_tokens": 17, "total_tokens": 41, **details},
        "service_tier": "default", "system_fingerprint": "fp_bench",
    }
    rng = random.Random(1)

    def chunk(delta: dict[str, object] | None, finish: str | None = None, usage: object = None) -> bytes:
        choices = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if delta is not None else []
        noise = "" if usage is not None else "KhEoTT6u7JgGisQ7kmEmv"[: rng.randint(2, 16)]
        return _json({"id": "chatcmpl-BENCH0002", "object": "chat.completion.chunk", "created": 1_750_000_000,
                      "model": "gpt-4.1-mini-2025-04-14", "service_tier": "default",
                      "system_fingerprint": "fp_bench", "choices": choices, "usage": usage, "obfuscation": noise})

    def close(finish: str) -> list[tuple[str | None, bytes]]:
        usage = {"prompt_tokens": 24, "completion_tokens": n, "total_tokens": n + 24, **details}
        return [(None, chunk({}, finish)), (None, chunk(None, usage=usage)), (None, b"[DONE]")]

    words = _words(n - 3)
    text = [(None, chunk({"role": "assistant", "content": "", "refusal": None}))]
    text += [(None, chunk({"content": w})) for w in words]
    args = _arg_pieces(n - 3)
    tools = [(None, chunk({"role": "assistant", "content": None, "refusal": None, "tool_calls": [
        {"index": 0, "id": "call_LwxJUB9KppVyogRRLQsamRJv", "type": "function",
         "function": {"name": TOOL, "arguments": args[0]}}]}))]
    tools += [(None, chunk({"tool_calls": [{"index": 0, "function": {"arguments": a}}]})) for a in args[1:]]
    return Payloads(_json(response), {"text": _sse(text + close("stop")), "tools": _sse(tools + close("tool_calls"))},
                    "text/event-stream", n,
                    {"text": ("".join(words), "", ""), "tools": ("", "", "".join(args))})


# ---- Anthropic messages --------------------------------------------------------------------------------------


def _anthropic(n: int) -> Payloads:
    usage = {"input_tokens": 24, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
             "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
             "output_tokens": 17, "service_tier": "standard", "inference_geo": "not_available"}
    response = {"model": "claude-sonnet-4-5-20250929", "id": "msg_01BENCH", "type": "message", "role": "assistant",
                "content": [{"type": "text", "text": REPLY}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": usage}
    rng = random.Random(2)

    def event(name: str, data: dict[str, object]) -> tuple[str | None, bytes]:
        raw = _json(data)  # padded with spaces before the closing brace, as the API sends it
        return name, raw[:-1] + b" " * rng.choice((0, 0, 1, 3, 4, 5, 9, 10, 13)) + b"}"

    def opening() -> list[tuple[str | None, bytes]]:
        start = {"type": "message_start", "message": {**response, "content": [], "stop_reason": None,
                                                       "usage": {**usage, "output_tokens": 1}}}
        return [event("message_start", start)]

    def block(index: int, kind: str, deltas: list[dict[str, object]], start: dict[str, object],
              ) -> list[tuple[str | None, bytes]]:
        out = [event("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})]
        if index == 0:
            out.append(("ping", b'{"type": "ping"}'))
        for i, delta in enumerate(deltas):
            out.append(event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                     "delta": {"type": kind, **delta}}))
            if i % 200 == 199:
                out.append(("ping", b'{"type": "ping"}'))
        out.append(event("content_block_stop", {"type": "content_block_stop", "index": index}))
        return out

    def closing(reason: str) -> list[tuple[str | None, bytes]]:
        final = {k: v for k, v in usage.items() if k not in ("cache_creation", "service_tier", "inference_geo")}
        return [event("message_delta", {"type": "message_delta",
                                        "delta": {"stop_reason": reason, "stop_sequence": None},
                                        "usage": {**final, "output_tokens": n}}),
                event("message_stop", {"type": "message_stop"})]

    words = _words(n - 6)
    text = opening() + block(0, "text_delta", [{"text": w} for w in words], {"type": "text", "text": ""})
    text += closing("end_turn")
    lead = _words(20)
    args = _arg_pieces(n - 29)
    tools = opening() + block(0, "text_delta", [{"text": w} for w in lead], {"type": "text", "text": ""})
    tools += block(1, "input_json_delta", [{"partial_json": a} for a in ["", *args]],
                   {"type": "tool_use", "id": "toolu_01BENCH", "name": TOOL, "input": {}})
    tools += closing("tool_use")
    half = (n - 9) // 2
    thoughts, answer = _words(half), _words(n - 9 - half)
    thinking = opening() + block(0, "thinking_delta", [{"thinking": w} for w in thoughts]
                                 + [{"type": "signature_delta", "signature": "EqQBCkYIBxgCKkBBENCH" * 8}],
                                 {"type": "thinking", "thinking": "", "signature": ""})
    thinking += block(1, "text_delta", [{"text": w} for w in answer], {"type": "text", "text": ""})
    thinking += closing("end_turn")
    return Payloads(_json(response), {"text": _sse(text), "tools": _sse(tools), "thinking": _sse(thinking)},
                    "text/event-stream", n,
                    {"text": ("".join(words), "", ""), "tools": ("".join(lead), "", "".join(args)),
                     "thinking": ("".join(answer), "".join(thoughts), "")})


# ---- Gemini generateContent ----------------------------------------------------------------------------------


def _gemini_json(data: dict[str, object]) -> bytes:
    """Gemini's own layout: a space after each colon, none after commas (`stream_thought_parts.sse`)."""
    return json.dumps(data, separators=(",", ": "), ensure_ascii=False).encode()


def _gemini_body(parts: list[dict[str, object]], finish: str | None, candidates: int | None,
                 thoughts: int | None) -> dict[str, object]:
    candidate: dict[str, object] = {"content": {"parts": parts, "role": "model"}}
    if finish:
        candidate["finishReason"] = finish
    candidate["index"] = 0
    usage: dict[str, object] = {"promptTokenCount": 34}
    if candidates is not None:
        usage["candidatesTokenCount"] = candidates
    usage["totalTokenCount"] = 34 + (candidates or 0) + (thoughts or 0)
    usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": 34}]
    if thoughts is not None:
        usage["thoughtsTokenCount"] = thoughts
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-2.5-flash",
            "responseId": "beHBaJfEMIi-qtsP3769-Q8"}


def _gemini(n: int) -> Payloads:
    def stream(parts: list[list[dict[str, object]]], thinking_events: int = 0) -> bytes:
        events = []
        for i, event_parts in enumerate(parts):
            thoughts = 3 * min(i + 1, thinking_events) if thinking_events else None
            candidates = 2 * (i + 1 - thinking_events) if i >= thinking_events else None
            finish = "STOP" if i == len(parts) - 1 else None
            events.append((None, _gemini_json(_gemini_body(event_parts, finish, candidates, thoughts))))
        return _sse(events, b"\r\n")

    words = _words(n)
    text = stream([[{"text": w}] for w in words])
    half = n // 2
    thoughts, answer = _words(half), _words(n - half)
    thinking = stream([[{"text": w, "thought": True}] for w in thoughts] + [[{"text": w}] for w in answer], half)
    calls: list[list[dict[str, object]]] = []
    for i in range(n):
        part: dict[str, object] = {"functionCall": {"name": TOOL, "args": {"city": f"city {i}"}, "id": f"fc{i:05}"}}
        if i == 0:
            part["thoughtSignature"] = "EpIDCo8DAQw51scL+dHffCC+bznOIyXjDPleN5yQL1zqs+4M" * 4
        calls.append([part])
    tools = stream(calls, 0)
    reply = _gemini_body([{"text": REPLY}], "STOP", 17, 12)
    args = "".join(_json({"city": f"city {i}"}).decode() for i in range(n))
    return Payloads(_gemini_json(reply), {"text": text, "tools": tools, "thinking": thinking}, "text/event-stream",
                    n, {"text": ("".join(words), "", ""), "tools": ("", "", args),
                        "thinking": ("".join(answer), "".join(thoughts), "")})


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
    usage = {"cacheReadInputTokenCount": 0, "cacheReadInputTokens": 0, "cacheWriteInputTokenCount": 0,
             "cacheWriteInputTokens": 0, "inputTokens": 24, "outputTokens": 17, "serverToolUsage": {},
             "totalTokens": 41}
    response = {"metrics": {"latencyMs": 412},
                "output": {"message": {"content": [{"text": REPLY}], "role": "assistant"}},
                "stopReason": "end_turn", "usage": usage}
    rng = random.Random(3)

    def frame(name: str, data: dict[str, object]) -> bytes:
        return event_frame(name, _json({**data, "p": _pad(rng)}))

    def deltas(index: int, items: list[dict[str, object]]) -> list[bytes]:
        return [frame("contentBlockDelta", {"contentBlockIndex": index, "delta": d}) for d in items]

    def closing(index: int, reason: str) -> list[bytes]:
        final = {k: v for k, v in usage.items() if k != "serverToolUsage"}
        return [frame("contentBlockStop", {"contentBlockIndex": index}),
                frame("messageStop", {"stopReason": reason}),
                frame("metadata", {"usage": {**final, "outputTokens": n, "totalTokens": n + 24},
                                   "metrics": {"latencyMs": 900}})]

    start = [frame("messageStart", {"role": "assistant"})]
    words = _words(n - 4)
    text = start + deltas(0, [{"text": w} for w in words]) + closing(0, "end_turn")
    lead = _words(20)
    args = _arg_pieces(n - 26)
    tools = start + deltas(0, [{"text": w} for w in lead]) + [frame("contentBlockStop", {"contentBlockIndex": 0})]
    tools += [frame("contentBlockStart", {"contentBlockIndex": 1, "start": {"toolUse": {
        "toolUseId": "tooluse_BENCH01", "name": TOOL}}})]
    tools += deltas(1, [{"toolUse": {"input": a}} for a in args]) + closing(1, "tool_use")
    half = (n - 6) // 2
    thoughts, answer = _words(half), _words(n - 6 - half)
    thinking = start + deltas(0, [{"reasoningContent": {"text": w}} for w in thoughts])
    thinking += deltas(0, [{"reasoningContent": {"signature": "EqQBCkYIBxgCKkBBENCH" * 8}}])
    thinking += [frame("contentBlockStop", {"contentBlockIndex": 0})]
    thinking += deltas(1, [{"text": w} for w in answer]) + closing(1, "end_turn")
    streams = {"text": b"".join(text), "tools": b"".join(tools), "thinking": b"".join(thinking)}
    return Payloads(_json(response), streams, "application/vnd.amazon.eventstream", n,
                    {"text": ("".join(words), "", ""), "tools": ("".join(lead), "", "".join(args)),
                     "thinking": ("".join(answer), "".join(thoughts), "")})


BUILDERS = {"openai": _openai, "anthropic": _anthropic, "gemini": _gemini, "bedrock": _bedrock}


def payloads(name: str, events: int) -> Payloads:
    return BUILDERS[name](events)
