"""Commit statuses end to end: webhooks in, runs against the loopback shop, statuses out to
the fake Gitea (every request checked against Gitea's OpenAPI document)."""

from __future__ import annotations

import asyncio
import contextlib
import json
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
    point_gitea_at,
    point_routes_at,
)
from tests.support.fake_gitea import FakeGitea
from tests.support.server import RunningServer, running_server, serving
from tests.support.shop import ShopState, running_shop
from tests.support.waiting import eventually
from tests.support.webhooks import ARGOCD_HEADERS, argocd_body, signed

pytestmark = pytest.mark.anyio
SettingsFor = Callable[..., Settings]
GITEA_TOKEN = "gitea-token-for-status-tests-5b7e1c"
PUBLIC_URL = "https://meshgate.test"
SHA_1 = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
SHA_2 = "2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e"
PUSH_CONTEXT = "meshgate/user-service-push"
SYNC_CONTEXT = "meshgate/checkout-smoke-staging"
REPO = "shop/user-service"


@dataclass
class Stack:
    server: RunningServer
    gitea: FakeGitea
    gitea_url: str
    shop: ShopState


def status_config(destination: Path, *, gitea_url: str, routes: dict[str, str]) -> Path:
    """The example repo with its Gitea integration on the fake (token from ``GITEA_TOKEN``)
    and its staging routes on the loopback shop."""
    config = copy_example_for_webhooks(destination)
    point_gitea_at(config, gitea_url)
    point_routes_at(config / "environments" / "staging.yaml", routes)
    return config


@contextlib.asynccontextmanager
async def stack(
    tmp_path: Path, settings_for: SettingsFor, *, gitea_token: str = GITEA_TOKEN, **extra: object
) -> AsyncIterator[Stack]:
    gitea = FakeGitea(token=gitea_token, repositories={REPO})
    shop = ShopState(api_key="shop-key-0123456789", gate=asyncio.Event())
    async with serving(gitea) as gitea_url, running_shop(shop) as routes:
        config = status_config(tmp_path / "config", gitea_url=gitea_url, routes=routes)
        settings = settings_for(
            str(config),
            poll=3600,
            runner_concurrency=2,
            status_concurrency=4,
            public_url=PUBLIC_URL,
            status_max_backoff=timedelta(seconds=1),
            **extra,
        )
        environ = {
            **WEBHOOK_ENVIRON,
            "SHOP_API_KEY": "shop-key-0123456789",
            "GITEA_TOKEN": GITEA_TOKEN,
        }
        async with running_server(settings, environ=environ) as server:
            await eventually(
                lambda: config_status(server), until=lambda s: s["applied"] is not None
            )
            yield Stack(server, gitea, gitea_url, shop)
    assert gitea.violations == []


def push_body(sha: str) -> bytes:
    return json.dumps(
        {
            "ref": "refs/heads/main",
            "before": "0" * 39 + "1",
            "after": sha,
            "repository": {
                "full_name": REPO,
                "clone_url": f"https://gitea.shop.internal/{REPO}.git",
            },
            "commits": [],
        }
    ).encode()


async def push(stack: Stack, sha: str) -> int:
    body = push_body(sha)
    answer = await stack.server.client.post(
        "/api/v1/webhooks/gitea", content=body, headers=signed(body)
    )
    assert answer.status_code == 202, answer.text
    listed = await stack.server.client.get(f"/api/v1/runs?delivery={answer.json()['delivery']}")
    (run,) = listed.json()["runs"]
    run_id: int = run["id"]
    return run_id


async def states(stack: Stack, sha: str, context: str, want: list[str], within: float = 30) -> None:
    async def probe() -> list[str]:
        return stack.gitea.statuses_of(REPO, sha, context)

    await eventually(probe, until=lambda got: got == want, within=within, what=f"statuses {want}")


async def sync(stack: Stack, repository: str, sha: str = SHA_2) -> None:
    """Send the TestMesh guide's Argo CD body for a sync of ``user-service``."""
    answer = await stack.server.client.post(
        "/api/v1/webhooks/argocd",
        content=argocd_body("user-service", sha, repository),
        headers=ARGOCD_HEADERS,
    )
    assert answer.status_code == 202, answer.text


