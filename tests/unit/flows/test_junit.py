from __future__ import annotations

import xml.etree.ElementTree as ET

from controller.flows.junit import RunInfo, render_junit
from controller.flows.results import FlowResult, ResponseRecord, StepResult, SuiteResult


def suite(*flows: FlowResult) -> SuiteResult:
    return SuiteResult(
        suite="shop.v2",
        workspace="shop",
        status="failed",
        flows=flows,
        readiness=(),
        started_at="2026-12-01T10:15:02.123456Z",
        duration_ms=1234.6,
    )


def flow(
    name: str, *steps: StepResult, row: str | None = None, status: str = "failed"
) -> FlowResult:
    return FlowResult(
        flow=name,
        row=row,
        file=f"flows/{name}.yaml",
        status=status,  # type: ignore[arg-type]
        steps=steps,
        started_at="2026-12-01T10:15:03Z",
        duration_ms=500.0,
    )


def step(name: str, status: str, failure_type: str = "", message: str = "") -> StepResult:
    return StepResult(
        name=name,
        phase="steps",
        status=status,  # type: ignore[arg-type]
        failure_type=failure_type,
        message=message,
        duration_ms=250.0,
    )


def test_failures_errors_and_skips_map_to_their_elements() -> None:
    result = suite(
        flow(
            "order.flow",
            step("wrong answer", "failed", "AssertionFailed", "status: expected eq 201, got 500"),
            step("no answer", "error", "ConnectError", "cannot connect"),
            step("later", "skipped", message="not run: step 'no answer' did not pass"),
            row="eu.1",
        )
    )
    root = ET.fromstring(render_junit(result, RunInfo(run_id="7")))
    (testsuite,) = root.findall("testsuite")
    assert testsuite.get("name") == "shop.v2/order.flow[eu.1]"
    assert (
        testsuite.get("tests"),
        testsuite.get("failures"),
        testsuite.get("errors"),
        testsuite.get("skipped"),
    ) == (
        "3",
        "1",
        "1",
        "1",
    )
    cases = testsuite.findall("testcase")
    assert {c.get("classname") for c in cases} == {"shop_v2.order_flow[eu_1]"}
    assert [child.tag for c in cases for child in c] == ["failure", "error", "skipped"]
    assert cases[0].get("time") == "0.250"
    assert root.get("timestamp") == "2026-12-01T10:15:02"
    assert root.get("time") == "1.235"


def test_text_xml_cannot_hold_is_removed_so_the_report_parses() -> None:
    broken = StepResult(
        name="binary\x00 reply",
        phase="steps",
        status="failed",
        failure_type="AssertionFailed",
        message="got \x07bell",
        response=ResponseRecord(
            status=200,
            url="http://a",
            headers=(),
            body="\x00\x01{}",
            body_size=3,
            truncated=False,
            elapsed_ms=1,
        ),
    )
    root = ET.fromstring(render_junit(suite(flow("f", broken)), RunInfo(run_id="1")))
    case = root.find("./testsuite/testcase")
    assert case is not None
    assert case.get("name") == "binary reply"
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "got bell"


def test_flow_granularity_gives_one_case_per_flow_with_the_steps_inside() -> None:
    result = suite(
        flow("a", step("one", "passed"), status="passed"),
        flow(
            "b",
            step("one", "passed"),
            step("two", "failed", "PollTimeout", "gave up"),
            status="failed",
        ),
    )
    root = ET.fromstring(render_junit(result, RunInfo(run_id="1"), granularity="flow"))
    (testsuite,) = root.findall("testsuite")
    cases = testsuite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("shop_v2", "a"),
        ("shop_v2", "b"),
    ]
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("type") == "PollTimeout"
    assert "step two: failed (gave up)" in (failure.text or "")
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
