"""The library's version, kept in the engine so every layer can read it without importing the public face."""

VERSION = "0.1.0"
