"""How much a server may make us hold: size and depth limits on everything read from the network.

A provider endpoint is trusted with the prompt, not with our memory: a body, a decompressed body, an SSE line or
event, an event-stream frame and the nesting of a JSON body are each bounded, and going over a bound is a typed
error (`ProviderError`, or `StreamError` mid-stream) named after the limit, never a `MemoryError` or a swap storm.

Compressed bodies are decoded here rather than by aiohttp, in pieces of at most `PIECE` bytes (zlib's
`max_length`, as httpx's decoders do), so a few kilobytes of gzip cannot become a gigabyte before anything
counts them; only the encodings we advertise (`ACCEPT_ENCODING`) are accepted.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from vllora_llm.engine.errors import ProviderError

__all__ = [
    "ACCEPT_ENCODING",
    "PIECE",
    "BodyDecoder",
    "Limits",
    "body_decoder",
    "json_too_deep",
    "opening_brackets",
]

_MiB = 1024 * 1024
PIECE = 256 * 1024
"""The most a decoder returns from one call; the rest waits in the decompressor until asked for."""
ACCEPT_ENCODING = "gzip, deflate"
_MAX_LAYERS = 3  # stacked encodings ("gzip, gzip") beyond this are refused (httpx caps at 5)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bytes and depths; `None` disables one. Per client: ``from_provider(..., limits=Limits(...))``.

    `max_response_bytes`: a response body after decompression; a streamed body counts in total too while the
    stream is aggregated (``create_stream(..., aggregate=False)`` keeps nothing and lifts it).
    `max_error_bytes`: an error body (non-2xx); past it the error is built from the status and headers alone.
    `max_event_bytes`: one SSE line or event, or one AWS event-stream frame.
    `max_json_depth`: the nesting of a JSON body or error body (a stream event is bounded by the decoder's own
    recursion limit instead, which costs nothing per event).
    """

    max_response_bytes: int | None = 32 * _MiB
    max_error_bytes: int | None = 1 * _MiB
    max_event_bytes: int | None = 16 * _MiB
    max_json_depth: int | None = 128


class BodyDecoder:
    """Undo the body's `Content-Encoding` (one or more layers), at most `PIECE` bytes out per call."""

    __slots__ = ("_layers",)

    def __init__(self, layers: list[_Layer]) -> None:
        self._layers = layers  # outermost (the last one applied by the server) first

    def decode(self, data: bytes) -> bytes:
        """Bytes out for `data` in; call `more()` until it returns b"" to get the rest of what it held."""
        for layer in self._layers:
            data = self._run(layer, data)
        return data

    def more(self) -> bytes:
        """The next piece of output still held by a layer (b"" when every layer is drained); inner layers
        (which hold older data) are drained first."""
        layers = self._layers
        for i in range(len(layers) - 1, -1, -1):
            layer = layers[i]
            while layer.unconsumed_tail:
                held = len(layer.unconsumed_tail)
                data = self._run(layer, b"")
                for inner in layers[i + 1 :]:
                    data = self._run(inner, data)
                if data:
                    return data
                if len(layer.unconsumed_tail) == held:
                    break  # no progress (cannot happen with zlib; never loop on it)
        return b""

    @staticmethod
    def _run(layer: _Layer, data: bytes) -> bytes:
        try:
            return layer.decompress(data)
        except zlib.error as exc:
            raise ProviderError(f"body does not decode as its Content-Encoding says ({exc})") from None


class _Layer:
    """One zlib stream; `deflate` is zlib-wrapped by the standard but raw from some servers (sniffed, as
    aiohttp does)."""

    __slots__ = ("_deflate", "_zlib", "unconsumed_tail")

    def __init__(self, deflate: bool) -> None:
        self._deflate = deflate
        self._zlib: zlib._Decompress | None = None if deflate else zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.unconsumed_tail = b""

    def decompress(self, data: bytes) -> bytes:
        z = self._zlib
        if z is None:
            if not data:
                return b""
            z = self._zlib = zlib.decompressobj(zlib.MAX_WBITS if data[0] & 0x0F == 8 else -zlib.MAX_WBITS)
        out = z.decompress(self.unconsumed_tail + data if self.unconsumed_tail else data, PIECE)
        self.unconsumed_tail = z.unconsumed_tail
        return out


def body_decoder(encoding: str | None) -> BodyDecoder | None:
    """A decoder for a `Content-Encoding` header value, None for identity; an unknown or too deeply stacked
    encoding is a `ProviderError` (we advertised only `ACCEPT_ENCODING`)."""
    if not encoding:
        return None
    names = [n.strip().lower() for n in encoding.split(",") if n.strip()]
    names = [n for n in names if n != "identity"]
    if not names:
        return None
    if len(names) > _MAX_LAYERS:
        raise ProviderError(f"Content-Encoding {encoding[:100]!r} stacks more than {_MAX_LAYERS} encodings")
    layers: list[_Layer] = []
    for name in reversed(names):  # the last encoding applied is undone first
        if name in ("gzip", "x-gzip", "deflate"):
            layers.append(_Layer(name == "deflate"))
        else:
            raise ProviderError(f"unsupported Content-Encoding {name[:40]!r} (we accept {ACCEPT_ENCODING})")
    return BodyDecoder(layers)


_NOT_SHAPE = bytes(range(256)).translate(None, b'[]{}"')  # every byte but these: deleted by `translate`
_SQUARE = bytes.maketrans(b"{}", b"[]")


def opening_brackets(body: bytes, limit: int) -> int:
    """The `{` and `[` in `body`, each count capped at `limit + 1` (enough to tell "more than `limit`").

    Counted as what deleting them takes off the length: `bytes.replace` finds a single byte with `memchr` (a
    few instructions per 32 bytes) and copies the rest with `memcpy`, where `bytes.count` of one byte tests every
    byte in a loop (~6k instructions for the two counts on a 488-byte body against ~3k here, allocation
    included; ~140k against ~40k on a 14 kB body of ~1,000 brackets); a body without one of them is not copied."""
    size = len(body) << 1
    return size - len(body.replace(b"{", b"", limit + 1)) - len(body.replace(b"[", b"", limit + 1))


def json_too_deep(body: bytes, limit: int) -> bool:
    """Whether the JSON text `body` nests arrays/objects more than `limit` deep.

    Costs two `bytes.replace` for an ordinary body (`opening_brackets`: fewer opening brackets than the limit
    cannot nest past it; this runs on every response);
    otherwise, all in C: escapes are dropped (`\\\\` then `\\"`, left to right as JSON reads them), everything
    but brackets and quotes is deleted, the strings' insides (every other piece between quotes) are cut out,
    and the brackets left are peeled one level per pass (`replace(b"[]", b"")`). Text that is not balanced
    JSON answers False: the JSON decoder then says what is wrong with it.
    """
    if opening_brackets(body, limit) <= limit:
        return False
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    shape = body.translate(None, _NOT_SHAPE)
    if b'"' in shape:
        shape = b"".join(shape.split(b'"')[::2])
    shape = shape.translate(_SQUARE)
    for _ in range(limit):
        peeled = shape.replace(b"[]", b"")
        if not peeled:
            return False
        if len(peeled) == len(shape):
            return False  # unbalanced: not ours to judge
        shape = peeled
    return b"[]" in shape
