"""The client API (the crate's `vllora_llm::client`): clients, streams and model instances."""

from vllora_llm.runtime.client import CompletionsClient, ResultStream, VlloraLLMClient
from vllora_llm.runtime.instance import DummyModelInstance, ModelInstance, ProviderModelInstance
from vllora_llm.runtime.limits import Limits
from vllora_llm.runtime.router import RouterModelInstance
from vllora_llm.runtime.sync import SyncCompletionsClient, SyncResultStream, SyncVlloraLLMClient
from vllora_llm.runtime.transport import Timeouts

__all__ = [
    "CompletionsClient",
    "DummyModelInstance",
    "Limits",
    "ModelInstance",
    "ProviderModelInstance",
    "ResultStream",
    "RouterModelInstance",
    "SyncCompletionsClient",
    "SyncResultStream",
    "SyncVlloraLLMClient",
    "Timeouts",
    "VlloraLLMClient",
]
