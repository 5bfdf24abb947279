"""Turns a wire format's answer into bytes on the socket, applying the request's fault on the way.

Wire-format modules (`wire_openai.py`, …) only build replies: a JSON body (`JsonReply`) or a list of encoded
stream events (`StreamReply`), or raise `WireError`. Everything about *how* a reply is sent (delays, resets,
cuts, stalls, drips, gzip, piece sizes, replays, canned errors) lives here once, so every wire format gets
every fault, and the request log, for free. Register a route with `add_route`.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import struct
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from vllora_llm.tools.testing.faults import FAULT_HEADER, Fault, FaultSpecError
from vllora_llm.tools.testing.state import STATE, RecordedRequest, ServerState

NO_FAULT = Fault()
MALFORMED_JSON_BODY = b'{"id": "chatcmpl-local-broken", "object": "chat.completion", "choices": [{"index": 0,'
PROXY_HTML_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_POLL_S = 0.01


class WireError(Exception):
    """An error answer in the wire format's own error shape (rendered by `Wire.error_body`)."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        error_type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message or f"HTTP {status}")
        self.status = status
        self.message = message
        self.error_type = error_type
        self.code = code
        self.param = param
        self.headers = dict(headers or {})


@dataclass(frozen=True, slots=True)
class Wire:
    """What the responder needs to know about a wire format besides its routes."""

    name: str
    error_body: Callable[[WireError], Any]
    request_id_header: str = "x-request-id"
    stream_content_type: str = "text/event-stream; charset=utf-8"
    malformed_event: bytes = b'data: {"id": "chatcmpl-local-broken", "choices": [{"delta": \n\n'


@dataclass(frozen=True, slots=True)
class JsonReply:
    body: Any
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StreamReply:
    """Encoded stream events (each written with one `write`), and the terminator a fault may withhold."""

    events: Sequence[bytes]
    done: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Call:
    """One request as a wire handler sees it."""

    request: web.Request
    recorded: RecordedRequest
    fault: Fault
    sequence: int

    @property
    def json(self) -> Any:
        return self.recorded.json

    @property
    def headers(self) -> dict[str, str]:
        return self.recorded.headers


Handler = Callable[[Call], Awaitable[JsonReply | StreamReply]]


def add_route(app: web.Application, method: str, path: str, wire: Wire, handler: Handler) -> None:
    """Serve `handler` at `method path`, with request logging and fault injection around it."""

    async def serve(request: web.Request) -> web.StreamResponse:
        return await _serve(request, wire, handler)

    app.router.add_route(method, path, serve)


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


