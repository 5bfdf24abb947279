"""Protocol tests as data (the botocore / Smithy style): the case language, its loader and its runner.

A case is a unified request and the wire request expected, or a provider body / raw stream and the unified
result (or typed error) expected. Cases live in YAML: beside a spec as `<name>.tests.yaml` (a mapping with
`requests`, `responses` and `streams` lists; `vllora-llm spec test` runs them) and in the project's
conformance suite (tests/conformance/, one list per provider and kind). `recording:` names a file under the
case file's recordings folder (the spec's own folder for spec-side cases). The key sets in `protocol_cases.py`
are the whole case language: an unknown key is an error in the case file, so a typo never passes silently. A
failed expectation raises `AssertionError` with the case's file:line and a readable diff.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from vllora_llm.engine.aggregate import StreamAggregator
from vllora_llm.engine.errors import LLMError
from vllora_llm.engine.gateway import (
    ChatCompletionMessage,
    ChatCompletionMessageWithFinishReason,
    ChatCompletionRequest,
    RequestWarning,
    Usage,
)
from vllora_llm.engine.registry import load_plan
from vllora_llm.engine.wire import WireRequest
from vllora_llm.runtime.eventstream import EventStreamMessage, EventStreamParser, frame_of
from vllora_llm.runtime.sse import SSEParser

from .protocol_cases import KINDS as KINDS  # (the case language, re-exported for the runners)
from .protocol_cases import MESSAGE_KEYS, USAGE_KEYS, Case
from .protocol_cases import check_keys as check_keys
from .protocol_cases import load_case_list as load_case_list
from .protocol_cases import load_spec_tests as load_spec_tests


def _expect(holds: object, message: str) -> None:
    """A failed expectation: an `AssertionError` even under `python -O` (which strips `assert` statements, so
    `spec test` would pass every case)."""
    if not holds:
        raise AssertionError(message)


# ---- requests ---------------------------------------------------------------------------------------------


def given_request(case: Case) -> dict[str, Any]:
    """The unified request (OpenAI JSON) of a request case, from `given` or from a recorded request body."""
    data = case.data
    if "recording" in data:
        given: dict[str, Any] = json.loads(case.read(data["recording"]))
        for key in data.get("given_omit") or ():
            given.pop(key)
        moved = {key: given.pop(key) for key in data.get("given_extra_body") or ()}
        if moved:
            given["extra_body"] = {**(given.get("extra_body") or {}), **moved}
    else:
        given = copy.deepcopy(data["given"])
    if "model" in data:
        given["model"] = data["model"]
    return given


def render(case: Case) -> tuple[WireRequest, list[RequestWarning]]:
    """Coerce the case's request and encode it with its provider's plan (may raise an LLMError)."""
    plan = load_plan(case.provider)
    given = given_request(case)
    stream = bool(case.data.get("stream", given.get("stream") or False))
    request = ChatCompletionRequest.coerce(given)
    return plan.encode(request, stream=stream, base_url=case.data.get("base_url") or plan.default_base_url or None)


def check_wire(wire: WireRequest, expect: Mapping[str, Any], case: Case) -> None:
    body = json.loads(wire.body)
    if "method" in expect:
        _same(wire.method, expect["method"], case, "method")
    if "url" in expect:
        _same(wire.url, expect["url"], case, "url")
    if "url_endswith" in expect:
        _expect(wire.url.endswith(expect["url_endswith"]), f"{case.where}: url {wire.url!r}")
    headers = {k.lower(): v for k, v in wire.headers.items()}
    for name, value in (expect.get("headers") or {}).items():
        _same(headers.get(name.lower()), value, case, f"header {name}")
    if "body" in expect:
        _same(body, expect["body"], case, "body")
    if "body_subset" in expect:
        problems = list(_subset_problems(body, expect["body_subset"], "body"))
        _expect(not problems, f"{case.where} ({case.id}):\n" + "\n".join(problems) + f"\nrendered: {_dump(body)}")
    if "body_recorded" in expect:
        source = (expect["body_recorded"] or {}).get("recording") or case.data["recording"]  # a provider's own body
        recorded = json.loads(case.read(source))
        rendered = json.loads(json.dumps(body))   # a copy: an excepted key (not a list item) leaves both sides
        for path in (expect["body_recorded"] or {}).get("except") or ():
            _remove_path(recorded, path, case)
            if not path.endswith("]"):
                _remove_path(rendered, path, case, missing_ok=True)
        _same(rendered, recorded, case, "body (the recorded request)")


def check_warnings(warnings: list[RequestWarning], expected: Iterable[Any], case: Case) -> None:
    """`warnings`: the exact list of warned params; an entry may be `{param, code, message_contains}`."""
    expected = list(expected)
    names = sorted(e if isinstance(e, str) else e["param"] for e in expected)
    _same(sorted(str(w.param) for w in warnings), names, case, f"warned params ({[w.message for w in warnings]})")
    by_param = {w.param: w for w in warnings}
    for entry in expected:
        if isinstance(entry, dict):
            warning = by_param[entry["param"]]
            if "code" in entry:
                _same(warning.code, entry["code"], case, f"warning code of {entry['param']}")
            if "message_contains" in entry:
                _expect(entry["message_contains"] in warning.message, f"{case.where}: {warning.message!r}")


# ---- errors -----------------------------------------------------------------------------------------------


def check_error(error: LLMError, expect: Mapping[str, Any], case: Case) -> None:
    """The class must match exactly (a MappingError is not an InvalidRequestError case); other keys if given."""
    _same(type(error).__name__, expect["class"], case, f"error class ({error!r})")
    if "message_contains" in expect:
        _expect(expect["message_contains"] in str(error), f"{case.where} ({case.id}): error text {str(error)!r}")
    for key in ("status", "error_type", "request_id", "retryable", "retry_after", "path"):
        if key in expect:
            _same(getattr(error, key), expect[key], case, f"error {key}")


# ---- responses --------------------------------------------------------------------------------------------


def response_input(case: Case) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body): status from the case, else the recording's `.status.json`, else 200."""
    data = case.data
    status = data.get("status")
    if "recording" in data:
        body = case.read(data["recording"])
        status_file = case.recordings / re.sub(r"\.json$", ".status.json", data["recording"])
        if status is None and status_file.is_file():
            status = json.loads(status_file.read_bytes())["status"]
    else:
        raw = data["body"]
        body = raw.encode() if isinstance(raw, str) else json.dumps(raw).encode()
    return int(status or 200), {str(k): str(v) for k, v in (data.get("headers") or {}).items()}, body