async def run_detail(stack: Stack, run_id: int) -> dict[str, Any]:
    answer: dict[str, Any] = (await stack.server.client.get(f"/api/v1/runs/{run_id}")).json()
    return answer


async def test_a_gitea_push_posts_pending_then_success_with_a_working_link(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    async with stack(tmp_path, settings_for) as s:
        run_id = await push(s, SHA_1)
        await states(s, SHA_1, PUSH_CONTEXT, ["pending"])
        s.shop.gate.set()  # type: ignore[union-attr]
        await states(s, SHA_1, PUSH_CONTEXT, ["pending", "success"])
        pending, final = s.gitea.statuses[(REPO, SHA_1)]
        assert pending["description"] == f"Testing user-service-contract (run #{run_id})"
        assert final["description"].startswith("5/5 flows passed in ")
        assert final["target_url"] == f"{PUBLIC_URL}/runs/{run_id}"
        page = await s.server.client.get(final["target_url"].removeprefix(PUBLIC_URL))
        assert page.status_code == 200
        assert f"Run #{run_id}" in page.text
        assert "passed" in page.text
        detail = await run_detail(s, run_id)
        (entry,) = detail["statuses"]
        assert (entry["state"], entry["delivery"], entry["attempts"]) == ("success", "posted", 0)
    assert len(s.gitea.status_posts()) == 2


async def test_the_testmesh_argocd_body_posts_on_the_synced_revision(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    async with stack(tmp_path, settings_for) as s:
        await sync(s, f"{s.gitea_url}/{REPO}.git")
        await states(s, SHA_2, SYNC_CONTEXT, ["pending"])
        s.shop.gate.set()  # type: ignore[union-attr]
        await states(s, SHA_2, SYNC_CONTEXT, ["pending", "success"], within=60)
        final = s.gitea.latest(REPO, SHA_2, SYNC_CONTEXT)
        assert final is not None
        assert final["target_url"].startswith(f"{PUBLIC_URL}/runs/")


async def test_a_sync_that_maps_to_no_gitea_shows_why_on_the_run(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    async with stack(tmp_path, settings_for) as s:
        s.shop.gate.set()  # type: ignore[union-attr]
        await sync(s, "https://github.com/shop/user-service.git")
        (run,) = (await s.server.client.get("/api/v1/runs")).json()["runs"]
        assert run["status_problem"] == "no Gitea integration of this workspace serves github.com"
        await eventually(
            lambda: run_detail(s, run["id"]),
            until=lambda r: r["state"] in ("passed", "failed", "error"),
            within=60,
        )
    assert s.gitea.requests == []


async def test_a_gitea_outage_delays_the_final_status_but_loses_nothing(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    async with stack(tmp_path, settings_for) as s:
        run_id = await push(s, SHA_1)
        await states(s, SHA_1, PUSH_CONTEXT, ["pending"])
        s.gitea.fail(503, methods=("POST",))
        s.shop.gate.set()  # type: ignore[union-attr]
        await eventually(
            lambda: run_detail(s, run_id),
            until=lambda r: bool(r["statuses"]) and r["statuses"][0]["attempts"] >= 2,
            within=30,
            what="retries during the outage",
        )
        outage_ends = asyncio.get_running_loop().time() + 60
        second = await push(s, SHA_2)
        await asyncio.sleep(max(outage_ends - asyncio.get_running_loop().time(), 0))
        detail = await run_detail(s, run_id)
        (entry,) = detail["statuses"]
        assert (entry["state"], entry["delivery"]) == ("success", "pending")
        assert "503" in entry["last_error"]
        s.gitea.recover()
        await states(s, SHA_1, PUSH_CONTEXT, ["pending", "success"])
        await states(s, SHA_2, PUSH_CONTEXT, ["success"])
        rejected = [r for r in s.gitea.status_posts() if r.answered == 503]
        assert len(rejected) >= 10
        second_detail = await run_detail(s, second)
        assert second_detail["statuses"][0]["delivery"] == "posted"
    accepted = [r.body["state"] for r in s.gitea.status_posts() if r.answered == 201]
    assert sorted(accepted) == ["pending", "success", "success"]


async def test_a_refused_token_is_not_retried_and_the_run_shows_why(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    async with stack(tmp_path, settings_for, gitea_token="the-token-gitea-expects") as s:
        run_id = await push(s, SHA_1)
        s.shop.gate.set()  # type: ignore[union-attr]
        detail = await eventually(
            lambda: run_detail(s, run_id),
            until=lambda r: (
                bool(r["statuses"])
                and r["statuses"][0]["state"] == "success"
                and r["statuses"][0]["delivery"] == "dead"
            ),
            within=60,
            what="the final status dead-lettered",
        )
        (entry,) = detail["statuses"]
        assert "401" in entry["last_error"]
        assert "invalid username, password or token" in entry["last_error"]
        dead = (await s.server.client.get("/api/v1/statuses?delivery=dead")).json()["statuses"]
        assert [d["run"] for d in dead] == [run_id]
        page = await s.server.client.get(f"/runs/{run_id}")
        assert "invalid username, password or token" in page.text
        everything = json.dumps(detail) + json.dumps(dead) + page.text
        assert GITEA_TOKEN not in everything
    sent = [r.body["state"] for r in s.gitea.status_posts()]
    assert len(sent) == len(set(sent))  # each desired state tried once, never retried
    assert sent[-1] == "success"


async def test_a_slow_pending_post_leaves_the_final_state_on_top(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    async with stack(tmp_path, settings_for) as s:
        release = asyncio.Event()
        s.gitea.delay(
            30.0, lambda method, path, body: body.get("state") == "pending", release=release
        )
        run_id = await push(s, SHA_1)

        async def pending_in_flight() -> bool:
            return any(r.body.get("state") == "pending" for r in s.gitea.status_posts())

        await eventually(pending_in_flight, until=bool, what="the pending post at Gitea")
        s.shop.gate.set()  # type: ignore[union-attr]  # the run now ends while it is held
        await eventually(
            lambda: run_detail(s, run_id),
            until=lambda r: r["state"] == "passed",
            within=30,
            what="the run passed",
        )
        assert s.gitea.statuses_of(REPO, SHA_1) == []  # the pending is still held
        release.set()
        await states(s, SHA_1, PUSH_CONTEXT, ["pending", "success"], within=15)
        latest = s.gitea.latest(REPO, SHA_1, PUSH_CONTEXT)
        assert latest is not None
        assert latest["status"] == "success"


async def test_a_superseded_run_ends_its_status_as_error_naming_the_newer_commit(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    async with stack(tmp_path, settings_for) as s:
        first = await push(s, SHA_1)
        await states(s, SHA_1, PUSH_CONTEXT, ["pending"])
        await push(s, SHA_2)  # the same branch: the first run is superseded, held or not
        await states(s, SHA_1, PUSH_CONTEXT, ["pending", "error"], within=60)
        superseded = s.gitea.latest(REPO, SHA_1, PUSH_CONTEXT)
        assert superseded is not None
        assert superseded["description"] == f"superseded by {SHA_2[:8]}"
        s.shop.gate.set()  # type: ignore[union-attr]
        await states(s, SHA_2, PUSH_CONTEXT, ["pending", "success"], within=60)
        assert (await run_detail(s, first))["state"] == "superseded"


async def test_a_manual_run_posts_no_status(tmp_path: Path, settings_for: SettingsFor) -> None:
    token = "api-token-for-manual-status-tests-01"
    async with stack(tmp_path, settings_for, api_tokens=(Secret(token),)) as s:
        s.shop.gate.set()  # type: ignore[union-attr]
        created = await s.server.client.post(
            "/api/v1/workspaces/shop/suites/user-service-contract/runs",
            headers={"Authorization": f"Bearer {token}"},
            json={},
        )
        assert created.status_code == 201, created.text
        run = await eventually(
            lambda: run_detail(s, created.json()["id"]),
            until=lambda r: r["state"] in ("passed", "failed", "error"),
            within=60,
        )
        assert (run["status_target"], run["statuses"]) == (None, [])
        await s.server.controller.poster.drain()  # type: ignore[union-attr]
    assert s.gitea.requests == []
