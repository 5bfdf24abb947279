"""What `import vllora_llm.client` and a warm first call leave unimported (issue 17: import time and memory).

A chat client needs neither the Responses API, the router, the blocking facade, the operation clients beside
chat, nor the model-event types (built only when someone listens): each is imported where it is first used,
and every public name still imports from where it always did. Each check runs in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import vllora_llm.client as client_api
from vllora_llm.engine.prevalidated import prevalidated, vouched
from vllora_llm.engine.spec import cache as spec_cache

LAZY = (
    "vllora_llm.runtime.responses",
    "vllora_llm.runtime.responses_native",
    "vllora_llm.engine.responses_types",
    "vllora_llm.engine.gateway_ops",
    "vllora_llm.runtime.operation_clients",
    "vllora_llm.runtime.router",
    "vllora_llm.runtime.sync",
    "vllora_llm.runtime.response_store",
    "vllora_llm.runtime.events",
    "difflib",
    "importlib.resources",
)


def _fresh(code: str, **env: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", "import json, sys\n" + code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_importing_the_client_api_imports_none_of_what_a_chat_call_does_not_need() -> None:
    code = f"import vllora_llm.client\nprint(json.dumps([m for m in {LAZY!r} if m in sys.modules]))"
    assert _fresh(code) == []


def test_every_public_name_of_the_client_api_still_imports_from_it() -> None:
    from vllora_llm.runtime import operation_clients, responses, router, sync

    for name in client_api.__all__:
        assert getattr(client_api, name) is not None, name
    assert client_api.ResponsesClient is responses.ResponsesClient
    assert client_api.RouterModelInstance is router.RouterModelInstance
    assert client_api.SyncVlloraLLMClient is sync.SyncVlloraLLMClient
    assert client_api.EmbeddingsClient is operation_clients.EmbeddingsClient
    assert set(client_api.__all__) <= set(dir(client_api))
    with pytest.raises(AttributeError, match="no_such_name"):
        client_api.no_such_name  # noqa: B018


def test_runtime_client_re_exports_the_operation_clients_lazily() -> None:
    code = ("from vllora_llm.runtime.client import EmbeddingsClient, ImagesClient\n"
            "from vllora_llm.runtime import operation_clients as ops\n"
            "assert (EmbeddingsClient, ImagesClient) == (ops.EmbeddingsClient, ops.ImagesClient)\n"
            "print(json.dumps([]))")
    assert _fresh(code) == []


def test_a_warm_first_request_on_combined_override_layers_runs_no_json_schema(tmp_path: Path) -> None:
    """A model matching several override layers gets their combination compiled on its first request, after
    the cached spec was loaded: the arguments it repeats were checked before the spec was stored."""
    folder = str(tmp_path / "spec-cache")
    code = ("from vllora_llm.client import VlloraLLMClient\n"
            "from vllora_llm.engine.gateway import ChatCompletionRequest\n"
            "from vllora_llm.engine.registry import load_plan\n"
            "VlloraLLMClient.from_provider('anthropic', api_key='k', base_url='http://127.0.0.1:9')\n"
            "request = ChatCompletionRequest.coerce({'model': 'claude-sonnet-4-5', 'max_tokens': 9,\n"
            "    'messages': [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'hi'}]})\n"
            "load_plan('anthropic').encode(request)\n"
            "print(json.dumps([m for m in ('yaml', 'jsonschema', 'jmespath') if m in sys.modules]))")
    assert "jsonschema" in _fresh(code, **{spec_cache.ENV_VAR: folder})  # cold: read and validated, then stored
    assert _fresh(code, **{spec_cache.ENV_VAR: folder}) == []


def test_vouched_answers_only_for_what_was_compiled_inside_prevalidated() -> None:
    key = ("transform", "test-transform", repr({"never": "seen"}))
    assert not vouched(key)
    with prevalidated():
        assert vouched(key)
    assert vouched(key)  # the same arguments, compiled again outside the block: known to pass
    assert not vouched(("transform", "test-transform", repr({"never": "seen", "other": 1})))


def test_the_public_gateway_types_import_the_operation_types_on_first_use() -> None:
    code = ("import vllora_llm.types.gateway as types\n"
            "before = [m for m in ('vllora_llm.engine.gateway_ops', 'vllora_llm.engine.responses_types')\n"
            "          if m in sys.modules]\n"
            "from vllora_llm.types.gateway import CreateEmbeddingRequest\n"
            "from vllora_llm.engine import gateway_ops\n"
            "assert CreateEmbeddingRequest is gateway_ops.CreateEmbeddingRequest\n"
            "assert all(hasattr(types, name) for name in types.__all__)\n"
            "print(json.dumps(before))")
    assert _fresh(code) == []


def test_a_plan_compiles_its_operations_beside_chat_on_first_use(tmp_path: Path) -> None:
    code = ("from vllora_llm.engine.registry import load_plan\n"
            "plan = load_plan('openai')\n"
            "before = [m for m in ('vllora_llm.engine.operations', 'vllora_llm.engine.responses_types')\n"
            "          if m in sys.modules]\n"
            "assert plan.operation('embeddings').name == 'embeddings'\n"
            "print(json.dumps(before))")
    folder = {spec_cache.ENV_VAR: str(tmp_path / "spec-cache")}
    _fresh(code, **folder)  # cold: validating the spec reads the operation types
    assert _fresh(code, **folder) == []


def test_generated_source_is_shared_and_its_lines_are_made_when_first_read() -> None:
    import linecache

    from vllora_llm.engine.codegen import FunctionBuilder

    def build() -> object:
        builder = FunctionBuilder(("item",), name="lazy_lines_probe")
        builder.line("value = item + 1")
        return builder.build("value")

    first, second = build(), build()
    assert first(1) == 2 and second(2) == 3  # type: ignore[operator]
    filename = first.__code__.co_filename  # type: ignore[attr-defined]
    assert first.__code__ is second.__code__  # type: ignore[attr-defined]  (one source, one code object)
    assert len(linecache.cache[filename]) == 1  # registered lazily: no lines made yet
    assert linecache.getline(filename, 2) == "    value = item + 1\n"  # what a traceback reads
    assert len(linecache.cache[filename]) == 4  # ...and now kept as linecache keeps any file's lines


LAYERED_MODELS = ("claude-3-haiku-20240307", "claude-3-5-sonnet-latest", "claude-sonnet-4-5", "claude-opus-4-1",
                  "claude-opus-4-7", "claude-opus-5", "some-other-model")


def _encoded(model: str) -> object:
    from vllora_llm.engine.gateway import ChatCompletionRequest
    from vllora_llm.engine.registry import load_plan

    request = ChatCompletionRequest.coerce({
        "model": model, "max_tokens": 64, "temperature": 0.5, "reasoning_effort": "low",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]})
    try:
        wire, warnings = load_plan("anthropic").encode(request, base_url="http://127.0.0.1:9")
    except Exception as exc:  # a request a layer refuses: the same refusal, cached or not
        return repr(exc)
    return wire.url, sorted(wire.headers.items()), json.loads(wire.body), [w.to_dict() for w in warnings]


def test_a_cached_spec_builds_each_override_layer_on_first_use_into_the_same_requests(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vllora_llm.engine import registry

    monkeypatch.setenv(spec_cache.ENV_VAR, str(tmp_path / "spec-cache"))
    monkeypatch.delenv("VLLORA_SPEC_PATH", raising=False)
    from vllora_llm.engine.codegen import collect

    registry.clear_cache()
    try:
        with collect() as at_cold_load:
            registry.load_plan("anthropic")
        cold = [_encoded(model) for model in LAYERED_MODELS]  # every layer built at load, then stored
        registry.clear_cache()
        with collect() as at_warm_load:
            registry.load_plan("anthropic")
        assert 0 < len(at_warm_load) < len(at_cold_load) / 2  # the base only, not each of its layers
        warm = [_encoded(model) for model in LAYERED_MODELS]  # from the cache: layers built per model
        registry.clear_cache()
        backwards = [_encoded(model) for model in reversed(LAYERED_MODELS)]  # other first uses, other order
    finally:
        registry.clear_cache()
    assert warm == cold
    assert backwards[::-1] == cold
    assert len({json.dumps(c, sort_keys=True, default=str) for c in cold}) > 3  # the layers do differ


def test_the_signing_scheme_is_imported_when_a_spec_first_names_it() -> None:
    code = ("import vllora_llm.client\n"
            "from vllora_llm.runtime.auth import AUTH_SCHEMES, scheme_for\n"
            "from vllora_llm.engine.wire import AuthSpec\n"
            "before = [m for m in ('vllora_llm.runtime.sigv4',) if m in sys.modules]\n"
            "scheme = scheme_for(AuthSpec('aws_sigv4', signing_name='s', signing_region='r'))\n"
            "assert 'vllora_llm.runtime.sigv4' in sys.modules\n"
            "from vllora_llm.runtime.sigv4 import AwsSigV4Scheme\n"
            "assert isinstance(scheme, AwsSigV4Scheme) and AUTH_SCHEMES['aws_sigv4'] is scheme\n"
            "print(json.dumps(before))")
    assert _fresh(code) == []


def test_an_unknown_scheme_still_lists_the_signing_one() -> None:
    from vllora_llm.engine.errors import AuthenticationError
    from vllora_llm.engine.wire import AuthSpec
    from vllora_llm.runtime.auth import scheme_for

    with pytest.raises(AuthenticationError, match=r"unknown auth scheme 'nope' \(known: aws_sigv4, bearer"):
        scheme_for(AuthSpec("nope"))
