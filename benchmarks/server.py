"""The benchmark server: a plain aiohttp server on 127.0.0.1 answering every format with precomputed bytes.

It runs in its own process (so its CPU is not counted as the client's) and does as little as possible per
request: `POST /<format>/<shape>/<anything>` reads the body and writes the precomputed response, or the
precomputed stream of that shape (`text`, `tools`, `thinking`: see wire.py) when the path names a stream
endpoint or the body asks for `"stream":true`.
Not the fault-injecting local provider server of `vllora_llm.testing`, which does far more per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import socket
from multiprocessing.connection import Connection

from aiohttp import web

from .wire import FORMATS, Payloads, payloads


def _handler(data: dict[str, Payloads]) -> web.Server:
    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        _, fmt, shape, *_ = [*request.path.split("/", 3), "", ""]
        found = data.get(fmt)
        stream = found.streams.get(shape) if found is not None else None
        if found is None or stream is None:
            return web.Response(status=404, text=f"unknown format or shape {fmt!r}/{shape!r}")
        body = await request.read()
        if "stream" in request.path.lower() or b'"stream":true' in body:
            response = web.StreamResponse(headers={"content-type": found.stream_type})
            await response.prepare(request)
            await response.write(stream)
            await response.write_eof()
            return response
        return web.Response(body=found.response, content_type="application/json")

    return web.Server(handle, access_log=None)


async def _serve(sock: socket.socket, events: int, conn: Connection) -> None:
    data = {name: payloads(name, events) for name in FORMATS}
    runner = web.ServerRunner(_handler(data), access_log=None)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    conn.send(sock.getsockname()[1])
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, conn.recv)  # anything (or EOF) from the parent stops the server
    await runner.cleanup()


def _main(events: int, conn: Connection) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    with contextlib.suppress(EOFError, KeyboardInterrupt):
        asyncio.run(_serve(sock, events, conn))


class BenchServer:
    """`with BenchServer(events) as server:` runs the server in a child process; `server.url` is its root."""

    def __init__(self, events: int) -> None:
        self.events = events
        self.url = ""
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None

    def __enter__(self) -> BenchServer:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._process = ctx.Process(target=_main, args=(self.events, child), daemon=True, name="bench-server")
        self._process.start()
        child.close()
        if not parent.poll(60):
            self.__exit__()
            raise RuntimeError("the benchmark server did not start within 60 s")
        self.url = f"http://127.0.0.1:{parent.recv()}"
        self._conn = parent
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send("stop")
            self._conn.close()
        if self._process is not None:
            self._process.join(10)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(5)

    def base_url(self, fmt: str, shape: str = "text") -> str:
        return f"{self.url}/{fmt}/{shape}"
