"""``GET /metrics`` through the whole app: webhook requests by outcome, runs and their
durations, stored counts (runs, deliveries, config revisions, environments), with labels
that never carry a repository, app or suite."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from controller.settings import Secret, Settings
from tests.acceptance.helpers import WEBHOOK_ENVIRON, config_status
from tests.support.config import EXAMPLE
from tests.support.server import running_server
from tests.support.shop import ShopState, running_shop
from tests.support.waiting import eventually
from tests.support.webhooks import FIXTURES, fixture_request

pytestmark = pytest.mark.anyio
API_TOKEN = "api-token-for-metrics-tests-3a7c"
SettingsFor = Callable[..., Settings]


def value(text: str, series: str) -> float:
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    assert found is not None, f"{series} not in the scrape"
    return float(found.group(1))


async def test_metrics_count_requests_runs_and_what_is_stored(settings_for: SettingsFor) -> None:
    settings = settings_for(
        str(EXAMPLE), poll=3600, runner_concurrency=1, api_tokens=(Secret(API_TOKEN),)
    )
    async with (
        running_shop(ShopState()) as routes,
        running_server(settings, environ=WEBHOOK_ENVIRON) as server,
    ):
        client = server.client
        await eventually(lambda: config_status(server), until=lambda s: s["applied"] is not None)
        headers, body = fixture_request(FIXTURES / "webhook-push-branch.headers.json")
        for _ in range(2):
            answer = await client.post("/api/v1/webhooks/gitea", content=body, headers=headers)
            assert answer.status_code in (200, 202)
        forged = {
            **headers,
            "X-Gitea-Signature": "0" * 64,
            "X-Hub-Signature-256": "sha256=" + "0" * 64,
        }
        refused = await client.post("/api/v1/webhooks/gitea", content=body, headers=forged)
        assert refused.status_code == 401
        created = await client.post(
            "/api/v1/workspaces/shop/suites/checkout-smoke/runs",
            headers={"Authorization": f"Bearer {API_TOKEN}"},
            json={"routes": routes},
        )
        run_id = created.json()["id"]
        await eventually(
            lambda: client.get(f"/api/v1/runs/{run_id}"),
            until=lambda r: r.json()["state"] == "passed",
            within=60,
        )
        scrape = await client.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    text = scrape.text
    requests = "meshgate_webhook_requests_total"
    assert value(text, f'{requests}{{outcome="accepted",source="gitea"}}') == 1
    assert value(text, f'{requests}{{outcome="duplicate",source="gitea"}}') == 1
    assert value(text, f'{requests}{{outcome="unauthenticated",source="gitea"}}') == 1
    assert value(text, 'meshgate_runs_finished_total{result="passed"}') == 1
    assert value(text, 'meshgate_run_duration_seconds_count{result="passed"}') == 1
    assert value(text, 'meshgate_step_duration_seconds_count{status="passed"}') >= 7
    assert value(text, 'meshgate_runs{state="passed"}') == 1
    assert value(text, 'meshgate_deliveries{source="gitea",trigger="true"}') == 1
    assert value(text, 'meshgate_config_revisions{outcome="applied"}') == 1
    assert "alice/demo" not in text
    assert "checkout-smoke" not in text