def check_result(result: ChatCompletionMessageWithFinishReason, expect: Mapping[str, Any], case: Case) -> None:
    """Compare a decoded (or aggregated) response with `expect`; only the keys given are checked."""
    for key in ("id", "model"):
        if key in expect:
            _same(getattr(result, key), expect[key], case, key)
    if "extras" in expect:
        _check_extras(result.extras, expect["extras"], case)
    if "warnings" in expect:
        check_warnings(result.warnings, expect["warnings"] or [], case)
    if "usage" in expect:
        _check_usage(result.usage, expect["usage"], case)
    choices = expect.get("choices")
    if isinstance(choices, int):
        _same(len(result.choices), choices, case, "number of choices")
    elif isinstance(choices, list):
        _same(len(result.choices), len(choices), case, "number of choices")
        for position, (actual, wanted) in enumerate(zip(result.choices, choices, strict=True)):
            _same(actual.index, wanted.get("index", position), case, f"choices[{position}].index")
            if "finish_reason" in wanted:
                _same(actual.finish_reason, wanted["finish_reason"], case, f"choices[{position}].finish_reason")
            _check_message(actual.message, {**wanted.get("message", {}), **_message_keys(wanted)}, case)
    first = _message_keys(expect) | dict(expect.get("message") or {})
    if first or "finish_reason" in expect:
        _expect(result.choices, f"{case.where} ({case.id}): no choices")
        if "finish_reason" in expect:
            _same(result.choices[0].finish_reason, expect["finish_reason"], case, "finish_reason")
        _check_message(result.choices[0].message, first, case)


