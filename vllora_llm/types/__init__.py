"""Public types, laid out like the crate (`vllora_llm::types`)."""
