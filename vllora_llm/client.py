"""The client API (the crate's `vllora_llm::client`): clients, streams and model instances.

What a chat call needs is imported here; the Responses API, the router, the blocking facade and the stores
are imported on first use of their name (module `__getattr__`), so `import vllora_llm.client` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from vllora_llm.runtime.caches_client import CachesClient
from vllora_llm.runtime.client import CompletionsClient, ResultStream, VlloraLLMClient
from vllora_llm.runtime.instance import DummyModelInstance, ModelInstance, ProviderModelInstance
from vllora_llm.runtime.limits import Limits
from vllora_llm.runtime.transport import Timeouts

if TYPE_CHECKING:
    from vllora_llm.runtime.operation_clients import EmbeddingsClient, ImagesClient
    from vllora_llm.runtime.response_store import InMemoryResponseStore, InMemoryStore, KeyValueStore, ResponseStore
    from vllora_llm.runtime.responses import ResponseEventStream, ResponsesClient
    from vllora_llm.runtime.responses_native import NativeResponseStream
    from vllora_llm.runtime.router import RouterModelInstance
    from vllora_llm.runtime.sync import (
        SyncCachesClient,
        SyncCompletionsClient,
        SyncEmbeddingsClient,
        SyncImagesClient,
        SyncResponseEventStream,
        SyncResponsesClient,
        SyncResultStream,
        SyncVlloraLLMClient,
    )

_LAZY = {
    "EmbeddingsClient": "operation_clients",
    "ImagesClient": "operation_clients",
    "InMemoryResponseStore": "response_store",
    "InMemoryStore": "response_store",
    "KeyValueStore": "response_store",
    "ResponseStore": "response_store",
    "ResponseEventStream": "responses",
    "ResponsesClient": "responses",
    "NativeResponseStream": "responses_native",
    "RouterModelInstance": "router",
    "SyncCachesClient": "sync",
    "SyncCompletionsClient": "sync",
    "SyncEmbeddingsClient": "sync",
    "SyncImagesClient": "sync",
    "SyncResponseEventStream": "sync",
    "SyncResponsesClient": "sync",
    "SyncResultStream": "sync",
    "SyncVlloraLLMClient": "sync",
}
"""Public name → the `vllora_llm.runtime` module defining it, imported when the name is first read."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"vllora_llm.runtime.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "CachesClient",
    "CompletionsClient",
    "DummyModelInstance",
    "EmbeddingsClient",
    "ImagesClient",
    "InMemoryResponseStore",
    "InMemoryStore",
    "KeyValueStore",
    "Limits",
    "ModelInstance",
    "NativeResponseStream",
    "ProviderModelInstance",
    "ResponseEventStream",
    "ResponseStore",
    "ResponsesClient",
    "ResultStream",
    "RouterModelInstance",
    "SyncCachesClient",
    "SyncCompletionsClient",
    "SyncEmbeddingsClient",
    "SyncImagesClient",
    "SyncResponseEventStream",
    "SyncResponsesClient",
    "SyncResultStream",
    "SyncVlloraLLMClient",
    "Timeouts",
    "VlloraLLMClient",
]