def _check_extras(actual: dict[str, Any] | None, wanted: Mapping[str, Any] | None, case: Case) -> None:
    """`extras`: the exact set of extras names; each value as in `body_subset` (mappings may leave keys out)."""
    actual = actual or {}
    wanted = dict(wanted or {})
    _same(sorted(actual), sorted(wanted), case, "extras names")
    problems = [line for key, value in wanted.items() for line in _subset_problems(actual[key], value, key)]
    _expect(not problems, f"{case.where} ({case.id}): extras differ\n" + "\n".join(problems))


def _message_keys(expect: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in expect.items() if k in MESSAGE_KEYS}


def _check_message(message: ChatCompletionMessage, expect: Mapping[str, Any], case: Case) -> None:
    unknown = set(expect) - MESSAGE_KEYS
    _expect(not unknown, f"{case.where}: unknown message keys {sorted(unknown)}")
    content = message.content
    text = None if content is None else content if isinstance(content, str) else content.as_string()
    for key in ("text", "content"):
        if key in expect:
            _check_text(text, expect[key], case, key)
    for key in ("reasoning", "refusal"):
        if key in expect:
            _check_text(getattr(message, key), expect[key], case, key)
    if "role" in expect:
        _same(message.role, expect["role"], case, "role")
    if "tool_calls" in expect:
        calls = message.tool_calls or []
        wanted = expect["tool_calls"] or []
        _same([c.function.name for c in calls], [w.get("name") for w in wanted], case, "tool call names")
        for position, (call, want) in enumerate(zip(calls, wanted, strict=True)):
            where = f"tool_calls[{position}]"
            if "id" in want:
                _same(call.id, want["id"], case, f"{where}.id")
            for key in ("type", "signature"):
                if key in want:
                    _same(getattr(call, key), want[key], case, f"{where}.{key}")
            if "arguments" in want:
                _check_arguments(call.function.arguments, want["arguments"], case, where)
    if "reasoning_details" in expect:
        details = [d.to_dict() for d in message.reasoning_details or []]
        _same(details, expect["reasoning_details"] or [], case, "reasoning_details")


def _check_arguments(actual: str, wanted: Any, case: Case, where: str) -> None:
    """A string is compared exactly; a mapping or list is compared with the parsed arguments (JSON-equal)."""
    if isinstance(wanted, str):
        _same(actual, wanted, case, f"{where}.arguments")
        return
    try:
        parsed = json.loads(actual)
    except ValueError:
        raise AssertionError(f"{case.where} ({case.id}): {where}.arguments is not JSON: {actual!r}") from None
    _same(parsed, wanted, case, f"{where}.arguments")


def _check_text(actual: str | None, wanted: Any, case: Case, what: str) -> None:
    """Exact text, or `{length, sha256, startswith, endswith, json}` for long texts."""
    if not isinstance(wanted, dict):
        _same(actual, wanted, case, what)
        return
    _expect(actual is not None, f"{case.where} ({case.id}): {what} is None")
    label = f"{what} ({len(actual)} chars, starting {actual[:80]!r})"
    if "length" in wanted:
        _same(len(actual), wanted["length"], case, f"length of {label}")
    if "sha256" in wanted:
        _same(hashlib.sha256(actual.encode()).hexdigest(), wanted["sha256"], case, f"sha256 of {label}")
    if "startswith" in wanted:
        _expect(actual.startswith(wanted["startswith"]), f"{case.where} ({case.id}): {label}")
    if "endswith" in wanted:
        _expect(actual.endswith(wanted["endswith"]), f"{case.where} ({case.id}): {what} ends {actual[-80:]!r}")
    if "json" in wanted:
        _same(json.loads(actual), wanted["json"], case, f"{what} as JSON")


