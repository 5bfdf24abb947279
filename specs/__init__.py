"""Provider specs shipped with the library (package data, read with importlib.resources)."""
