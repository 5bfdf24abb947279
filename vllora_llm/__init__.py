"""vllora-llm: one typed, async chat-completions API across LLM providers, with providers as data."""

__version__ = "0.1.0"
