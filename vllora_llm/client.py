"""The client API (the crate's `vllora_llm::client`): clients, streams and model instances."""

from vllora_llm.runtime.caches_client import CachesClient
from vllora_llm.runtime.client import CompletionsClient, EmbeddingsClient, ImagesClient, ResultStream, VlloraLLMClient
from vllora_llm.runtime.instance import DummyModelInstance, ModelInstance, ProviderModelInstance
from vllora_llm.runtime.limits import Limits
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
from vllora_llm.runtime.transport import Timeouts

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
