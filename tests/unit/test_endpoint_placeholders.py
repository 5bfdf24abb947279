"""`{placeholders}` in a spec's base URL and signing region, filled from client options, variables or defaults;
the auth block's key form; and the validator's check that every placeholder is declared."""

from __future__ import annotations

from pathlib import Path

import pytest

from vllora_llm.client import VlloraLLMClient
from vllora_llm.engine.errors import MappingError
from vllora_llm.engine.gateway import ChatCompletionRequest
from vllora_llm.engine.plan import Plan
from vllora_llm.engine.registry import load_plan, validate_files
from vllora_llm.runtime.auth import select_auth

SPEC = {
    "apiVersion": "vllora.dev/v1",
    "kind": "ProviderSpec",
    "metadata": {"name": "acme", "revision": 1},
    "endpoint": {
        "base_url": "https://{region}.{tier}.acme.example/v1",
        "placeholders": {"region": {"env": ["ACME_REGION", "ACME_DEFAULT_REGION"]}, "tier": {"default": "api"}},
        "chat": {"path": "/chat"},
    },
    "auth": {"scheme": "aws_sigv4", "signing_name": "acme", "signing_region": "{region}",
             "api_key": {"scheme": "header", "name": "x-key", "env": "ACME_KEY"}},
    "params": {"model": {}},
    "messages": {"mode": "passthrough"},
}
REQUEST = ChatCompletionRequest.coerce({"model": "m", "messages": [{"role": "user", "content": "hi"}]})


def test_option_beats_variable_beats_default() -> None:
    plan = Plan(SPEC)
    env = {"ACME_REGION": "", "ACME_DEFAULT_REGION": "eu-2"}
    assert plan.placeholder_values(None, env) == {"region": "eu-2", "tier": "api"}
    bound = plan.bind({"region": "us-9"}, env)
    assert bound.default_base_url == "https://us-9.api.acme.example/v1"
    assert bound.auth.signing_region == "us-9"
    assert plan.default_base_url == "https://{region}.{tier}.acme.example/v1"  # the cached plan is untouched
    assert bound.encode(REQUEST)[0].url == "https://us-9.api.acme.example/v1/chat"


def test_values_are_percent_encoded() -> None:
    assert Plan(SPEC).bind({"region": "a/b"}, {}).default_base_url == "https://a%2Fb.api.acme.example/v1"


def test_unfilled_placeholder_names_the_option_and_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACME_REGION", raising=False)
    monkeypatch.delenv("ACME_DEFAULT_REGION", raising=False)
    plan = Plan(SPEC).bind({}, {})
    assert plan.auth.signing_region == "{region}"
    with pytest.raises(MappingError, match=r"needs \{region\} \(pass region= to the client or set ACME_REGION or "
                                           r"ACME_DEFAULT_REGION\)"):
        plan.encode(REQUEST)
    monkeypatch.setenv("ACME_REGION", "late-1")  # an unbound placeholder is still read at request time
    assert plan.encode(REQUEST)[0].url == "https://late-1.api.acme.example/v1/chat"


def test_unknown_option_is_refused() -> None:
    with pytest.raises(MappingError, match="unknown endpoint option"):
        Plan(SPEC).bind({"zone": "z"}, {})


def test_an_explicit_base_url_wins() -> None:
    assert Plan(SPEC).bind({}, {}).encode(REQUEST, base_url="http://127.0.0.1:9")[0].url == "http://127.0.0.1:9/chat"


def test_auth_key_form() -> None:
    auth = Plan(SPEC).auth
    assert (auth.scheme, auth.signing_name, auth.signing_region) == ("aws_sigv4", "acme", "{region}")
    assert auth.api_key is not None and (auth.api_key.scheme, auth.api_key.name, auth.api_key.env) == (
        "header", "x-key", ("ACME_KEY",))
    assert select_auth(auth, None, {}) is auth
    assert select_auth(auth, "k", {}) is auth.api_key
    assert select_auth(auth, None, {"ACME_KEY": "k"}) is auth.api_key
    assert select_auth(auth, None, {"ACME_KEY": ""}) is auth  # an empty variable is no key


def test_from_provider_fills_region_from_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    client = VlloraLLMClient.from_provider("bedrock", api_key="k", region="eu-west-3")
    plan = client.instance.plan  # type: ignore[attr-defined]
    assert plan.default_base_url == "https://bedrock-runtime.eu-west-3.amazonaws.com"
    assert load_plan("bedrock").default_base_url == "https://bedrock-runtime.{region}.amazonaws.com"


def test_undeclared_placeholder_is_spec037(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(
        "apiVersion: vllora.dev/v1\nkind: ProviderSpec\nmetadata: {name: acme, revision: 1}\n"
        "endpoint:\n  base_url: https://{zone}.acme.example\n  placeholders: {region: {env: ACME_REGION}}\n"
        "auth: {scheme: none}\n"
    )
    diagnostics, _ = validate_files([path])
    assert [(d.code, d.path) for d in diagnostics] == [("SPEC037", "endpoint.base_url")]
    assert "{zone}" in diagnostics[0].message
