"""The embedded local provider server for testing apps offline (re-exported from `vllora_llm.tools.testing`):
deterministic replies in providers' real wire formats, a request log, and fault injection (429s, resets,
cut or stalled streams, replays of recordings).

    async with LocalProviderServer() as server:
        client = VlloraLLMClient.from_provider("openai", api_key="test", base_url=server.openai_base_url)
"""

from vllora_llm.tools.testing import (
    FAULT_HEADER,
    Fault,
    FaultQueue,
    FaultSpecError,
    LocalProviderServer,
    RecordedRequest,
    create_app,
    replay,
    run_server,
)

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
