"""The dashboard's other pages through the whole app: runs filtered and paged, a suite's
chart, deliveries with why each rule matched or not, environments, config status, and the
banner every page shows while the latest config revision is invalid."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from controller.settings import Secret, Settings
from tests.acceptance.helpers import WEBHOOK_ENVIRON, config_status, copy_example_for_webhooks
from tests.support.server import running_server
from tests.support.shop import ShopState, running_shop
from tests.support.waiting import eventually
from tests.support.webhooks import FIXTURES, fixture_request

pytestmark = pytest.mark.anyio
API_TOKEN = "api-token-for-dashboard-tests-9c2d"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
SettingsFor = Callable[..., Settings]


async def test_history_pages_show_runs_suites_deliveries_environments_and_config(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    config = copy_example_for_webhooks(tmp_path / "config")
    settings = settings_for(
        str(config), poll=3600, runner_concurrency=2, api_tokens=(Secret(API_TOKEN),)
    )
    shop = ShopState(polls_until_final=0, final_status="REJECTED")
    async with (
        running_shop(shop) as routes,
        running_server(settings, environ={**WEBHOOK_ENVIRON, "SHOP_API_KEY": "k"}) as server,
    ):
        client = server.client
        await eventually(lambda: config_status(server), until=lambda s: s["applied"] is not None)
        ids = []
        for suite in ("checkout-smoke", "checkout-smoke", "user-service-contract"):
            created = await client.post(
                f"/api/v1/workspaces/shop/suites/{suite}/runs",
                headers=AUTH,
                json={"routes": routes, "context": "pr-7"} if suite == "checkout-smoke" else {},
            )
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])

        async def all_ended() -> list[str]:
            runs = [(await client.get(f"/api/v1/runs/{n}")).json() for n in ids]
            return [run["state"] for run in runs]

        await eventually(
            all_ended,
            until=lambda states: all(s in ("passed", "failed", "error") for s in states),
            within=60,
        )
        headers, body = fixture_request(FIXTURES / "webhook-push-branch.headers.json")
        delivered = await client.post("/api/v1/webhooks/gitea", content=body, headers=headers)
        assert delivered.status_code == 202, delivered.text

        home = await client.get("/")
        assert home.status_code == 200
        for run_id in ids:
            assert f'href="/runs/{run_id}"' in home.text
        failed = await client.get("/runs?state=failed&suite=checkout-smoke")
        shown = set(map(int, re.findall(r'href="/runs/(\d+)">#', failed.text)))
        assert shown == set(ids[:2])
        bad = await client.get("/runs?state=exploded")
        assert bad.status_code == 400
        assert "text/html" in bad.headers["content-type"]
        assert "must be one of: queued, running" in bad.text

        suite_page = await client.get("/suites/shop/checkout-smoke")
        assert suite_page.status_code == 200
        assert len(re.findall(r'<rect class="bar failed"', suite_page.text)) == 2
        assert "0 passed" in suite_page.text

        deliveries = await client.get("/deliveries")
        (delivery_id,) = re.findall(r'href="/deliveries/(\d+)"', deliveries.text)
        detail = await client.get(f"/deliveries/{delivery_id}")
        assert detail.status_code == 200
        assert "user-service-push" in detail.text
        assert "not matched" in detail.text
        assert "<code>shop/user-service</code> vs <code>alice/demo</code>" in detail.text

        environments = await client.get("/environments")
        assert environments.status_code == 200
        assert "pr-7" in environments.text
        assert re.search(r"in (59|60)m", environments.text), "a TTL countdown"

        config_page = await client.get("/config")
        assert "valid" in config_page.text
        assert 'class="banner"' not in config_page.text

        (config / "rules" / "broken.yaml").write_text("kind: TriggerRule\nspec: [\n")
        await server.controller.sync.refresh(reason="test")
        bannered = await client.get("/runs")
        assert 'class="banner"' in bannered.text
        assert "is invalid" in bannered.text
        problems = await client.get("/config")
        assert "broken.yaml" in problems.text
