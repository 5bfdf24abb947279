"""Every recording a provider's conformance cases must cover is named by at least one case.

A row per provider: the recordings (globs under tests/recordings/) its case files must use. A new
recording without a case fails here, so it cannot be forgotten. `.request.json` and `.status.json` files are
inputs of other cases, not cases of their own.
"""

from __future__ import annotations

import pytest

from ._support import KINDS, RECORDINGS, load_cases

MUST_COVER: dict[str, tuple[str, ...]] = {
    # openai/responses_stream_* are the Responses API (/v1/responses), not chat: every one of them is replayed
    # through the native `responses` operation by tests/runtime/test_responses_native.py (a glob, like here).
    # gemini/cached_contents_create_response.json answers POST /v1beta/cachedContents (creating a cache), not
    # generateContent: out of scope for the gemini spec.
    "bedrock": ("bedrock/converse_*.json", "bedrock/*.eventstream", "bedrock/*.decoded.jsonl"),
    "mistral": ("mistral/response_*.json", "mistral/stream_*"),
    "gemini": ("gemini/response_*.json", "gemini/error_*.json", "gemini/stream_*", "gemini/vertex_*"),
    "openai": ("openai/response_*.json", "openai/error_*.json", "openai/stream_*.sse", "openai/stream_*.jsonl"),
}


@pytest.mark.parametrize("provider", sorted(MUST_COVER))
def test_every_recording_has_a_case(provider: str) -> None:
    used = {c.data["recording"] for kind in KINDS for c in load_cases(kind)
            if c.provider == provider and "recording" in c.data}
    wanted = {
        str(path.relative_to(RECORDINGS))
        for pattern in MUST_COVER[provider]
        for path in RECORDINGS.glob(pattern)
        if not path.name.endswith((".request.json", ".status.json"))
    }
    assert wanted, f"no recordings match {MUST_COVER[provider]}"
    missing = sorted(wanted - used)
    assert not missing, f"recordings with no {provider} conformance case: {missing}"
