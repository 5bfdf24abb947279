"""What telemetry costs when nobody listens, and the paths that depend on the process: the API absent, and an
SDK configured globally (what an application does) after the client was built."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import opentelemetry.trace  # noqa: F401 - the API imported, no provider set: the dearer unobserved path

from vllora_llm.client import ResultStream, VlloraLLMClient
from vllora_llm.engine.gateway import ChatCompletionRequest
from vllora_llm.runtime.observe import CURRENT
from vllora_llm.testing import LocalProviderServer

ROOT = Path(__file__).resolve().parents[2]
REQUEST = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}


async def test_with_no_provider_and_no_callback_a_call_pays_one_check() -> None:
    """The seam's whole cost on an unobserved call (the client's check, the instance's context lookup) is
    measured against whole requests to a local server, each the best of interleaved rounds so that a busy
    machine slows both alike; it is about 0.1 %, the bound is 2 %."""
    request = ChatCompletionRequest.coerce(REQUEST)
    async with LocalProviderServer() as server, VlloraLLMClient.from_provider(
        "openai", api_key="k", base_url=server.openai_base_url
    ) as client:
        completions = client.completions()
        stream = completions.create_stream(request)
        assert type(stream) is ResultStream  # no per-chunk work at all: the plain stream
        await stream.aclose()
        assert completions._observe(request, False, None) is None
        await completions.create(request)
        seam, whole = [], []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(2000):
                completions._observe(request, False, None)
                CURRENT.get()
            seam.append((time.perf_counter() - started) / 2000)
            started = time.perf_counter()
            for _ in range(40):
                await completions.create(request)
            whole.append((time.perf_counter() - started) / 40)
    assert min(seam) < 0.02 * min(whole), (min(seam), min(whole))


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_opentelemetry_is_not_imported_until_an_application_uses_it_and_calls_work_without_it() -> None:
    out = _run(
        "import asyncio, sys\n"
        "from vllora_llm.client import VlloraLLMClient, DummyModelInstance\n"
        "def otel(): return 'imported' if any(m.startswith('opentelemetry') for m in sys.modules) else 'not'\n"
        "print(otel())\n"
        "client = VlloraLLMClient.new_with_instance(DummyModelInstance('ok'))\n"
        f"asyncio.run(client.completions().create({REQUEST!r}))\n"
        "print(otel())  # nothing configured an SDK: a call imports nothing either\n"
        "sys.modules['opentelemetry'] = None  # as if the [otel] extra were not installed\n"
        "sys.modules['opentelemetry.trace'] = None  # (even when something tried to import it)\n"
        "events = []\n"
        "client = VlloraLLMClient.new_with_instance(DummyModelInstance('ok'), events=events.append)\n"
        f"print(asyncio.run(client.completions().create({REQUEST!r})).text(), len(events))\n"
    )
    assert out.split("\n")[:3] == ["not", "not", "ok 3"]


def test_a_globally_configured_sdk_sees_the_calls_of_a_client_built_before_it() -> None:
    out = _run(
        "import asyncio, json\n"
        "from opentelemetry import metrics, trace\n"
        "from opentelemetry.sdk.metrics import MeterProvider\n"
        "from opentelemetry.sdk.metrics.export import InMemoryMetricReader\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
        "from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter\n"
        "from vllora_llm.client import VlloraLLMClient\n"
        "from vllora_llm.testing import LocalProviderServer\n"
        "async def main():\n"
        "    async with LocalProviderServer() as server:\n"
        "        client = VlloraLLMClient.from_provider('openai', api_key='k', base_url=server.openai_base_url)\n"
        f"        await client.completions().create({REQUEST!r})  # nothing configured yet: not recorded\n"
        "        exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()\n"
        "        provider = TracerProvider()\n"
        "        provider.add_span_processor(SimpleSpanProcessor(exporter))\n"
        "        trace.set_tracer_provider(provider)\n"
        "        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))\n"
        f"        await client.completions().create({REQUEST!r})\n"
        f"        async for _ in client.completions().create_stream({REQUEST!r}):\n"
        "            pass\n"
        "        await client.aclose()\n"
        "    names = sorted(m.name for rm in reader.get_metrics_data().resource_metrics\n"
        "                   for sm in rm.scope_metrics for m in sm.metrics)\n"
        "    spans = [(s.name, s.attributes['gen_ai.request.stream']) for s in exporter.get_finished_spans()]\n"
        "    print(json.dumps({'spans': spans, 'metrics': names}))\n"
        "asyncio.run(main())\n"
    )
    result = json.loads(out)
    assert result["spans"] == [["chat gpt-4.1-mini", False], ["chat gpt-4.1-mini", True]]
    assert result["metrics"] == ["gen_ai.client.operation.duration", "gen_ai.client.operation.time_to_first_chunk",
                                 "gen_ai.client.token.usage"]
