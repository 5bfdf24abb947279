"""Provider spec loading: YAML with source marks, JSON Schema + semantic validation, diagnostics."""
