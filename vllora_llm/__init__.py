"""vllora-llm: one typed, async chat-completions API across LLM providers, with providers as data.

Installed, `engine`, `runtime`, `tools` and `specs` sit inside this package. Imported from a checkout (the
repository root on `sys.path`, as `python -c ...` or `python -m pytest` there put it), this folder would shadow
the installed package and lack them; the root, where they are siblings, then joins the package's search path, so
the checkout imports exactly as the installed package does.
"""

from pathlib import Path as _Path

if not (_Path(__file__).parent / "engine").is_dir() and (_Path(__file__).parent.parent / "engine").is_dir():
    __path__.append(str(_Path(__file__).parent.parent))

from vllora_llm.engine.version import VERSION as __version__

__all__ = ["__version__"]
