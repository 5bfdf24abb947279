"""The prompt-cache plan alone (no I/O): where a marked request is cut, durations, cache names, marks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from vllora_llm.engine.errors import InvalidRequestError
from vllora_llm.engine.gateway import ChatCompletionMessage, ChatCompletionRequest, TextPart
from vllora_llm.engine.prompt_cache import PromptCachePlan, compile_prompt_cache, is_marked, last_mark, ttl_seconds
from vllora_llm.engine.registry import load_plan, validate_files

MARK = {"type": "ephemeral"}


def plan() -> PromptCachePlan:
    found = compile_prompt_cache(load_plan("gemini").spec, "gemini")
    assert found is not None
    return found


def body(request: ChatCompletionRequest) -> dict[str, Any]:
    wire, _ = load_plan("gemini").encode(request, base_url="http://127.0.0.1:1")
    decoded: dict[str, Any] = msgspec.json.decode(wire.body)
    return decoded


def cut(messages: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    request = ChatCompletionRequest.from_dict({"model": "gemini-2.5-flash", "messages": messages})
    mark = last_mark(request)
    assert mark is not None
    prefix = msgspec.structs.replace(request, messages=request.messages[: mark[0] + 1])
    split = plan().split("gemini-2.5-flash", body(request), body(prefix))
    return None if split is None else (split.cached, split.rest)


@pytest.mark.parametrize(("text", "seconds"), [("5m", 300), ("1h", 3600), ("90", 90), ("300s", 300), ("1d", 86400),
                                               ("1500ms", 2), (None, 3600)])
def test_durations(text: str | None, seconds: int) -> None:
    assert ttl_seconds(text, 3600) == seconds


def test_a_bad_duration_names_the_field() -> None:
    with pytest.raises(InvalidRequestError, match=r"cache_control.ttl: 'soon' is not a duration"):
        ttl_seconds("soon", 3600)


def test_a_turn_merged_across_the_mark_is_cut_between_its_parts() -> None:
    found = cut([{"role": "user", "content": [{"type": "text", "text": "doc", "cache_control": MARK}]},
                 {"role": "user", "content": "question"}])  # one Gemini turn holds both messages
    assert found == ({"contents": [{"role": "user", "parts": [{"text": "doc"}]}]},
                     {"contents": [{"role": "user", "parts": [{"text": "question"}]}]})


def test_the_system_instruction_alone_can_be_the_prefix() -> None:
    found = cut([{"role": "system", "content": "rules", "cache_control": MARK}, {"role": "user", "content": "q"}])
    assert found == ({"systemInstruction": {"parts": [{"text": "rules"}]}},
                     {"contents": [{"role": "user", "parts": [{"text": "q"}]}]})


def test_a_single_marked_message_leaves_nothing_to_cache() -> None:
    assert cut([{"role": "user", "content": "only", "cache_control": MARK}]) is None


def test_equal_prefixes_share_a_key_and_models_do_not() -> None:
    messages = [{"role": "user", "content": "doc", "cache_control": MARK}, {"role": "user", "content": "a"}]
    request = ChatCompletionRequest.from_dict({"model": "gemini-2.5-flash", "messages": messages})
    prefix = msgspec.structs.replace(request, messages=request.messages[:1])
    one = plan().split("gemini-2.5-flash", body(request), body(prefix))
    other = ChatCompletionRequest.from_dict({"model": "gemini-2.5-flash", "messages": [messages[0], {
        "role": "user", "content": "b"}]})
    two = plan().split("gemini-2.5-flash", body(other), body(prefix))
    three = plan().split("gemini-2.5-pro", body(request), body(prefix))
    assert one is not None and two is not None and three is not None
    assert one.key == two.key != three.key


def test_cache_names_are_checked_before_they_become_a_path() -> None:
    wire = plan().get("http://127.0.0.1:1", "cachedContents/abc-123")
    assert (wire.method, wire.url, wire.body) == ("GET", "http://127.0.0.1:1/v1beta/cachedContents/abc-123", b"")
    for bad in ("cachedContents/../models", "../x", "cachedContents/a b", "plain"):
        with pytest.raises(InvalidRequestError, match="is not a cache name"):
            plan().delete("http://127.0.0.1:1", bad)


def test_minimum_sizes_follow_the_model() -> None:
    assert [plan().minimum(m) for m in ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-3-pro-preview")] == [
        1024, 2048, 4096]


def test_a_mark_on_a_message_moves_onto_its_last_part() -> None:
    message = ChatCompletionMessage.from_dict({"role": "user", "content": "hi", "cache_control": {"ttl": "1h"}})
    assert message.cache_control is None and isinstance(message.content, list)
    (part,) = message.content
    assert isinstance(part, TextPart) and part.cache_control is not None and part.cache_control.ttl == "1h"
    request = ChatCompletionRequest(model="m", messages=[message])
    assert is_marked(request) and last_mark(request) == (0, "1h", "messages[0].content[0].cache_control")
    assert not is_marked(ChatCompletionRequest(model="m", messages=[ChatCompletionMessage.new_text("user", "x")]))


def test_validate_reports_bad_templates_and_patterns(tmp_path: Path) -> None:
    spec = tmp_path / "badcache.yaml"
    spec.write_text("""apiVersion: vllora.dev/v1
kind: ProviderSpec
metadata: {name: badcache, revision: 1}
extends: gemini
operations:
  prompt_cache:
    prefix: {list: contents}
    reference: cachedContent
    create:
      endpoint: {path: /x}
      request: {model: {$op: nope, in: $model}}
    gone: {status: [404], message: "(cache"}
""")
    diagnostics, _ = validate_files([spec])
    found = sorted((d.code, d.path) for d in diagnostics)
    assert found == [("SPEC030", "operations.prompt_cache.create.request.model.$op"),
                     ("SPEC031", "operations.prompt_cache.gone.message")]
    assert all(d.line > 0 for d in diagnostics)


def test_a_message_mark_reaches_the_other_providers_cache_points() -> None:
    request = ChatCompletionRequest.from_dict({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [
        {"role": "system", "content": "rules", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        {"role": "user", "content": "q"}]})
    anthropic, _ = load_plan("anthropic").encode(request, base_url="http://127.0.0.1:1")
    assert msgspec.json.decode(anthropic.body)["system"] == [
        {"type": "text", "text": "rules", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    bedrock, _ = load_plan("bedrock").encode(request, base_url="http://127.0.0.1:1")
    assert msgspec.json.decode(bedrock.body)["system"] == [{"text": "rules"},
                                                           {"cachePoint": {"type": "default", "ttl": "1h"}}]
