"""`WireRequest.with_headers` (the fast copy the runtime makes twice per call) carries every field over."""

from __future__ import annotations

from typing import Any

from msgspec.structs import fields

from vllora_llm.engine.wire import WireRequest


def test_with_headers_copies_every_other_field() -> None:
    values: dict[str, Any] = {f.name: object() for f in fields(WireRequest)}  # a new field cannot hide behind a default
    wire = WireRequest(**values)
    headers = {"x-new": "1"}
    copy = wire.with_headers(headers)
    assert copy is not wire
    assert wire.headers is values["headers"]
    for f in fields(WireRequest):
        assert getattr(copy, f.name) is (headers if f.name == "headers" else values[f.name]), f.name
