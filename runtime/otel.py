"""OpenTelemetry through `opentelemetry-api` only (the `[otel]` extra), imported on the first call, not at import.

The application configures the SDK (exporters, sampling); the library only asks the API for a tracer and a meter.
When the API is not installed, or no tracer and no meter provider is configured (the API's proxy or no-op
providers), `Telemetry.instruments()` returns None and a call pays for that check only. Instruments follow the
OpenTelemetry GenAI semantic conventions (`SEMCONV_VERSION`), with the buckets they recommend.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

__all__ = ["SEMCONV_VERSION", "Instruments", "Telemetry"]

SEMCONV_VERSION = "1.44.0"
"""The semantic conventions version whose GenAI attributes and metrics (status: development) are emitted."""

SCOPE = "vllora_llm"
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
FIRST_CHUNK_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

_API: Any = None
"""None: not looked for yet; False: not installed; else an `_Api`."""


class _Api:
    """The API's modules, and how to read its global providers cheaply on every call: the API's own module
    globals (None until the application sets a provider), or its public getters where those are gone."""

    __slots__ = ("meter_provider", "metrics", "trace", "tracer_provider")

    def __init__(self, trace: Any, metrics: Any) -> None:
        from opentelemetry.metrics import _internal as metrics_internal

        self.trace = trace
        self.metrics = metrics
        trace.get_tracer_provider()  # once: loads a provider named by OTEL_PYTHON_*_PROVIDER, as the API does
        metrics.get_meter_provider()
        self.tracer_provider: Callable[[], Any] = (
            partial(getattr, trace, "_TRACER_PROVIDER") if hasattr(trace, "_TRACER_PROVIDER")
            else trace.get_tracer_provider)
        self.meter_provider: Callable[[], Any] = (
            partial(getattr, metrics_internal, "_METER_PROVIDER") if hasattr(metrics_internal, "_METER_PROVIDER")
            else metrics.get_meter_provider)


_OFF: Any = object()
"""The providers of `Telemetry.off()`."""

_PROVIDER_ENV = ("OTEL_PYTHON_TRACER_PROVIDER", "OTEL_PYTHON_METER_PROVIDER")
FROM_ENV: bool | None = None
"""Whether the environment names a provider for the API to load (looked at once; None: not yet)."""

TRACE_API, METRICS_API = "opentelemetry.trace", "opentelemetry.metrics"
"""The API's modules. While neither is in `sys.modules` and `FROM_ENV is False`, nothing can record: `instruments()`
answers None at once, and the chat client's `create` tells it without calling `instruments()` (the same test,
inline)."""


def _api() -> Any:
    """The API, imported once something may have configured it: an application that sets a provider has
    imported the API's trace or metrics module, or names one in the environment. Until then nothing is
    imported (and the answer is not kept: an SDK may be configured later)."""
    global _API, FROM_ENV
    if _API is None:
        modules = sys.modules
        if TRACE_API not in modules and METRICS_API not in modules:
            if FROM_ENV is None:
                FROM_ENV = any(name in os.environ for name in _PROVIDER_ENV)
            if not FROM_ENV:
                return False
        try:
            from opentelemetry import metrics, trace
        except ImportError:
            _API = False
        else:
            _API = _Api(trace, metrics)
    return _API


class Instruments:
    """A tracer (None: no tracer provider) and the three GenAI histograms (None: no meter provider)."""

    __slots__ = ("duration", "first_chunk", "token_usage", "tracer")

    def __init__(self, tracer: Any, meter: Any) -> None:
        self.tracer = tracer
        self.duration: Any = None
        self.token_usage: Any = None
        self.first_chunk: Any = None
        if meter is not None:
            self.duration = _histogram(meter, "gen_ai.client.operation.duration", "s",
                                       "GenAI operation duration.", DURATION_BUCKETS)
            self.token_usage = _histogram(meter, "gen_ai.client.token.usage", "{token}",
                                          "Number of input and output tokens used.", TOKEN_BUCKETS)
            self.first_chunk = _histogram(meter, "gen_ai.client.operation.time_to_first_chunk", "s",
                                          "Time to receive the first chunk of a streamed response.",
                                          FIRST_CHUNK_BUCKETS)


def _histogram(meter: Any, name: str, unit: str, description: str, buckets: Sequence[float]) -> Any:
    return meter.create_histogram(name, unit=unit, description=description,
                                  explicit_bucket_boundaries_advisory=list(buckets))


def _tracer_configured(trace: Any, provider: Any) -> bool:
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def _meter_configured(metrics: Any, provider: Any) -> bool:
    return not isinstance(provider, metrics.NoOpMeterProvider) and type(provider).__name__ != "_ProxyMeterProvider"


class Telemetry:
    """Where a client's spans and metrics go: the given providers, else the global ones (looked up per call,
    so an SDK configured after the client is built is still used)."""

    __slots__ = ("_cached", "_meter_provider", "_tracer_provider")

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._cached: tuple[Any, Any, Instruments | None] | None = None

    @classmethod
    def off(cls) -> Telemetry:
        """Telemetry that records nothing, whatever is configured (for calls another observation covers)."""
        return cls(_OFF, _OFF)

    def instruments(self) -> Instruments | None:
        """The instruments to use now, or None when nothing would record them."""
        if self._tracer_provider is _OFF:
            return None
        api = _API
        if api is None:  # (`_api`'s usual answer inline: the API not imported, no provider named in the environment)
            modules = sys.modules
            if FROM_ENV is False and TRACE_API not in modules and METRICS_API not in modules:
                return None
            api = _api()
        if not api:
            return None
        tracer_provider = self._tracer_provider or api.tracer_provider()
        meter_provider = self._meter_provider or api.meter_provider()
        if tracer_provider is None and meter_provider is None:  # the application configured neither
            return None
        cached = self._cached
        if cached is not None and cached[0] is tracer_provider and cached[1] is meter_provider:
            return cached[2]
        instruments = self._build(api.trace, api.metrics, tracer_provider, meter_provider)
        self._cached = (tracer_provider, meter_provider, instruments)
        return instruments

    @staticmethod
    def _build(trace: Any, metrics: Any, tracer_provider: Any, meter_provider: Any) -> Instruments | None:
        from vllora_llm.engine.version import VERSION

        schema = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"
        tracer = meter = None
        if tracer_provider is not None and _tracer_configured(trace, tracer_provider):
            tracer = tracer_provider.get_tracer(SCOPE, VERSION, schema_url=schema)
        if meter_provider is not None and _meter_configured(metrics, meter_provider):
            meter = meter_provider.get_meter(SCOPE, VERSION, schema_url=schema)
        if tracer is None and meter is None:
            return None
        return Instruments(tracer, meter)


def traceparent_headers(span: Any) -> dict[str, str]:
    """The W3C trace-context headers (`traceparent`, `tracestate`) that make the provider's work a child of
    `span`; empty when the span is not sampled-in and valid."""
    trace = _api().trace
    context = span.get_span_context()
    if not context.is_valid:
        return {}
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, context=trace.set_span_in_context(span))
    return carrier
