"""The conformance runner: every case in requests/, responses/ and streams/ (botocore protocol-test style).

Cases are data (see README.md in this folder); this file only runs them. Ids are `provider:case`;
`VLLORA_CASE=openai:tool_call` (comma-separated; a trailing `:` or `*` makes a prefix) runs just those.
"""

from __future__ import annotations

import pytest

from vllora_llm.engine.errors import LLMError
from vllora_llm.engine.registry import load_plan
from vllora_llm.tools.protocol_tests import (
    Case,
    check_error,
    check_result,
    check_warnings,
    check_wire,
    render,
    response_input,
    run_stream,
)

from ._support import params


@pytest.mark.parametrize("case", params("requests", beside_specs=False))  # (spec test runs the others)
def test_request(case: Case) -> None:
    """Unified request + spec → method, URL, headers, JSON body and warnings, or a typed error."""
    expect = case.expect
    if "error" in expect:
        with pytest.raises(LLMError) as caught:
            render(case)
        check_error(caught.value, expect["error"], case)
        return
    wire, warnings = render(case)
    check_wire(wire, expect, case)
    check_warnings(warnings, expect.get("warnings") or [], case)


@pytest.mark.parametrize("case", params("responses", beside_specs=False))  # (spec test runs the others)
def test_response(case: Case) -> None:
    """Provider status, headers and body → the unified response, or a typed error."""
    plan = load_plan(case.provider)
    status, headers, body = response_input(case)
    if "expect_error" in case.data:
        with pytest.raises(LLMError) as caught:
            plan.decode(status, headers, body)
        check_error(caught.value, case.data["expect_error"], case)
        return
    check_result(plan.decode(status, headers, body), case.expect, case)


@pytest.mark.parametrize("case", params("streams", beside_specs=False))  # (spec test runs the others)
def test_stream(case: Case) -> None:
    """A recorded wire stream → framed, decoded, aggregated into the expected message, or a StreamError."""
    run = run_stream(case)
    if "expect_error" in case.data:
        expect = case.data["expect_error"]
        assert run.error is not None, f"{case.where} ({case.id}): no error; {run.chunks} chunks decoded"
        check_error(run.error, expect, case)
        if "after_chunks" in expect:
            assert run.chunks == expect["after_chunks"], f"{case.where}: {run.chunks} chunks before the error"
        if "partial" in expect:
            check_result(run.aggregator.result(), expect["partial"], case)
        return
    if run.error is not None:
        raise AssertionError(f"{case.where} ({case.id}): unexpected {run.error!r}") from run.error
    check_result(run.result(), case.expect, case)
    if "chunk_count" in case.expect:
        assert run.chunks == case.expect["chunk_count"], f"{case.where} ({case.id}): {run.chunks} chunks"
