"""`spec validate`, second pass: the response and stream paths a spec declares, checked against the spec's own
samples (the bodies and streams of its protocol tests, `<name>.tests.yaml`).

A path that reads nothing from any sample of its kind, where the samples hold a key spelt almost like the
step the path misses (`$delta.mesage.content.text` on every `content-delta` event, whose `delta` has
`message`), is reported as a SPEC050 warning with the file:line:col of the reference and the path it probably
meant. A path whose missing step resembles nothing there is taken for an optional field the samples do not
show (cache counts, reasoning blocks), and nothing is said where the tests hold no sample of that event or
part kind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from vllora_llm.engine.paths import compile_getter, is_simple
from vllora_llm.engine.plan import Plan
from vllora_llm.engine.spec.diagnostics import Diagnostic, Diagnostics
from vllora_llm.engine.spec.loader import SourceDoc, format_path, load_text

from . import protocol_tests as pt

Where = tuple[str | int, ...]


def template_refs(template: Any, where: Where) -> Iterator[tuple[str, Where]]:
    """The `$path` references of a template (not `$$` literals, not the item itself), with their places."""
    if isinstance(template, str):
        if template.startswith("$") and not template.startswith("$$") and len(template) > 1:
            yield template[1:], where
    elif isinstance(template, Mapping):
        for key, value in template.items():
            if key != "$op":
                yield from template_refs(value, (*where, key))
    elif isinstance(template, list):
        for index, value in enumerate(template):
            yield from template_refs(value, (*where, index))


def _one_edit_apart(a: str, b: str) -> bool:
    """One letter added, removed, changed, or two neighbours swapped: the typos a similarity ratio misses
    on short keys (`txet` for `text`)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


def _guess(path: str, samples: list[Any]) -> str | None:
    """The path probably meant: the first step no sample has, replaced by a key spelt almost like it."""
    if not is_simple(path):
        return None
    steps = path.replace("[", ".[").split(".")
    for sample in samples:
        value, walked = sample, []
        for step in steps:
            if step.startswith("["):
                index = int(step[1:-1])
                value = value[index] if isinstance(value, list) and len(value) > index else None
            elif isinstance(value, Mapping) and step in value:
                value = value[step]
            elif isinstance(value, Mapping):
                keys = [str(k) for k in value]
                close = [k for k in keys if _one_edit_apart(step, k)] or get_close_matches(step, keys, n=1, cutoff=0.8)
                if close:
                    rest = steps[len(walked) + 1:]
                    return ".".join([*walked, close[0], *rest]).replace(".[", "[")
                break
            else:
                break
            walked.append(step)
    return None


class SampleCheck:
    """Collects SPEC050 for one spec file: `doc` is the file as written (its own references only)."""

    def __init__(self, doc: SourceDoc, tests_label: str, diags: Diagnostics) -> None:
        self.doc, self.tests_label, self.diags = doc, tests_label, diags

    def check(self, path: str, where: Where, samples: list[Any], what: str) -> None:
        if not samples:
            return
        getter = compile_getter(path)
        if any(getter(sample) not in (None, "", [], {}) for sample in samples):
            return
        guess = _guess(path, samples)
        if guess is None:
            return
        self.diags.add(
            self.doc.file, self.doc.mark(where), "SPEC050", format_path(where),
            f"`{path}` reads nothing from the {len(samples)} sample {what} in {self.tests_label}",
            hint=f"did you mean `{guess}`?", severity="WARNING",
        )


    def names(self, declared: Mapping[str, Any], seen: Mapping[str, list[Any]], where: Where, what: str) -> None:
        """SPEC051: a declared event name (part kind) that no sample has, where the samples have one a typo away
        (a letter added, dropped, changed, or two swapped: `content-delat` for `content-delta`): its events
        would go to `*`, or be dropped."""
        if not seen:
            return
        names = list(seen)
        for name in declared:
            if str(name) == "*" or str(name) in seen:
                continue
            close = [n for n in names if _one_edit_apart(str(name), n)]  # (a typo: distinct names such as
            # contentBlockStart / contentBlockStop are alike by ratio, and both real)
            if close:
                spot = (*where, name)
                self.diags.add(
                    self.doc.file, self.doc.mark(spot, key=True), "SPEC051", format_path(spot),
                    f"no {what} {str(name)!r} occurs in the samples of {self.tests_label}, which have "
                    f"{close[0]!r}", hint=f"did you mean {close[0]!r}?", severity="WARNING",
                )


def _event_name(frame: Any, payload: Any, event_type: Mapping[str, Any]) -> str:
    """The event's name as the spec reads it: a payload field, or the frame's own name (the SSE `event:` or
    the event-stream header), as the runtime's framers normalise it."""
    if event_type.get("from") == "field":
        return str(payload.get(event_type.get("name", "type"))) if isinstance(payload, Mapping) else ""
    return str(frame.name)


def _payload(frame: Any) -> Any:
    try:
        return json.loads(frame.payload)
    except ValueError:
        return None


def stream_samples(cases: list[pt.Case], event_type: Mapping[str, Any], plan: Any) -> dict[str, list[Any]]:
    by_event: dict[str, list[Any]] = {}
    for case in cases:
        if case.kind != "streams" or "expect_error" in case.data:
            continue
        for frame in pt.stream_frames(case, plan=plan):
            payload = _payload(frame)
            if payload is not None:
                by_event.setdefault(_event_name(frame, payload, event_type), []).append(payload)
    return by_event


