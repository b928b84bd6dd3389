"""Runs in provisioned environments, through the whole app: the Argo CD sync of a pull
request preview provisions its Application once on the fake Argo CD, later runs of that
context reuse it within the TTL, the sweeper deletes it after the TTL or when the pull request
closes, the orphan sweep deletes a labelled Application nobody owns, and a preview that turns
Degraded ends its run in error with the reason."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from controller.settings import Secret, Settings
from tests.acceptance.helpers import (
    WEBHOOK_ENVIRON,
    config_status,
    copy_example_for_webhooks,
    point_argocd_at,
    point_gitea_at,
    point_routes_at,
)
from tests.support.fake_argocd import FakeArgoCD
from tests.support.fake_gitea import FakeGitea
from tests.support.server import MovableClock, RunningServer, running_server, serving
from tests.support.shop import ShopState, running_shop
from tests.support.waiting import eventually
from tests.support.webhooks import ARGOCD_HEADERS, argocd_body, closed_pull_request

pytestmark = pytest.mark.anyio
SettingsFor = Callable[..., Settings]
API_TOKEN = "argocd-api-token-for-environment-tests"
GITEA_TOKEN = "gitea-token-for-environment-tests"
RUN_TOKEN = "api-token-for-manual-runs-in-environments"
SHA_1 = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
SHA_2 = "2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e"


@dataclass
class Stack:
    server: RunningServer
    argocd: FakeArgoCD
    gitea: FakeGitea
    gitea_url: str


@contextlib.asynccontextmanager
async def stack(
    tmp_path: Path,
    settings_for: SettingsFor,
    *,
    clock: MovableClock | None = None,
    argocd: FakeArgoCD | None = None,
    ttl_minutes: int = 60,
    **extra: object,
) -> AsyncIterator[Stack]:
    argocd = argocd or FakeArgoCD(token=API_TOKEN)
    gitea = FakeGitea(token=GITEA_TOKEN, repositories={"shop/user-service"})
    async with (
        serving(argocd) as argocd_url,
        serving(gitea) as gitea_url,
        running_shop(ShopState()) as routes,
    ):
        config = copy_example_for_webhooks(tmp_path / "config")
        point_gitea_at(config, gitea_url)
        point_argocd_at(config, argocd_url)
        template = config / "environments" / "pr-preview.yaml"
        point_routes_at(template, routes)
        template.write_text(
            template.read_text().replace("ttl_minutes: 60", f"ttl_minutes: {ttl_minutes}")
        )
        settings = settings_for(
            str(config),
            poll=3600,
            runner_concurrency=2,
            status_concurrency=2,
            api_tokens=(Secret(RUN_TOKEN),),
            **extra,
        )
        environ = {**WEBHOOK_ENVIRON, "ARGOCD_TOKEN": API_TOKEN, "GITEA_TOKEN": GITEA_TOKEN}
        async with running_server(settings, environ=environ, clock=clock) as server:
            await eventually(
                lambda: config_status(server), until=lambda s: s["applied"] is not None
            )
            yield Stack(server, argocd, gitea, gitea_url)
    assert argocd.violations == []
    assert gitea.violations == []


async def sync(stack: Stack, app: str, revision: str) -> int:
    body = argocd_body(app, revision, repository=f"{stack.gitea_url}/shop/user-service.git")
    answer = await stack.server.client.post(
        "/api/v1/webhooks/argocd", content=body, headers=ARGOCD_HEADERS
    )
    assert answer.status_code == 202, answer.text
    listed = await stack.server.client.get(f"/api/v1/runs?delivery={answer.json()['delivery']}")
    (run,) = listed.json()["runs"]
    run_id: int = run["id"]
    return run_id


async def ended(stack: Stack, run_id: int) -> dict[str, Any]:
    async def probe() -> dict[str, Any]:
        answer: dict[str, Any] = (await stack.server.client.get(f"/api/v1/runs/{run_id}")).json()
        return answer

    return await eventually(
        probe, until=lambda r: r["state"] in ("passed", "failed", "error"), within=60
    )


async def environments(stack: Stack) -> list[dict[str, Any]]:
    answer = await stack.server.client.get("/api/v1/workspaces/shop/environments")
    found: list[dict[str, Any]] = answer.json()["environments"]
    return found


async def test_a_degraded_preview_ends_the_run_in_error_with_the_reason(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    async with stack(tmp_path, settings_for) as s:
        s.argocd.degrade("user-service-pr-9")
        run = await ended(s, await sync(s, "user-service-pr-9", SHA_1))
        assert run["state"] == "error"
        assert "turned Degraded: Deployment exceeded its progress deadline" in run["message"]
        (env,) = await environments(s)
        assert (env["state"], env["runs"]) == ("failed", [])
        assert "Degraded" in env["message"]
        posted = await eventually(
            lambda: _statuses(s, SHA_1), until=lambda states: states[-1:] == ["error"]
        )
        assert posted == ["pending", "error"]


async def _statuses(stack: Stack, sha: str) -> list[str]:
    return stack.gitea.statuses_of("shop/user-service", sha, "meshgate/checkout-smoke")


async def test_a_manual_run_in_a_chosen_context_provisions_that_environment(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    async with stack(tmp_path, settings_for) as s:
        answer = await s.server.client.post(
            "/api/v1/workspaces/shop/suites/checkout-smoke/runs",
            json={"template": "pr-preview", "context": "pr-55"},
            headers={"Authorization": f"Bearer {RUN_TOKEN}"},
        )
        assert answer.status_code == 201, answer.text
        run = await ended(s, answer.json()["id"])
        assert (run["state"], run["context"]) == ("passed", "pr-55")
        env = await environment(s, "pr-55")
        assert (env["state"], env["application"], env["pull_request"]) == (
            "ready",
            "user-service-pr-55",
            None,
        )


async def environment(stack: Stack, context: str) -> dict[str, Any]:
    (found,) = [env for env in await environments(stack) if env["context"] == context]
    return found


async def test_a_preview_lives_through_its_ttl_and_is_then_deleted_through_argocd(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    clock = MovableClock()
    async with stack(
        tmp_path,
        settings_for,
        clock=clock,
        ttl_minutes=120,
        environment_sweep_interval=timedelta(seconds=1),
    ) as s:
        first = await ended(s, await sync(s, "user-service-pr-123", SHA_1))
        clock.advance(timedelta(hours=1))
        second = await ended(s, await sync(s, "user-service-pr-123", SHA_2))
        assert [first["state"], second["state"]] == ["passed", "passed"], second["message"]
        assert [first["context"], second["context"]] == ["pr-123", "pr-123"]
        assert s.argocd.created() == ["/api/v1/applications"]
        app = s.argocd.apps["user-service-pr-123"].document
        assert app["spec"]["destination"]["namespace"] == "review-pr-123"
        assert app["metadata"]["labels"]["meshgate.dev/context"] == "pr-123"
        env = await environment(s, "pr-123")
        assert (env["state"], env["application"], env["runs"], env["ttl_minutes"]) == (
            "ready",
            "user-service-pr-123",
            [],
            120,
        )
        assert env["pull_request"] == "shop/user-service#123"
        assert env["expires_at"] is not None
        clock.advance(timedelta(hours=2, minutes=1))
        gone = await eventually(
            lambda: environment(s, "pr-123"), until=lambda e: e["state"] == "deleted"
        )
        assert gone["deleted_at"] is not None
        assert s.argocd.deleted() == ["/api/v1/applications/user-service-pr-123"]
        assert s.argocd.apps == {}


async def test_closing_the_pull_request_tears_its_preview_down(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    async with stack(tmp_path, settings_for) as s:
        run = await ended(s, await sync(s, "user-service-pr-123", SHA_1))
        assert run["state"] == "passed", run["message"]
        other = await ended(s, await sync(s, "user-service-pr-124", SHA_2))
        assert other["state"] == "passed", other["message"]
        body, headers = closed_pull_request("shop/user-service", 123)
        answer = await s.server.client.post("/api/v1/webhooks/gitea", content=body, headers=headers)
        assert answer.status_code == 202, answer.text
        delivery = (
            await s.server.client.get(f"/api/v1/deliveries/{answer.json()['delivery']}")
        ).json()
        assert "closes the environments of shop/user-service#123" in delivery["match"]["summary"]
        await eventually(lambda: environment(s, "pr-123"), until=lambda e: e["state"] == "deleted")
        assert sorted(s.argocd.apps) == ["user-service-pr-124"]
        assert (await environment(s, "pr-124"))["state"] == "ready"


async def test_the_orphan_sweep_deletes_a_labelled_application_nobody_owns(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    argocd = FakeArgoCD(token=API_TOKEN)
    leftover = {
        "metadata": {
            "name": "user-service-pr-77",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {
                "app.kubernetes.io/managed-by": "meshgate",
                "meshgate.dev/workspace": "shop",
                "meshgate.dev/context": "pr-77",
            },
        },
        "spec": {"project": "previews", "destination": {"namespace": "review-pr-77"}},
    }
    someone_elses = {
        "metadata": {"name": "user-service", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"project": "default"},
    }
    argocd.put(leftover)
    argocd.put(someone_elses)
    async with stack(
        tmp_path, settings_for, argocd=argocd, orphan_sweep_interval=timedelta(seconds=1)
    ) as s:
        await eventually(lambda: _apps(s), until=lambda names: "user-service-pr-77" not in names)
        assert s.argocd.deleted() == ["/api/v1/applications/user-service-pr-77"]
        assert sorted(s.argocd.apps) == ["user-service"]


async def _apps(stack: Stack) -> list[str]:
    return sorted(stack.argocd.apps)
