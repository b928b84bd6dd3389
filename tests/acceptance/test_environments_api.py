"""``GET /api/v1/workspaces/{ws}/environments`` through the whole app."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from controller.models.environments import EnvironmentRequest
from controller.settings import Settings
from tests.support.config import EXAMPLE
from tests.support.server import running_server

pytestmark = pytest.mark.anyio
SettingsFor = Callable[..., Settings]


async def test_the_environments_of_a_workspace_are_listed(settings_for: SettingsFor) -> None:
    async with running_server(settings_for(str(EXAMPLE), poll=3600)) as server:
        empty = await server.client.get("/api/v1/workspaces/shop/environments")
        assert (empty.status_code, empty.json()) == (200, {"environments": []})
        now = datetime.now(UTC)
        request = EnvironmentRequest(
            workspace="shop",
            context="pr-7",
            template="pr-preview",
            provisioner="argocd",
            ttl_seconds=3600,
        )
        acquired = await server.controller.storage.acquire_environment(
            request, run_id=41, worker="w", now=now, lease_until=now + timedelta(minutes=5)
        )
        assert acquired.environment is not None
        listed = (await server.client.get("/api/v1/workspaces/shop/environments")).json()
        (env,) = listed["environments"]
        assert (env["id"], env["context"], env["state"], env["runs"]) == (
            acquired.environment.id,
            "pr-7",
            "provisioning",
            [41],
        )
        assert env["ttl_minutes"] == 60
        bad = await server.client.get("/api/v1/workspaces/shop/environments?active=maybe")
        assert bad.status_code == 400
        assert "active" in bad.json()["error"]["message"]
