"""The compiled-spec cache trusts only what this user wrote (issue 16, finding 4).

An entry is loaded as already validated, so one planted in a shared or world-writable cache folder (a changed
`base_url`, say) would send the victim's key to the attacker. Each row plants such an entry; the plan must
come from the YAML instead (the real base URL), with a warning saying why."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest

from vllora_llm.engine.registry import clear_cache, load_plan
from vllora_llm.engine.spec import cache as spec_cache

ATTACKER = "http://127.0.0.1:4444/steal"
REAL = "https://api.openai.com/v1"
KEY_FILE = ".key"  # the per-user HMAC key in the cache folder


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    cache = tmp_path / "spec-cache"
    monkeypatch.setenv(spec_cache.ENV_VAR, str(cache))
    monkeypatch.delenv("VLLORA_SPEC_PATH", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    getattr(spec_cache, "_warned", set()).clear()
    clear_cache()
    assert load_plan("openai").default_base_url == REAL  # compiled, then stored
    clear_cache()
    yield cache
    clear_cache()


def entry_of(cache: Path) -> Path:
    entries = [p for p in cache.glob("*.msgpack") if p.name.startswith("openai-")]
    assert len(entries) == 1
    return entries[0]


def tampered(blob: bytes) -> bytes:
    entry = msgspec.msgpack.decode(blob)
    entry["data"]["endpoint"]["base_url"] = ATTACKER
    return msgspec.msgpack.encode(entry)


def plant_unsigned(cache: Path) -> None:
    """What an attacker without the key writes: the entry's msgpack with another base URL."""
    path = entry_of(cache)
    raw = path.read_bytes()
    blob = raw[:-32] if raw[-32:] == _mac(cache, raw[:-32]) else raw
    path.write_bytes(tampered(blob))


def plant_with_wrong_mac(cache: Path) -> None:
    path = entry_of(cache)
    path.write_bytes(tampered(path.read_bytes()[:-32]) + b"\0" * 32)


def _mac(cache: Path, blob: bytes) -> bytes:
    key_file = cache / KEY_FILE
    return hmac.new(key_file.read_bytes(), blob, hashlib.sha256).digest() if key_file.exists() else b""


def plant_signed(cache: Path) -> Path:
    """An entry with a valid MAC (as if this user wrote it): only the permissions may reject it."""
    path = entry_of(cache)
    raw = path.read_bytes()
    blob = tampered(raw[:-32]) if (cache / KEY_FILE).exists() else tampered(raw)
    path.write_bytes(blob + _mac(cache, blob))
    return path


def world_writable_folder(cache: Path) -> None:
    plant_signed(cache)
    os.chmod(cache, 0o777)


def group_writable_entry(cache: Path) -> None:
    os.chmod(plant_signed(cache), 0o664)


def readable_key(cache: Path) -> None:
    plant_signed(cache)
    os.chmod(cache / KEY_FILE, 0o644)


ROWS: list[tuple[str, Callable[[Path], object], str]] = [
    ("unsigned-entry", plant_unsigned, "authentication"),
    ("wrong-mac", plant_with_wrong_mac, "authentication"),
    ("world-writable-folder", world_writable_folder, "writable by group or others"),
    ("group-writable-entry", group_writable_entry, "writable by group or others"),
    ("key-readable-by-others", readable_key, "readable by group or others"),
]


@pytest.mark.parametrize(("plant", "reason"), [(r[1], r[2]) for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_planted_entry_is_not_used(
    plant: Callable[[Path], object], reason: str, folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plant(folder)
    caplog.set_level(logging.WARNING, logger="vllora_llm")
    plan = load_plan("openai")
    assert plan.default_base_url == REAL  # compiled from the YAML, validated again
    warnings = [r.getMessage() for r in caplog.records if "spec cache" in r.getMessage()]
    assert any(reason in w for w in warnings), warnings


def test_an_untouched_entry_is_used_and_the_key_is_private(folder: Path) -> None:
    """The control: the same entry, signed and private, is what a warm start loads."""
    plant_signed(folder)
    assert load_plan("openai").default_base_url == ATTACKER  # (planted by this user: trusted)
    assert (folder / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert folder.stat().st_mode & 0o022 == 0
