"""The compiled-spec cache: a warm process start reads no YAML and runs no JSON Schema (and imports neither),
a cached spec compiles into a plan that behaves exactly like one loaded from its YAML, and any change to a
file the spec was made from (its `extends` chain included) is seen at once."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from vllora_llm.engine import registry
from vllora_llm.engine.gateway import ChatCompletionRequest
from vllora_llm.engine.registry import builtin_dir, clear_cache, load_plan
from vllora_llm.engine.spec import cache as spec_cache

HEAVY = ("yaml", "jsonschema", "jmespath", "vllora_llm.tools")
START = """
import json, sys
from vllora_llm.client import VlloraLLMClient
VlloraLLMClient.from_provider({name!r}, api_key="k", base_url="http://127.0.0.1:9")
print(json.dumps([m for m in {heavy!r} if m in sys.modules]))
"""

REQUESTS = [
    {"model": "m-1", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
     "max_tokens": 100, "temperature": 0.5, "stop": "END", "seed": 3, "logit_bias": {"42": 1}},
    {"model": "m-1", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
     "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
     "tool_choice": "auto", "response_format": {"type": "json_object"}},
]


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "spec-cache"
    monkeypatch.setenv(spec_cache.ENV_VAR, str(folder))
    monkeypatch.delenv("VLLORA_SPEC_PATH", raising=False)
    clear_cache()
    yield folder
    clear_cache()


def _start(name: str, folder: Path) -> list[str]:
    env = {**os.environ, spec_cache.ENV_VAR: str(folder)}
    env.pop("VLLORA_SPEC_PATH", None)
    done = subprocess.run([sys.executable, "-c", START.format(name=name, heavy=HEAVY)], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_a_warm_start_imports_no_yaml_jsonschema_or_jmespath(cache_dir: Path) -> None:
    assert "yaml" in _start("openai", cache_dir)  # cold: the spec is read and validated, then stored
    assert list(cache_dir.glob("openai-*.msgpack"))
    assert _start("openai", cache_dir) == []  # warm: straight from the cache


def _builtins() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.yaml") if not p.name.endswith(".tests.yaml"))


def _wire(name: str, stream: bool) -> list[object]:
    out: list[object] = []
    for raw in REQUESTS:
        request = ChatCompletionRequest.coerce(raw)
        try:
            wire, warnings = load_plan(name).encode(request, stream=stream, base_url="http://127.0.0.1:9")
        except Exception as exc:  # a request a spec refuses: the same refusal, cached or not
            out.append(repr(exc))
            continue
        out.append((wire.method, wire.url, sorted(wire.headers.items()), json.loads(wire.body),
                    [w.to_dict() for w in warnings]))
    return out


@pytest.mark.parametrize("name", _builtins())
def test_a_cached_spec_compiles_into_the_same_plan(name: str, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cold = load_plan(name)
    expected = (cold.spec, _wire(name, False), _wire(name, True))
    assert list(cache_dir.glob(f"{name}-*.msgpack")), "a valid built-in spec is stored"
    clear_cache()

    def no_yaml(*args: object, **kwargs: object) -> None:
        raise AssertionError("the spec was loaded from YAML although the cache holds it")

    monkeypatch.setattr(registry, "_load_validated", no_yaml)
    warm = load_plan(name)
    assert warm is not cold
    assert (warm.spec, _wire(name, False), _wire(name, True)) == expected


BASE = """\
apiVersion: vllora.dev/v1
kind: ProviderSpec
metadata: {name: basecorp, revision: 1}
extends: openai
endpoint: {base_url: "https://base.example/v1"}
params:
  seed: {to: random_seed}
"""
CHILD = """\
apiVersion: vllora.dev/v1
kind: ProviderSpec
metadata: {name: childcorp, revision: 1}
extends: basecorp
endpoint: {base_url: "https://child.example/v1"}
"""


def _seed_field(name: str) -> set[str]:
    request = ChatCompletionRequest.coerce({"model": "m", "messages": [{"role": "user", "content": "hi"}], "seed": 1})
    wire, _ = load_plan(name).encode(request)
    return set(json.loads(wire.body)) - {"model", "messages"}


def test_an_edit_anywhere_in_the_extends_chain_is_seen(cache_dir: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "basecorp.yaml").write_text(BASE)
    (folder / "childcorp.yaml").write_text(CHILD)
    monkeypatch.setenv("VLLORA_SPEC_PATH", str(folder))
    assert _seed_field("childcorp") == {"random_seed"}
    clear_cache()
    assert _seed_field("childcorp") == {"random_seed"}  # from the cache
    (folder / "basecorp.yaml").write_text(BASE.replace("random_seed", "sampling_seed"))
    clear_cache()
    assert _seed_field("childcorp") == {"sampling_seed"}


def test_a_shadowing_spec_is_not_served_from_another_files_entry(cache_dir: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    load_plan("openai")
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "openai.yaml").write_text((builtin_dir() / "openai.yaml").read_text().replace(
        "max_completion_tokens: {}", "max_completion_tokens: {to: max_output_tokens}"))
    monkeypatch.setenv("VLLORA_SPEC_PATH", str(folder))
    clear_cache()
    request = ChatCompletionRequest.coerce({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                                            "max_completion_tokens": 5})
    wire, _ = load_plan("openai").encode(request)
    assert json.loads(wire.body)["max_output_tokens"] == 5


def test_the_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(spec_cache.ENV_VAR, "off")
    clear_cache()
    assert spec_cache.cache_dir() is None
    load_plan("openai")
    clear_cache()


def test_data_msgpack_would_change_is_never_stored(cache_dir: Path) -> None:
    paths = {"x": str(builtin_dir() / "openai.yaml")}
    schemas = str(builtin_dir().parent / "schema")
    assert not spec_cache.store("x", paths, ["x"], {"when": datetime.date(2024, 1, 1)}, schemas)
    assert spec_cache.store("x", paths, ["x"], {"when": "2024-01-01"}, schemas)
    assert spec_cache.lookup("x", paths, schemas) == {"when": "2024-01-01"}
    assert spec_cache.lookup("x", {"x": str(builtin_dir() / "gemini.yaml")}, schemas) is None