def flat_usage(usage: Usage) -> dict[str, Any]:
    prompt = usage.prompt_tokens_details
    completion = usage.completion_tokens_details
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "cached_tokens": prompt.cached_tokens if prompt else None,
        "cache_creation_tokens": prompt.cache_creation_tokens if prompt else None,
        "reasoning_tokens": completion.reasoning_tokens if completion else None,
        "cost": usage.cost,
    }


def _check_usage(usage: Usage | None, wanted: Mapping[str, Any] | None, case: Case) -> None:
    if wanted is None:
        _same(usage, None, case, "usage")
        return
    _expect(usage is not None, f"{case.where} ({case.id}): no usage")
    unknown = set(wanted) - set(USAGE_KEYS)
    _expect(not unknown, f"{case.where}: unknown usage keys {sorted(unknown)}")
    actual = flat_usage(usage)
    _same({k: actual[k] for k in wanted}, dict(wanted), case, "usage")


# ---- streams ----------------------------------------------------------------------------------------------


@dataclass
class StreamRun:
    """What decoding a recorded stream produced: the aggregate so far, the chunk count, the error if any."""

    aggregator: StreamAggregator
    error: LLMError | None = None
    warnings: list[RequestWarning] = field(default_factory=list)
    """What the decoder warned about once the stream ended (a mapping that gave nothing)."""

    @property
    def chunks(self) -> int:
        return self.aggregator.chunks

    def result(self) -> ChatCompletionMessageWithFinishReason:
        """The aggregated message, with the decoder's warnings (as the runtime's stream gives them)."""
        result = self.aggregator.result()
        result.warnings = list(self.warnings)
        return result


def _reads(raw: bytes, size: int | None) -> Iterator[bytes]:
    if not size:
        yield raw
        return
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


def stream_frames(case: Case, *, plan: Any = None) -> list[Any]:
    """Cut the case's stream into frames with the runtime's framers (a bad frame raises StreamError).

    `sse` and `eventstream` are raw bodies. `chunks_jsonl` (vercel/ai fixtures) holds one data payload per
    line: each becomes an SSE `data:` event (event name `message`), and `[DONE]` is added only when the case
    says `append_done: true`. `decoded_jsonl` holds one `{"<eventType>": payload}` per line: each becomes an
    event-stream message with that `:event-type`.
    """
    data = case.data
    plan = plan if plan is not None else load_plan(case.provider)
    name = data.get("recording", "")
    raw = case.read(name) if name else str(data["body"]).encode()
    framing = data.get("framing") or _framing_for(name)
    if framing == "json_array":  # streamGenerateContent without alt=sse: one JSON array of whole responses
        lines = [json.dumps(item) for item in json.loads(raw)]
        raw = "".join(f"data: {line}\n\n" for line in lines).encode("utf-8")
        framing = "sse"
    if framing == "chunks_jsonl":
        lines = [line for line in raw.decode("utf-8").splitlines() if line.strip()]
        if data.get("append_done"):
            lines.append("[DONE]")
        raw = "".join(f"data: {line}\n\n" for line in lines).encode("utf-8")
        framing = "sse"
    frames: list[Any] = []
    if framing == "decoded_jsonl":
        for line in raw.decode("utf-8").splitlines():
            if line.strip():
                ((event_type, payload),) = json.loads(line).items()
                headers = {":event-type": event_type, ":message-type": "event", ":content-type": "application/json"}
                message = EventStreamMessage(headers=dict(headers), payload=json.dumps(payload).encode())
                frames.append(frame_of(message, plan.event_header))
    else:
        stray_as_data = getattr(plan, "stray_lines", "ignore") == "as_data"
        parser = SSEParser(stray_lines_as_data=stray_as_data) if framing == "sse" else EventStreamParser()
        if framing not in ("sse", "eventstream"):
            raise ValueError(f"{case.where}: unknown framing {framing!r}")
        for piece in _reads(raw, data.get("read_size")):
            frames.extend(parser.feed(piece))
        frames.extend(parser.close())
        if framing == "eventstream":  # normalised as the runtime's framer does it
            frames = [frame_of(message, plan.event_header) for message in frames]
    cut = int(data.get("truncate_last_events") or 0)
    return frames[: len(frames) - cut] if cut else frames


