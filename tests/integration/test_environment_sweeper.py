"""The sweeper with real storage and the fake Argo CD: expired environments are torn down
through the API, failed teardowns retried with backoff, orphans deleted after their grace,
and a workspace at its budget makes a run wait until an idle environment has gone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from controller.environments.argocd_provisioner import render_application
from controller.models.environments import Environment
from tests.support.environments import GRACE, Setup, environment_stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.anyio


async def use(s: Setup, context: str | None, run_id: int = 1) -> Environment:
    async with s.environments.held(run_id=run_id, template=s.template, context=context) as env:
        return env


async def test_an_expired_environment_is_deleted_through_the_api(tmp_path: Path) -> None:
    async with environment_stack(tmp_path) as s:
        env = await use(s, "pr-123")
        assert (env.application, env.integration, env.project) == (
            "user-service-pr-123",
            "argocd-staging",
            "previews",
        )
        assert env.routing == {
            "user-service": "http://user-service.review-pr-123.svc.cluster.local:8080",
            "product-service": "http://product-service.staging.svc.cluster.local:8080",
            "order-service": "http://order-service.staging.svc.cluster.local:8083",
        }
        assert await s.sweeper.sweep() == 0
        s.clock.advance(timedelta(minutes=59))
        assert await s.sweeper.sweep() == 0
        s.clock.advance(timedelta(minutes=2))
        assert await s.sweeper.sweep() == 1
        assert s.argocd.deleted() == ["/api/v1/applications/user-service-pr-123"]
        assert s.argocd.apps == {}
        gone = await s.environment("pr-123")
        assert (gone.state, gone.deleted_at is not None) == ("deleted", True)
        assert await s.sweeper.sweep() == 0


async def test_an_environment_of_one_run_goes_when_the_run_ends(tmp_path: Path) -> None:
    async with environment_stack(tmp_path) as s:
        env = await use(s, None, run_id=7)
        assert env.context == "run-7"
        gone = await eventually(
            lambda: s.environment("run-7"), until=lambda e: e.state == "deleted"
        )
        assert gone.application == "user-service-run-7"
        assert s.argocd.apps == {}


async def test_a_failed_teardown_is_retried_with_backoff(tmp_path: Path) -> None:
    async with environment_stack(tmp_path) as s:
        await use(s, "pr-5")
        s.clock.advance(timedelta(hours=2))
        s.argocd.unavailable = 10**6
        assert await s.sweeper.sweep() == 0
        failing = await s.environment("pr-5")
        assert (failing.state, failing.teardown_attempts) == ("deleting", 1)
        assert "teardown failed (attempt 1, next in 0:00:30)" in failing.message
        assert "503" in failing.message
        assert await s.sweeper.sweep() == 0, "not retried before its backoff"
        s.clock.advance(timedelta(seconds=31))
        assert await s.sweeper.sweep() == 0
        assert "next in 0:01:00" in (await s.environment("pr-5")).message
        s.argocd.unavailable = 0
        s.clock.advance(timedelta(seconds=61))
        assert await s.sweeper.sweep() == 1
        assert (await s.environment("pr-5")).state == "deleted"
        assert s.argocd.apps == {}


def labelled(s: Setup, context: str, *, age: timedelta, workspace: str = "shop") -> str:
    app: dict[str, Any] = render_application(s.template, context=context)
    app["metadata"]["labels"]["meshgate.dev/workspace"] = workspace
    created = datetime.now(UTC) - age
    app["metadata"]["creationTimestamp"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    s.argocd.put(app)
    return str(app["metadata"]["name"])


async def test_the_orphan_sweep_deletes_only_what_no_environment_owns(tmp_path: Path) -> None:
    async with environment_stack(tmp_path) as s:
        await use(s, "pr-1")
        orphan = labelled(s, "pr-2", age=GRACE + timedelta(minutes=1))
        young = labelled(s, "pr-3", age=timedelta(minutes=1))
        other_workspace = labelled(s, "pr-4", age=timedelta(days=1), workspace="bank")
        foreign = labelled(s, "pr-5", age=timedelta(days=1))
        del s.argocd.apps[foreign].document["metadata"]["labels"]["app.kubernetes.io/managed-by"]
        assert await s.sweeper.sweep_orphans() == 1
        assert s.argocd.deleted() == [f"/api/v1/applications/{orphan}"]
        assert await s.sweeper.sweep_orphans() == 0, "one being deleted is not asked again"
        kept = {"user-service-pr-1", young, other_workspace, foreign}
        assert set(s.argocd.apps) == kept | {orphan}


async def test_the_orphan_sweep_skips_an_argocd_it_cannot_reach(tmp_path: Path) -> None:
    async with environment_stack(tmp_path) as s:
        labelled(s, "pr-2", age=timedelta(days=1))
        s.argocd.unavailable = 1
        assert await s.sweeper.sweep_orphans() == 0
        assert await s.sweeper.sweep_orphans() == 1


async def test_a_run_past_the_budget_waits_until_an_idle_environment_is_gone(
    tmp_path: Path,
) -> None:
    async with environment_stack(tmp_path, budget=1) as s:
        await use(s, "pr-1")
        async with asyncio.timeout(30):
            env = await use(s, "pr-2", run_id=2)
        assert env.state == "ready"
        first = await s.environment("pr-1")
        assert (first.state, first.message) == ("deleted", "")
        assert sorted(s.argocd.apps) == ["user-service-pr-2"]
