"""vllora-llm: one typed, async chat-completions API across LLM providers, with providers as data."""

from vllora_llm.engine.version import VERSION as __version__

__all__ = ["__version__"]
