"""Runs in provisioned environments, through the whole app: the Argo CD sync of a pull
request preview provisions its Application once on the fake Argo CD, later runs of that
context reuse it, and a preview that turns Degraded ends its run in error with the reason."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from controller.settings import Settings
from tests.acceptance.helpers import (
    WEBHOOK_ENVIRON,
    config_status,
    copy_example_for_webhooks,
    point_routes_at,
)
from tests.support.fake_argocd import FakeArgoCD
from tests.support.server import RunningServer, running_server, serving
from tests.support.shop import ShopState, running_shop
from tests.support.waiting import eventually
from tests.support.webhooks import ARGOCD_HEADERS, argocd_body

pytestmark = pytest.mark.anyio
SettingsFor = Callable[..., Settings]
API_TOKEN = "argocd-api-token-for-environment-tests"
SHA_1 = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
SHA_2 = "2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e"


@dataclass
class Stack:
    server: RunningServer
    argocd: FakeArgoCD


@contextlib.asynccontextmanager
async def stack(tmp_path: Path, settings_for: SettingsFor) -> AsyncIterator[Stack]:
    argocd = FakeArgoCD(token=API_TOKEN)
    async with serving(argocd) as argocd_url, running_shop(ShopState()) as routes:
        config = copy_example_for_webhooks(tmp_path / "config")
        integration = config / "integrations" / "argocd-staging.yaml"
        integration.write_text(
            integration.read_text().replace("https://argocd.shop.internal", argocd_url)
        )
        point_routes_at(config / "environments" / "pr-preview.yaml", routes)
        settings = settings_for(str(config), poll=3600, runner_concurrency=2)
        environ = {**WEBHOOK_ENVIRON, "ARGOCD_TOKEN": API_TOKEN}
        async with running_server(settings, environ=environ) as server:
            await eventually(
                lambda: config_status(server), until=lambda s: s["applied"] is not None
            )
            yield Stack(server, argocd)
    assert argocd.violations == []


async def sync(stack: Stack, app: str, revision: str) -> int:
    answer = await stack.server.client.post(
        "/api/v1/webhooks/argocd", content=argocd_body(app, revision), headers=ARGOCD_HEADERS
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


async def test_a_preview_is_provisioned_once_and_reused_by_its_context(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    async with stack(tmp_path, settings_for) as s:
        first = await ended(s, await sync(s, "user-service-pr-123", SHA_1))
        assert first["state"] == "passed", first["message"]
        second = await ended(s, await sync(s, "user-service-pr-123", SHA_2))
        assert second["state"] == "passed", second["message"]
        assert s.argocd.created() == ["/api/v1/applications"]
        app = s.argocd.apps["user-service-pr-123"].document
        assert app["spec"]["destination"]["namespace"] == "review-pr-123"
        assert app["metadata"]["labels"]["meshgate.dev/context"] == "pr-123"
        (env,) = await environments(s)
        assert (env["context"], env["state"], env["application"], env["runs"]) == (
            "pr-123",
            "ready",
            "user-service-pr-123",
            [],
        )
        assert env["expires_at"] is not None
        assert env["ttl_minutes"] == 60


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
