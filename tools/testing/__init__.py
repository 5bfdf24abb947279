"""An embedded local provider server for testing apps offline: deterministic replies in providers' real wire
formats, a request log, and fault injection (429s, resets, cut or stalled streams, replays of recordings).

    async with LocalProviderServer() as server:
        client = VlloraLLMClient.from_provider("openai", api_key="test", base_url=server.openai_base_url)
"""

from vllora_llm.tools.testing.faults import FAULT_HEADER, Fault, FaultQueue, FaultSpecError, replay
from vllora_llm.tools.testing.server import LocalProviderServer, create_app, run_server
from vllora_llm.tools.testing.state import RecordedRequest

__all__ = [
    "FAULT_HEADER",
    "Fault",
    "FaultQueue",
    "FaultSpecError",
    "LocalProviderServer",
    "RecordedRequest",
    "create_app",
    "replay",
    "run_server",
]
