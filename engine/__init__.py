"""Pure core: gateway types, spec loading and validation, the compiler and the plans it builds (no I/O)."""
