"""What a plan produces and consumes at the I/O seam: a wire request and the framed stream events.

The runtime turns a `WireRequest` into bytes on a socket and hands frames back; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec


class WireRequest(msgspec.Struct):
    """One HTTP call, fully rendered except for credentials (the runtime's auth scheme adds those). A Struct:
    one is made per call, and its C constructor costs a fifth of a dataclass's `__init__`."""

    method: str
    url: str
    headers: dict[str, str]
    """May be shared between requests (a plan hands out its own dict): copy it before changing it."""
    body: bytes
    stream: bool = False

    def with_headers(self, headers: dict[str, str]) -> WireRequest:
        """A copy carrying `headers` (`msgspec.structs.replace` costs more, and this runs twice per call).
        A new field must be passed on here too (a unit test compares the fields)."""
        return WireRequest(self.method, self.url, headers, self.body, self.stream)


@dataclass(slots=True, frozen=True)
class AuthSpec:
    """How a provider wants its key: scheme `bearer`, `header`, `query`, `aws_sigv4` or `none`."""

    scheme: str
    name: str | None = None
    env: tuple[str, ...] = ()
    prefix: str = ""
    signing_name: str | None = None
    extras: dict[str, str] = field(default_factory=dict)
    signing_region: str | None = None
    """The region a signing scheme signs for (`{placeholder}`s filled by `Plan.bind`, e.g. `{region}`)."""
    package_extra: str | None = None
    """The package extra that installs what the scheme needs (`pip install 'vllora-llm[<extra>]'`)."""
    api_key: AuthSpec | None = None
    """The scheme used instead when an API key is given or found in this spec's `env` (e.g. a bearer key
    beside request signing)."""
