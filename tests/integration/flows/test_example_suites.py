"""The example config repo's suites, run by the engine against the loopback shop stand-ins."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from controller.flows import SuiteResult
from controller.flows.junit import RunInfo, render_junit
from tests.integration.flows.helpers import run_example
from tests.support.config import example_snapshot
from tests.support.shop import ShopState, running_shop

pytestmark = pytest.mark.anyio


def statuses(result: SuiteResult) -> dict[str, str]:
    return {flow.label: flow.status for flow in result.flows}


async def test_checkout_smoke_passes_against_a_healthy_shop() -> None:
    state = ShopState(polls_until_final=2)
    async with running_shop(state) as routes:
        result = await run_example(example_snapshot(), "checkout-smoke", routes)
    assert result.status == "passed", result.to_dict()
    assert statuses(result) == {
        "user-signup": "passed",
        "catalog-browse": "passed",
        "place-order": "passed",
    }
    assert [gate.status for gate in result.readiness] == ["passed"] * 3
    place_order = result.flows[2]
    confirmed = next(s for s in place_order.steps if s.name == "order is confirmed")
    assert [a.outcome for a in confirmed.attempts] == ["not yet", "not yet", "until satisfied"]
    assert [s.phase for s in place_order.steps[-2:]] == ["finally", "finally"]
    assert all(s.status == "passed" for s in place_order.steps)
    assert state.orders == {}
    assert state.users == {}


async def test_a_rejected_order_fails_at_once_with_the_exact_check() -> None:
    state = ShopState(polls_until_final=1, final_status="REJECTED")
    async with running_shop(state) as routes:
        result = await run_example(example_snapshot(), "checkout-smoke", routes)
    assert result.status == "failed"
    place_order = result.flows[2]
    assert place_order.status == "failed"
    confirmed = next(s for s in place_order.steps if s.name == "order is confirmed")
    assert (confirmed.status, confirmed.failure_type) == ("failed", "AssertionFailed")
    assert confirmed.message.startswith(
        'json $.status: expected eq "CONFIRMED", got "REJECTED" (poll stopped after 2 attempts'
    )
    failed = [c for c in confirmed.checks if not c.passed]
    assert [(c.selector, c.operator, c.expected, c.actual) for c in failed] == [
        ("json $.status", "eq", "CONFIRMED", "REJECTED")
    ]
    cleanup = [s for s in place_order.steps if s.phase == "finally"]
    assert [s.status for s in cleanup] == ["passed", "passed"]


async def test_junit_of_a_failed_run_parses_and_counts_consistently() -> None:
    state = ShopState(polls_until_final=1, final_status="REJECTED")
    async with running_shop(state) as routes:
        result = await run_example(example_snapshot(), "checkout-smoke", routes)
    document = render_junit(result, RunInfo(run_id="42", environment="staging"))
    root = ET.fromstring(document)
    assert root.tag == "testsuites"
    assert root.get("name") == "checkout-smoke@staging run 42"
    cases = root.findall("./testsuite/testcase")
    assert int(root.get("tests", "0")) == len(cases) == 3 + 3 + 2 + 6
    assert (root.get("failures"), root.get("errors"), root.get("skipped")) == ("1", "0", "0")
    (failed,) = [c for c in cases if c.find("failure") is not None]
    failure = failed.find("failure")
    assert failure is not None
    assert (failed.get("classname"), failed.get("name")) == (
        "checkout-smoke.place-order",
        "order is confirmed",
    )
    assert failed.get("file") == "flows/checkout-smoke/place-order.flow.yaml"
    assert failure.get("type") == "AssertionFailed"
    assert (failure.get("message") or "").startswith(
        'json $.status: expected eq "CONFIRMED", got "REJECTED"'
    )
    assert "failed checks:\n  - json $.status: expected eq" in (failure.text or "")
    finally_names = [c.get("name") for c in cases if (c.get("name") or "").startswith("(finally) ")]
    assert finally_names == [
        "(finally) delete the signed-up user",
        "(finally) cancel the order if one was placed",
        "(finally) delete the customer",
    ]
    timestamps = [s.get("timestamp") for s in root.findall("testsuite")]
    assert all(t and len(t) == 19 and not t.endswith("Z") for t in timestamps)
    flows = root.findall("testsuite")
    assert [s.get("name") for s in flows] == [
        "checkout-smoke/(readiness)",
        "checkout-smoke/user-signup",
        "checkout-smoke/catalog-browse",
        "checkout-smoke/place-order",
    ]
    properties = {p.get("name"): p.get("value") for p in flows[3].iter("property")}
    assert properties["route.order-service"] == f"under_test:{routes['order-service']}"
