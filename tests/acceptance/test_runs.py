"""Queued runs executed by the server: the example suites against the loopback shop, their
evidence and JUnit through the API, and secrets kept out of the database."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from controller.settings import Secret, Settings
from tests.acceptance.helpers import (
    WEBHOOK_ENVIRON,
    config_status,
    copy_example_for_webhooks,
    point_routes_at,
)
from tests.support.config import EXAMPLE
from tests.support.server import RunningServer, running_server
from tests.support.shop import ShopState, running_shop
from tests.support.waiting import eventually
from tests.support.webhooks import signed

pytestmark = pytest.mark.anyio
API_TOKEN = "api-token-for-run-tests-0123456789"
API_KEY = "shop-api-key-that-must-never-be-stored-42"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
SHA = "3b1f0e2c9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c"
SettingsFor = Callable[..., Settings]


async def finished(server: RunningServer, run_id: int) -> dict[str, Any]:
    async def probe() -> dict[str, Any]:
        answer: dict[str, Any] = (await server.client.get(f"/api/v1/runs/{run_id}")).json()
        return answer

    return await eventually(
        probe,
        until=lambda run: run["state"] in ("passed", "failed", "error"),
        within=60,
        what="run end",
    )


async def start_run(server: RunningServer, suite: str, routes: dict[str, str]) -> int:
    created = await server.client.post(
        f"/api/v1/workspaces/shop/suites/{suite}/runs", headers=AUTH, json={"routes": routes}
    )
    assert created.status_code == 201, created.text
    run_id: int = created.json()["id"]
    return run_id


def server_settings(settings_for: SettingsFor) -> Settings:
    return settings_for(
        str(EXAMPLE), poll=3600, runner_concurrency=2, api_tokens=(Secret(API_TOKEN),)
    )


async def test_a_queued_checkout_smoke_run_passes_against_the_shop(
    settings_for: SettingsFor,
) -> None:
    async with (
        running_shop(ShopState()) as routes,
        running_server(server_settings(settings_for)) as server,
    ):
        await eventually(lambda: config_status(server), until=lambda s: s["applied"] is not None)
        run = await finished(server, await start_run(server, "checkout-smoke", routes))
        junit = await server.client.get(f"/api/v1/runs/{run['id']}/junit.xml")
    assert run["state"] == "passed", run["message"]
    assert run["message"].startswith("3/3 flows passed in ")
    assert (run["attempt"], run["started_at"] is not None, run["finished_at"] is not None) == (
        1,
        True,
        True,
    )
    (attempt,) = run["attempts"]
    assert (attempt["attempt"], attempt["outcome"], attempt["note"]) == (1, "finished", "passed")
    assert attempt["owner"] == server.controller.owner
    result = run["result"]
    assert [(f["label"], f["status"]) for f in result["flows"]] == [
        ("user-signup", "passed"),
        ("catalog-browse", "passed"),
        ("place-order", "passed"),
    ]
    assert result["routes"]["order-service"] == f"under_test:{routes['order-service']}"
    assert junit.status_code == 200
    assert junit.headers["content-type"] == "application/xml"
    assert ET.fromstring(junit.content).get("failures") == "0"


async def test_a_broken_service_fails_the_run_with_the_exact_check_in_api_and_junit(
    settings_for: SettingsFor,
) -> None:
    async with (
        running_shop(ShopState(polls_until_final=0, final_status="REJECTED")) as routes,
        running_server(server_settings(settings_for)) as server,
    ):
        await eventually(lambda: config_status(server), until=lambda s: s["applied"] is not None)
        run = await finished(server, await start_run(server, "checkout-smoke", routes))
        junit = (await server.client.get(f"/api/v1/runs/{run['id']}/junit.xml")).content
    assert (run["state"], run["message"]) == ("failed", "1 of 3 flows failed: place-order")
    place_order = run["result"]["flows"][2]
    step = next(s for s in place_order["steps"] if s["name"] == "order is confirmed")
    assert (step["status"], step["failure_type"]) == ("failed", "AssertionFailed")
    failing = [c for c in step["checks"] if not c["passed"]]
    assert failing == [
        {
            "selector": "json $.status",
            "operator": "eq",
            "expected": "CONFIRMED",
            "actual": "REJECTED",
            "passed": False,
            "message": 'json $.status: expected eq "CONFIRMED", got "REJECTED"',
        }
    ]
    assert step["response"]["status"] == 200
    assert '"status":"REJECTED"' in step["response"]["body"].replace(" ", "")
    failures = ET.fromstring(junit).findall(".//failure")
    assert len(failures) == 1
    assert (
        failures[0]
        .get("message", "")
        .startswith(
            'json $.status: expected eq "CONFIRMED", got "REJECTED" (poll stopped after 1 attempt,'
        )
    )


async def test_a_suite_secret_is_used_but_never_stored_or_shown(
    settings_for: SettingsFor, tmp_path: Path
) -> None:
    state = ShopState(api_key=API_KEY)
    settings = server_settings(settings_for)
    async with (
        running_shop(state) as routes,
        running_server(settings, environ={"SHOP_API_KEY": API_KEY}) as server,
    ):
        await eventually(lambda: config_status(server), until=lambda s: s["applied"] is not None)
        run_id = await start_run(
            server, "user-service-contract", {"user-service": routes["user-service"]}
        )
        run = await finished(server, run_id)
        answers = [
            (await server.client.get(path)).text
            for path in (
                f"/api/v1/runs/{run_id}",
                f"/api/v1/runs/{run_id}/junit.xml",
                "/api/v1/runs",
            )
        ]
    assert run["state"] == "passed", run["message"]
    assert any(headers.get("x-api-key") == API_KEY for headers in state.seen_headers)
    for answer in answers:
        assert API_KEY not in answer
    stored = b"".join(path.read_bytes() for path in settings.data_dir.glob("meshgate.db*"))
    assert API_KEY.encode() not in stored
    assert b"x-api-key" in stored.lower() or b"X-Api-Key" in stored


async def test_a_run_that_cannot_start_ends_in_error_with_the_reason(
    settings_for: SettingsFor,
) -> None:
    async with running_server(server_settings(settings_for), environ={}) as server:
        await eventually(lambda: config_status(server), until=lambda s: s["applied"] is not None)
        run = await finished(
            server,
            await start_run(
                server, "user-service-contract", {"user-service": "http://127.0.0.1:9"}
            ),
        )
    assert run["state"] == "error"
    assert (
        run["message"]
        == "could not start: secret 'api_key' (env SHOP_API_KEY): env SHOP_API_KEY is not set"
    )


async def test_a_gitea_push_is_tested_end_to_end(settings_for: SettingsFor, tmp_path: Path) -> None:
    """Push → delivery → matched rule → queued run → executed against the staging routes."""
    config = copy_example_for_webhooks(tmp_path / "config")
    state = ShopState(api_key=API_KEY)
    body = json.dumps(
        {
            "ref": "refs/heads/main",
            "before": "0" * 39 + "1",
            "after": SHA,
            "repository": {
                "full_name": "shop/user-service",
                "clone_url": "https://gitea.shop.internal/shop/user-service.git",
            },
            "commits": [],
        }
    ).encode()
    async with running_shop(state) as routes:
        point_routes_at(config / "environments" / "staging.yaml", routes)
        settings = settings_for(str(config), poll=3600, runner_concurrency=2)
        environ = {**WEBHOOK_ENVIRON, "SHOP_API_KEY": API_KEY}
        async with running_server(settings, environ=environ) as server:
            await eventually(
                lambda: config_status(server), until=lambda s: s["applied"] is not None
            )
            answer = await server.client.post(
                "/api/v1/webhooks/gitea", content=body, headers=signed(body)
            )
            assert answer.status_code == 202, answer.text
            delivery = answer.json()["delivery"]
            listed = await server.client.get(f"/api/v1/runs?delivery={delivery}")
            (queued,) = listed.json()["runs"]
            run = await finished(server, queued["id"])
    assert (run["state"], run["trigger_type"], run["trigger_ref"]) == ("passed", "webhook", SHA)
    assert (run["rule"], run["suite"]) == ("user-service-push", "user-service-contract")
    assert run["message"].startswith("5/5 flows passed in ")
    assert ("user-service", "POST", "/api/users") in state.requests
