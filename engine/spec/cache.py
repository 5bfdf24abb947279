"""The compiled-spec cache: a spec's merged, validated data kept as msgpack, so a new process skips YAML parsing,
JSON Schema validation and the semantic pass, and never imports PyYAML or jsonschema.

An entry is used only when everything it was made from is unchanged: each file of the spec's `extends`
chain (the path the search path resolves the name to, and the SHA-256 of its bytes, re-read on every
lookup) and the library (its version, and the size and mtime of the engine's modules and of the spec
schema). Only specs that passed validation and compiled are stored; a value msgpack cannot carry exactly
(a YAML date, say) makes the spec uncacheable rather than different. Entries are written atomically, and
a cache that cannot be read or written only means the slow path runs.

`VLLORA_SPEC_CACHE` names the folder, or `off` disables the cache; the default is
`$XDG_CACHE_HOME/vllora-llm/specs` (`~/.cache/vllora-llm/specs`).

Trust: a cached entry is loaded as already validated, so it must be this user's own. As ssh does with its
files, the folder and each entry must be owned by the current user and not writable by group or others, and
every entry carries an HMAC-SHA256 made with a per-user key (`.key` in the folder, created 0600). An entry
that fails any check is ignored with a warning (on the `vllora_llm` logger) and the spec is compiled from
its YAML, with full validation.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import stat
import tempfile
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import msgspec

ENV_VAR = "VLLORA_SPEC_CACHE"
FORMAT = 2  # 2: entries are authenticated (msgpack blob + HMAC-SHA256)
KEY_FILE = ".key"
_MAC_SIZE = 32

logger = logging.getLogger("vllora_llm")
_warned: set[str] = set()


def _warn(what: str, path: Path) -> None:
    """One warning per problem and place per process: the cache is skipped, nothing else changes."""
    message = f"spec cache: {what} ({path}); compiling from the YAML instead"
    if message not in _warned:
        _warned.add(message)
        logger.warning(message)


def _untrusted(info: os.stat_result) -> str | None:
    """Why a cache file or folder with this `stat` is not trusted (another owner, or writable by others)."""
    getuid = getattr(os, "getuid", None)
    if getuid is not None and info.st_uid != getuid():
        return "not owned by the current user"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "writable by group or others"
    return None


def _trusted_folder(folder: Path) -> bool:
    try:
        info = folder.stat()
    except OSError:
        return False
    problem = _untrusted(info)
    if problem:
        _warn(f"the cache folder is {problem}", folder)
        return False
    return True


def _key(folder: Path, *, create: bool) -> bytes | None:
    """The per-user HMAC key of `folder` (made, 0600, when `create`), or None when missing or untrusted."""
    path = folder / KEY_FILE
    if create and not path.exists():
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            pass  # another process made it first: read theirs
        except OSError:
            return None
        else:
            with os.fdopen(handle, "wb") as out:
                out.write(secrets.token_bytes(32))
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(handle, "rb") as key_file:
        info = os.fstat(key_file.fileno())
        problem = _untrusted(info)
        if problem is None and info.st_mode & (stat.S_IRGRP | stat.S_IROTH):
            problem = "readable by group or others"
        if problem:
            _warn(f"the cache key is {problem}", path)
            return None
        key = key_file.read()
    return key if len(key) >= 32 else None


def _mac(key: bytes, blob: bytes) -> bytes:
    return hmac.new(key, blob, hashlib.sha256).digest()

_ENGINE = Path(__file__).resolve().parents[1]


def cache_dir() -> Path | None:
    """The cache folder, or None when the cache is off."""
    configured = os.environ.get(ENV_VAR, "")
    if configured.lower() in ("off", "0", "false", "no"):
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vllora-llm" / "specs"


@cache
def code_fingerprint(schemas: str) -> str:
    """The library code and spec schemas (folder `schemas`) that validation and compilation depend on: the
    version and each file's size and mtime (stat only, nothing is read)."""
    from ..version import VERSION

    parts = [VERSION, str(FORMAT)]
    for path in sorted([*_ENGINE.glob("*.py"), *_ENGINE.glob("spec/*.py"), *Path(schemas).glob("*.json")]):
        try:
            info = path.stat()
        except OSError:
            continue
        parts.append(f"{path.name}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def _entry(folder: Path, name: str, path: str, fingerprint: str) -> Path:
    key = hashlib.sha256(f"{fingerprint}\0{name}\0{path}".encode()).hexdigest()[:40]
    return folder / f"{name[:40]}-{key}.msgpack"


def lookup(name: str, paths: Mapping[str, str], schemas: str) -> dict[str, Any] | None:
    """The cached merged data of spec `name`, when the search path (`paths`: spec name → file) still resolves
    it to the very same unchanged files; else None."""
    folder = cache_dir()
    if folder is None or name not in paths:
        return None
    target = _entry(folder, name, paths[name], code_fingerprint(schemas))
    if not target.exists() or not _trusted_folder(folder):
        return None
    key = _key(folder, create=False)
    if key is None:
        return None
    try:
        handle = os.open(target, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(handle, "rb") as entry_file:
            problem = _untrusted(os.fstat(entry_file.fileno()))
            if problem:
                _warn(f"a cache entry is {problem}", target)
                return None
            raw = entry_file.read()
        blob, mac = raw[:-_MAC_SIZE], raw[-_MAC_SIZE:]
        if len(raw) <= _MAC_SIZE or not hmac.compare_digest(mac, _mac(key, blob)):
            _warn("a cache entry failed its authentication check (changed or not written by this user)", target)
            return None
        entry = msgspec.msgpack.decode(blob)
        if not isinstance(entry, dict) or entry.get("format") != FORMAT:
            return None
        for dep_name, dep_path, digest in entry["deps"]:
            if paths.get(dep_name) != dep_path or _digest(dep_path) != digest:
                return None
        data = entry["data"]
    except (OSError, msgspec.DecodeError, KeyError, TypeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def store(name: str, paths: Mapping[str, str], chain: Sequence[str], data: dict[str, Any], schemas: str) -> bool:
    """Keep the validated, merged `data` of spec `name` (made from the specs named in `chain`). True if stored."""
    folder = cache_dir()
    if folder is None or name not in paths:
        return False
    deps = []
    for dep in chain:
        digest = _digest(paths[dep]) if dep in paths else None
        if digest is None:
            return False
        deps.append([dep, paths[dep], digest])
    try:
        blob = msgspec.msgpack.encode({"format": FORMAT, "deps": deps, "data": data})
        if msgspec.msgpack.decode(blob)["data"] != data:
            return False  # a value msgpack would change (a date, a NaN): never cache a different spec
    except (TypeError, ValueError, msgspec.EncodeError):
        return False
    target = _entry(folder, name, paths[name], code_fingerprint(schemas))
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _trusted_folder(folder):
            return False
        key = _key(folder, create=True)
        if key is None:
            return False
        _prune(folder)
        handle, temp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".msgpack")  # made 0600
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(blob + _mac(key, blob))
            os.replace(temp, target)
        except BaseException:
            os.unlink(temp)
            raise
    except OSError:
        return False
    return True


def _prune(folder: Path, keep: int = 192, high: int = 256) -> None:
    """Entries of edited specs and of older library code are never read again: drop the oldest ones."""
    entries = list(folder.glob("*.msgpack"))
    if len(entries) <= high:
        return
    entries.sort(key=lambda p: p.stat().st_mtime_ns)
    for stale in entries[: len(entries) - keep]:
        stale.unlink(missing_ok=True)