def response_samples(cases: list[pt.Case]) -> list[Any]:
    bodies = []
    for case in cases:
        if case.kind == "responses" and "expect" in case.data:
            status, _, body = pt.response_input(case)
            if 200 <= status < 300:
                bodies.append(json.loads(body))
    return bodies


def check_stream(check: SampleCheck, own: Mapping[str, Any], merged: Mapping[str, Any], cases: list[pt.Case]) -> None:
    if own.get("extras"):
        stream = merged.get("stream") or {}
        every = [p for ps in stream_samples(cases, stream.get("event_type") or {}, Plan(merged)).values() for p in ps]
        for name, template in own["extras"].items():
            for path, spot in template_refs(template, ("stream", "extras", name)):
                check.check(path, spot, every, "stream events")
    events = own.get("events") or {}
    if not isinstance(events, Mapping) or not events:
        return
    stream = merged.get("stream") or {}
    samples = stream_samples(cases, stream.get("event_type") or {}, Plan(merged))
    check.names(events, samples, ("stream", "events"), "event")
    for name, mapping in events.items():
        where: Where = ("stream", "events", name)
        payloads = samples.get(str(name), [])
        switch_path = ((stream.get("events") or {}).get(name) or {}).get("switch") if isinstance(mapping, Mapping) \
            else None
        if switch_path and isinstance(mapping, Mapping):
            switch = compile_getter(str(switch_path))
            kinds: dict[str, list[Any]] = {}
            for payload in payloads:
                kinds.setdefault(str(switch(payload)), []).append(payload)
            check.names(mapping.get("cases") or {}, kinds, (*where, "cases"), f"`{name}` event of kind")
            for case_name, template in (mapping.get("cases") or {}).items():
                chosen = [p for p in payloads if str(switch(p)) == str(case_name)]
                for path, spot in template_refs(template, (*where, "cases", case_name)):
                    check.check(path, spot, chosen, f"`{name}` events of `{case_name}` kind")
        else:
            for path, spot in template_refs(mapping, where):
                check.check(path, spot, payloads, f"`{name}` events")


def _kind_of(part: Any, kind_by: Mapping[str, Any]) -> str | None:
    if not isinstance(part, Mapping):
        return None
    if "field" in kind_by:
        return str(part.get(kind_by["field"]))
    for key, kind in kind_by.get("present") or ():
        if key in part:
            return str(kind)
    return None


def check_response(check: SampleCheck, own: Mapping[str, Any], merged: Mapping[str, Any],
                   cases: list[pt.Case]) -> None:
    response = merged.get("response") or {}
    bodies = response_samples(cases)
    for name, template in (own.get("extras") or {}).items():
        for path, spot in template_refs(template, ("response", "extras", name)):
            check.check(path, spot, bodies, "responses")
    if response.get("mode") != "template":
        return
    for key in ("id", "model", "choices"):
        if isinstance(own.get(key), str):
            check.check(own[key], ("response", key), bodies, "responses")
    choices = [c for body in bodies for c in (compile_getter(response["choices"])(body) or [])] \
        if response.get("choices") else bodies
    if isinstance(own.get("parts"), str):
        check.check(own["parts"], ("response", "parts"), choices, "responses")
    finish = own.get("finish_reason") or {}
    if isinstance(finish, Mapping) and isinstance(finish.get("from"), str):
        check.check(finish["from"], ("response", "finish_reason", "from"), choices, "responses")
    for field, template in (own.get("usage") or {}).items():
        for path, spot in template_refs(template, ("response", "usage", field)):
            check.check(path, spot, bodies, "responses")
    parts_of = compile_getter(str(response.get("parts", "")))
    parts = [p for choice in choices for p in (parts_of(choice) or [])]
    kind_by = response.get("kind_by") or {}
    if "field" in kind_by:  # (`present` kinds are the spec's own names: SPEC045 checks them)
        seen: dict[str, list[Any]] = {}
        for part in parts:
            seen.setdefault(str(_kind_of(part, kind_by)), []).append(part)
        check.names(own.get("kinds") or {}, seen, ("response", "kinds"), "part kind")
    for kind, template in (own.get("kinds") or {}).items():
        of_kind = [p for p in parts if _kind_of(p, kind_by) == str(kind)]
        for path, spot in template_refs(template, ("response", "kinds", kind)):
            check.check(path, spot, of_kind, f"`{kind}` parts")


def sample_diagnostics(spec_file: Path, display: str, merged: Mapping[str, Any], tests_file: Path,
                       tests_label: str) -> list[Diagnostic]:
    """SPEC050 for the paths `spec_file` itself declares, against the samples of `tests_file`."""
    diags = Diagnostics()
    doc = load_text(spec_file.read_text(encoding="utf-8"), display, diags)
    if doc is None or not isinstance(doc.data, Mapping):
        return []
    try:
        cases = pt.load_spec_tests(tests_file, spec_file.stem, label=tests_label)
    except ValueError:
        return []  # `spec test` reports a malformed tests file
    check = SampleCheck(doc, tests_label, diags)
    if isinstance(doc.data.get("stream"), Mapping):
        check_stream(check, doc.data["stream"], merged, cases)
    if isinstance(doc.data.get("response"), Mapping):
        check_response(check, doc.data["response"], merged, cases)
    return diags.sorted()
