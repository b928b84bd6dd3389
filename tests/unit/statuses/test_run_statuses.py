"""What each state of a run shows in Gitea."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from controller.models.runs import Run, RunRequest, RunState
from controller.models.statuses import StatusTarget, run_rank
from controller.statuses.run_statuses import desired_for_run

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TARGET = StatusTarget("shop", "gitea", "shop/checkout", "a" * 40)
REQUEST = RunRequest(
    workspace="shop",
    suite="checkout-smoke",
    config_revision="r1",
    trigger_type="webhook",
    status_context="meshgate/checkout",
    status_target=TARGET,
)


def run(state: RunState, message: str = "", **extra: object) -> Run:
    return Run(
        id=12,
        request=REQUEST,
        delivery=3,
        state=state,
        created_at=T0,
        updated_at=T0,
        message=message,
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("state", ["queued", "running"])
def test_a_queued_or_running_run_shows_one_pending(state: RunState) -> None:
    status = desired_for_run(run(state), public_url="https://mg.example/")
    assert status is not None
    assert (status.state, status.description, status.target_url) == (
        "pending",
        "Testing checkout-smoke (run #12)",
        "https://mg.example/runs/12",
    )
    assert (status.context, status.target, status.rank) == (
        "meshgate/checkout",
        TARGET,
        run_rank(12, final=False),
    )


@pytest.mark.parametrize(
    ("state", "shown"),
    [("passed", "success"), ("failed", "failure"), ("error", "error"), ("cancelled", "error")],
)
def test_a_finished_run_shows_its_summary(state: RunState, shown: str) -> None:
    status = desired_for_run(run(state, "2 of 12 flows failed: pay"), public_url="http://mg")
    assert status is not None
    assert (status.state, status.description) == (shown, "2 of 12 flows failed: pay")
    assert status.rank == run_rank(12, final=True) > run_rank(12, final=False)


def test_a_superseded_run_names_the_commit_that_replaced_it() -> None:
    status = desired_for_run(
        run("superseded", superseded_by=13), public_url="http://mg", superseded_by_ref="b" * 40
    )
    assert status is not None
    assert (status.state, status.description) == ("error", "superseded by bbbbbbbb")


def test_a_run_without_a_target_posts_nothing() -> None:
    manual = dataclasses.replace(
        run("passed"), request=dataclasses.replace(REQUEST, status_target=None)
    )
    assert desired_for_run(manual, public_url="http://mg") is None


def test_the_default_context_is_meshgate_and_the_suite() -> None:
    plain = dataclasses.replace(
        run("queued"), request=dataclasses.replace(REQUEST, status_context=None)
    )
    status = desired_for_run(plain, public_url="http://mg")
    assert status is not None
    assert status.context == "meshgate/checkout-smoke"


def test_a_long_description_is_cut_for_gitea() -> None:
    status = desired_for_run(run("failed", "x" * 500), public_url="http://mg")
    assert status is not None
    assert len(status.description) == 140