def _framing_for(name: str) -> str:
    for suffix, framing in ((".chunks.jsonl", "chunks_jsonl"), (".decoded.jsonl", "decoded_jsonl"),
                            (".eventstream", "eventstream")):
        if name.endswith(suffix):
            return framing
    return "sse"


def run_stream(case: Case) -> StreamRun:
    """Frame, decode (a fresh `plan.stream_decoder()`) and aggregate; an LLMError is kept, not raised."""
    run = StreamRun(StreamAggregator())
    decoder = load_plan(case.provider).stream_decoder()
    try:
        for frame in stream_frames(case):
            for chunk in decoder.feed(frame):
                run.aggregator.add(chunk)
        for chunk in decoder.close():
            run.aggregator.add(chunk)
        run.warnings = decoder.warnings
    except LLMError as exc:
        run.error = exc
    return run


# ---- comparison helpers ----------------------------------------------------------------------------------


def _dump(value: Any) -> str:
    try:
        return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False, default=repr)
    except TypeError:
        return repr(value)


def _same(actual: Any, expected: Any, case: Case, what: str) -> None:
    if actual == expected:
        return
    detail = ""
    if isinstance(actual, (dict, list)) and isinstance(expected, (dict, list)):
        detail = "\n" + "\n".join(_diff(actual, expected, ""))
    raise AssertionError(
        f"{case.where} ({case.id}): {what} differs{detail}\n  got:      {_dump(actual)[:4000]}"
        f"\n  expected: {_dump(expected)[:4000]}"
    )


def _diff(actual: Any, expected: Any, path: str) -> Iterator[str]:
    if isinstance(actual, dict) and isinstance(expected, dict):
        for key in sorted(set(actual) | set(expected), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in expected:
                yield f"  unexpected {where} = {_dump(actual[key])[:200]}"
            elif key not in actual:
                yield f"  missing    {where} (expected {_dump(expected[key])[:200]})"
            else:
                yield from _diff(actual[key], expected[key], where)
    elif isinstance(actual, list) and isinstance(expected, list) and len(actual) == len(expected):
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            yield from _diff(a, e, f"{path}[{index}]")
    elif actual != expected:
        yield f"  differs    {path or '<root>'}: {_dump(actual)[:200]} != {_dump(expected)[:200]}"


def _subset_problems(actual: Any, expected: Any, path: str) -> Iterator[str]:
    """Mappings in `expected` may leave keys out; everything else must be equal."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            yield f"  {path}: expected a mapping, got {_dump(actual)[:200]}"
            return
        for key, value in expected.items():
            if key not in actual:
                yield f"  {path}.{key}: missing"
            else:
                yield from _subset_problems(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            yield from _subset_problems(a, e, f"{path}[{index}]")
    elif actual != expected:
        yield f"  {path}: {_dump(actual)[:200]} != {_dump(expected)[:200]}"


_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _remove_path(data: Any, path: str, case: Case, missing_ok: bool = False) -> None:
    """Delete `a.b[2].c` from `data`; the path must exist (a stale `except` entry is an error) unless
    `missing_ok` (the rendered side of `body_recorded`, which need not send what the recording has)."""
    tokens = [int(index) if index else key for key, index in _TOKEN.findall(path)]
    node = data
    try:
        for token in tokens[:-1]:
            node = node[token]
        del node[tokens[-1]]
    except (KeyError, IndexError, TypeError):
        if missing_ok:
            return
        raise AssertionError(f"{case.where} ({case.id}): except path {path!r} is not in the recording") from None
