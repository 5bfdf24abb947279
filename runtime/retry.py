"""When to try again and how long to wait: the retry rules shared by whole and streamed calls.

Connection failures, timeouts and HTTP 408/409/429/5xx are retried up to `max_retries` times with
full-jitter exponential backoff (a random wait in [0, min(`max_backoff`, `backoff_base` · 2ⁿ)], so many
clients hit by one outage do not come back in lockstep). A server hint (``retry-after-ms``, ``retry-after``
in seconds or as an HTTP date, or the error's `retry_after`) replaces the backoff; a hint above
`max_retry_after` fails at once rather than blocking for minutes. ``x-should-retry: true|false`` overrides
the decision. The error finally raised carries `attempts` and is redacted.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar

from vllora_llm.engine.errors import LLMError

from .auth import Redactor, redact_error
from .observe import CURRENT

__all__ = ["RETRY_STATUSES", "Attempts", "RetryPolicy", "classify_http_error", "header_value", "parse_retry_after"]

logger = logging.getLogger("vllora_llm")
T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 409, 429})


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """`headers[name]`, case-insensitively even for a plain dict."""
    value = headers.get(name)
    if value is None and not hasattr(headers, "getall"):  # a plain dict: look case-insensitively
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait per ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date); None if absent."""
    millis = header_value(headers, "retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = header_value(headers, "retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(when - (time.time() if now is None else now), 0.0)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times and how long to wait; see the module docstring for what is retried."""

    max_retries: int = 2
    backoff_base: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, retry: int, hint: float | None) -> float | None:
        """Seconds before retry number `retry` (1-based); None when the server asks for too long a wait."""
        if hint is not None:
            return hint if hint <= self.max_retry_after else None
        return random.uniform(0, min(self.max_backoff, self.backoff_base * 2 ** (retry - 1)))


class Attempts:
    """Counts the attempts of one call and decides, per failure, to wait and retry or to raise."""

    __slots__ = ("count", "name", "policy", "secrets")

    def __init__(self, name: str, policy: RetryPolicy, secrets: tuple[str, ...] | Redactor) -> None:
        self.name = name
        self.policy = policy
        self.secrets = secrets
        self.count = 0

    def final(self, err: LLMError) -> LLMError:
        err.attempts = max(self.count, 1)
        if err.provider is None:
            err.provider = self.name
        return redact_error(err, self.secrets)

    async def failed(self, err: LLMError) -> None:
        """Sleep before the next attempt, or raise `err` (redacted, with `attempts`) when it is the last."""
        self.count += 1
        self.final(err)
        if not err.retryable or self.count > self.policy.max_retries:
            raise err
        delay = self.policy.delay(self.count, err.retry_after)
        if delay is None:
            raise err
        reason = " ".join(str(p) for p in (type(err).__name__, err.status) if p is not None)
        logger.info(
            "%s: retrying after %s in %.2f s (attempt %d of %d)",
            self.name,
            reason,
            delay,
            self.count + 1,
            self.policy.max_retries + 1,
        )
        observation = CURRENT.get()
        if observation is not None:
            observation.retry(self.name, self.count + 1, err, delay)
        await asyncio.sleep(delay)

    async def run(self, operation: Callable[[], Awaitable[T]]) -> T:
        while True:
            try:
                return await operation()
            except LLMError as err:
                await self.failed(err)


def classify_http_error(err: LLMError, status: int, headers: Mapping[str, str]) -> LLMError:
    """Set `err.retry_after` (if the plan did not) and `err.retryable` from the status and the headers."""
    if err.retry_after is None:
        err.retry_after = parse_retry_after(headers)
    should = (header_value(headers, "x-should-retry") or "").lower()
    if should in ("true", "false"):
        err.retryable = should == "true"
    else:
        err.retryable = err.retryable or status in RETRY_STATUSES or status >= 500
    return err