async def _serve(request: web.Request, wire: Wire, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    bad_fault: Exception | None = None
    try:  # picked before the body is read, so queued faults go to requests in their order of arrival
        header = request.headers.get(FAULT_HEADER)
        fault = Fault.from_json(header) if header is not None else state.faults.pop() or NO_FAULT
    except (FaultSpecError, TypeError) as exc:
        fault, bad_fault = NO_FAULT, exc
    recorded = await state.record(request)
    sequence = state.next_sequence()
    send = _Sender(request, state, fault, {wire.request_id_header: f"req_local_{sequence}"})
    if bad_fault is not None:
        error = WireError(400, str(bad_fault), error_type="invalid_request_error", param=FAULT_HEADER)
        return await send.whole(400, wire.error_body(error))

    if fault.delay_s and not await send.pause(fault.delay_s):
        return web.Response()  # nobody is listening any more
    if fault.reset_before_headers:
        _abort(request, reset=True)
        return web.Response()
    if fault.replay_body is not None:
        pieces = _slices(fault.replay_body, fault.chunk_size)
        ctype = fault.content_type or "application/octet-stream"
        return await send.stream(fault.status or 200, ctype, pieces, None, rechunk=False)
    if fault.html_error:
        return await send.whole(fault.status or 502, PROXY_HTML_PAGE, "text/html")
    if fault.status is not None:
        body = fault.body if fault.body is not None else wire.error_body(WireError(fault.status))
        return await send.whole(fault.status, body)

    try:
        reply = await handler(Call(request, recorded, fault, sequence))
    except WireError as exc:
        return await send.whole(exc.status, wire.error_body(exc), headers=exc.headers)
    if isinstance(reply, StreamReply):
        events = list(reply.events)
        if fault.malformed_json:
            events.insert(min(1, len(events)), wire.malformed_event)
        return await send.stream(200, wire.stream_content_type, events, reply.done, headers=reply.headers)
    body = MALFORMED_JSON_BODY if fault.malformed_json else reply.body
    return await send.whole(reply.status, body, headers=reply.headers)


class _Sender:
    """Writes one response the way `fault` says."""

    def __init__(
        self, request: web.Request, state: ServerState, fault: Fault, base_headers: Mapping[str, str]
    ) -> None:
        self.request = request
        self.state = state
        self.fault = fault
        self.base_headers = base_headers

    def _headers(self, content_type: str, extra: Mapping[str, str]) -> CIMultiDict[str]:
        headers = CIMultiDict(self.base_headers)
        headers["Content-Type"] = content_type
        headers.update(extra)
        headers.update(self.fault.headers)
        if self.fault.content_type is not None:
            headers["Content-Type"] = self.fault.content_type
        if self.fault.gzip:
            headers["Content-Encoding"] = "gzip"
        return headers

    async def whole(
        self,
        status: int,
        body: Any,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> web.StreamResponse:
        """A non-stream answer: `body` is JSON-encoded unless it is already bytes or text."""
        data = (
            body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else json_bytes(body)
        )
        all_headers = self._headers(content_type, headers or {})
        if self.fault.gzip:
            data = gzip.compress(data, mtime=0)
        if self.fault.chunk_size is None and not self.fault.drip_s:
            return web.Response(status=status, body=data, headers=all_headers)
        pieces = _slices(data, self.fault.chunk_size)
        return await self._write(status, all_headers, pieces, None, compress=False, rechunk=False)

    async def stream(
        self,
        status: int,
        content_type: str,
        events: Sequence[bytes],
        done: bytes | None,
        *,
        headers: Mapping[str, str] | None = None,
        rechunk: bool = True,
    ) -> web.StreamResponse:
        all_headers = self._headers(content_type, {"Cache-Control": "no-cache", **(headers or {})})
        return await self._write(status, all_headers, events, done, compress=self.fault.gzip, rechunk=rechunk)

    async def _write(
        self,
        status: int,
        headers: CIMultiDict[str],
        events: Sequence[bytes],
        done: bytes | None,
        *,
        compress: bool,
        rechunk: bool,
    ) -> web.StreamResponse:
        fault = self.fault
        response = web.StreamResponse(status=status, headers=headers)
        writer = _ChunkWriter(response, compress=compress, chunk_size=fault.chunk_size if rechunk else None)
        stop = fault.cut_after_chunks if fault.cut_after_chunks is not None else fault.stall_after_chunks
        try:
            await response.prepare(self.request)
            for index, event in enumerate(events if stop is None else events[:stop]):
                if index and fault.drip_s and not await self.pause(fault.drip_s):
                    return response
                await writer.write(event)
            if fault.cut_after_chunks is not None:
                _abort(self.request, reset=False)
                return response
            if fault.stall_after_chunks is not None:
                await self.pause(float("inf"))
                return response
            if done is not None and not fault.truncate_without_done:
                if fault.drip_s and not await self.pause(fault.drip_s):
                    return response
                await writer.write(done)
            await writer.finish()
        except ConnectionResetError:
            self.state.disconnects += 1
        return response

    async def pause(self, seconds: float) -> bool:
        """Sleep; False (counting a disconnect) if the client went away first, False if the server closes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            if _client_gone(self.request):
                self.state.disconnects += 1
                return False
            if self.state.closing.is_set():
                return False
            remaining = deadline - loop.time()
            if remaining <= 0:
                return True
            await asyncio.sleep(min(remaining, _POLL_S))


class _ChunkWriter:
    """One `StreamResponse.write` per event (or per `chunk_size` piece), gzip-compressed with a sync flush
    after each write when asked, so the client can decode every piece as it arrives."""

    def __init__(self, response: web.StreamResponse, *, compress: bool, chunk_size: int | None) -> None:
        self._response = response
        self._chunk_size = chunk_size
        self._compressor = zlib.compressobj(wbits=31) if compress else None

    async def write(self, data: bytes) -> None:
        for piece in _slices(data, self._chunk_size):
            out = piece
            if self._compressor is not None:
                out = self._compressor.compress(piece) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
            await self._response.write(out)

    async def finish(self) -> None:
        if self._compressor is not None:
            await self._response.write(self._compressor.flush())
        await self._response.write_eof()


def _slices(data: bytes, size: int | None) -> list[bytes]:
    if size is None or len(data) <= size:
        return [data]
    return [data[i : i + size] for i in range(0, len(data), size)]


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _abort(request: web.Request, *, reset: bool) -> None:
    """Drop the connection now: with `reset`, an RST (SO_LINGER 0) instead of a FIN."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if reset and sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
