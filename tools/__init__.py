"""The `vllora-llm` command line."""
