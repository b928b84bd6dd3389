"""The example config repo's suites, run by the engine against the loopback shop stand-ins."""

from __future__ import annotations

import pytest

from controller.flows import SuiteResult
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
