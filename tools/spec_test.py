"""`vllora-llm spec test [PROVIDER|PATH ...]`: run the protocol tests written beside specs.

A spec's cases live in `<name>.tests.yaml` next to `<name>.yaml` (the case language is in
`protocol_cases.py` and specs/README.md). Each case is rendered or decoded with the spec's compiled plan and
compared with what the author expects; the report is a pass/fail table, then each failure's diff.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from . import protocol_tests as pt


@dataclass(slots=True)
class Outcome:
    case: pt.Case
    problem: str | None


def tests_file(spec_file: Path) -> Path:
    from vllora_llm.engine.registry import TESTS_SUFFIX

    return spec_file.with_name(spec_file.stem + TESTS_SUFFIX + spec_file.suffix)


def run_case(case: pt.Case) -> str | None:
    """None when the case passes, else what went wrong (a diff, an unexpected error)."""
    from vllora_llm.engine.errors import LLMError
    from vllora_llm.engine.registry import load_plan

    expect = case.expect
    try:
        if case.kind == "requests":
            if "error" in expect:
                try:
                    pt.render(case)
                except LLMError as error:
                    pt.check_error(error, expect["error"], case)
                    return None
                return "expected an error; the request was rendered"
            wire, warnings = pt.render(case)
            pt.check_wire(wire, expect, case)
            pt.check_warnings(warnings, expect.get("warnings") or [], case)
        elif case.kind == "responses":
            plan = load_plan(case.provider)
            status, headers, body = pt.response_input(case)
            if "expect_error" in case.data:
                try:
                    plan.decode(status, headers, body)
                except LLMError as error:
                    pt.check_error(error, case.data["expect_error"], case)
                    return None
                return "expected an error; the response decoded"
            pt.check_result(plan.decode(status, headers, body), expect, case)
        else:
            run = pt.run_stream(case)
            if "expect_error" in case.data:
                if run.error is None:
                    return f"expected an error; {run.chunks} chunks decoded"
                wanted = case.data["expect_error"]
                pt.check_error(run.error, wanted, case)
                if "after_chunks" in wanted and run.chunks != wanted["after_chunks"]:
                    return f"{run.chunks} chunks before the error, expected {wanted['after_chunks']}"
                if "partial" in wanted:
                    pt.check_result(run.aggregator.result(), wanted["partial"], case)
            elif run.error is not None:
                return f"unexpected {type(run.error).__name__}: {run.error}"
            else:
                pt.check_result(run.result(), expect, case)
                if "chunk_count" in expect and run.chunks != expect["chunk_count"]:
                    return f"{run.chunks} chunks, expected {expect['chunk_count']}"
    except AssertionError as failure:
        return str(failure) or "assertion failed"
    except LLMError as error:
        return f"unexpected {type(error).__name__}: {error}"
    return None


def collect(targets: list[str]) -> tuple[list[pt.Case], list[str]]:
    """The cases of the named providers / files (every spec on the search path with tests when none), and the
    problems met while reading them."""
    from vllora_llm.engine.registry import discover

    files = discover()
    chosen = [files[name] for name in sorted(files)] if not targets else []
    problems: list[str] = []
    for target in targets:
        if target in files:
            chosen.append(files[target])
        else:
            problems.append(f"no provider spec named {target!r}")
    cases: list[pt.Case] = []
    for entry in chosen:
        path = tests_file(entry.path)
        if not path.is_file():
            if targets:
                problems.append(f"{entry.display}: no protocol tests ({path.name} beside the spec)")
            continue
        try:
            cases += pt.load_spec_tests(path, entry.name, label=str(tests_file(Path(entry.display))))
        except ValueError as exc:
            problems.append(str(exc))
    return cases, problems


def run(targets: list[str]) -> int:
    cases, problems = collect(targets)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    outcomes = [Outcome(case, run_case(case)) for case in cases]
    width = max((len(o.case.id) for o in outcomes), default=4)
    print(f"{'case':<{width}}  {'kind':<9}  result")
    for outcome in outcomes:
        verdict = "PASS" if outcome.problem is None else "FAIL"
        print(f"{outcome.case.id:<{width}}  {outcome.case.kind:<9}  {verdict}")
    failed = [o for o in outcomes if o.problem is not None]
    for outcome in failed:
        print(f"\n--- {outcome.case.id} ({outcome.case.kind}, {outcome.case.where})\n{outcome.problem}")
    print(f"\n{len(outcomes) - len(failed)} passed, {len(failed)} failed", file=sys.stderr)
    return 1 if failed or problems or not outcomes else 0
