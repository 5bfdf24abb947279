"""The speed suite (DESIGN §8): vllora-llm through its public API beside a hand-written floor, in one run.

`python -m benchmarks` starts a local aiohttp server with precomputed responses for each wire format, runs
the floor (aiohttp + msgspec, written by hand per format) and the library against it, interleaved, and
prints ratios to the floor; `--json PATH` keeps the numbers. See benchmarks/README.md.
"""
