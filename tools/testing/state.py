"""What the local provider server remembers between requests: the request log, the fault queue, counters.

It lives on the aiohttp application (under `STATE`) so the app factory, the route wrapper and the
`LocalProviderServer` handle all see the same object, and tests can assert on what the client really sent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from aiohttp import web

from vllora_llm.tools.testing.faults import FaultQueue


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as received. Header names are lower-cased; `json` is None when the body is not JSON.
    `connection` numbers the TCP connection it came on (1, 2, …), so tests can see keep-alive reuse."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    body: bytes
    connection: int
    raw_path: str = ""
    """The path as sent, percent-encoding kept (`path` is decoded): what a request signature covers."""


@dataclass(slots=True)
class ServerState:
    faults: FaultQueue = field(default_factory=FaultQueue)
    requests: list[RecordedRequest] = field(default_factory=list)
    disconnects: int = 0
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Stored Responses conversations by response id (input and output items), for `previous_response_id`."""
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    _sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _connection_ids: WeakKeyDictionary[Any, int] = field(default_factory=WeakKeyDictionary)
    _connection_counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_sequence(self) -> int:
        """1, 2, 3, … per answered request: response ids ("chatcmpl-local-<n>") and request ids use it."""
        return next(self._sequence)

    async def record(self, request: web.Request) -> RecordedRequest:
        body = await request.read()
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={name.lower(): value for name, value in request.headers.items()},
            json=_parse_json(body),
            body=body,
            connection=self._connection_id(request.transport),
            raw_path=request.raw_path.split("?", 1)[0],
        )
        self.requests.append(recorded)
        return recorded

    def _connection_id(self, transport: Any) -> int:
        if transport is None:
            return 0
        number = self._connection_ids.get(transport)
        if number is None:
            number = self._connection_ids[transport] = next(self._connection_counter)
        return number

    def reset(self) -> None:
        self.faults.clear()
        self.requests.clear()
        self.responses.clear()
        self.disconnects = 0


def _parse_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


STATE: web.AppKey[ServerState] = web.AppKey("vllora_local_server_state", ServerState)
