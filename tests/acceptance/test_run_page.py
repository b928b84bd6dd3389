"""The run page, through the whole app: a failed run shows its failing check with the
evidence (and no secret), a running run's steps appear as they finish, and the re-run form
needs an API token and the page's CSRF cookie."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from controller.settings import Secret, Settings
from tests.acceptance.helpers import applied, config_status, publish_example
from tests.support.config import EXAMPLE
from tests.support.git_server import GitServer, WorkRepo
from tests.support.server import RunningServer, running_server
from tests.support.shop import ShopState, running_shop
from tests.support.waiting import eventually

pytestmark = pytest.mark.anyio
API_TOKEN = "api-token-for-run-page-tests-5f1e"
API_KEY = "shop-api-key-never-on-a-page-77"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
SettingsFor = Callable[..., Settings]


@dataclass
class Stack:
    server: RunningServer
    routes: dict[str, str]

    @property
    def client(self) -> httpx.AsyncClient:
        return self.server.client

    async def start(self) -> int:
        created = await self.client.post(
            "/api/v1/workspaces/shop/suites/checkout-smoke/runs",
            headers=AUTH,
            json={"routes": self.routes},
        )
        assert created.status_code == 201, created.text
        run_id: int = created.json()["id"]
        return run_id

    async def ended(self, run_id: int) -> dict[str, object]:
        async def probe() -> dict[str, object]:
            answer: dict[str, object] = (await self.client.get(f"/api/v1/runs/{run_id}")).json()
            return answer

        return await eventually(
            probe, until=lambda r: r["state"] in ("passed", "failed", "error"), within=60
        )


@contextlib.asynccontextmanager
async def stack(settings_for: SettingsFor, shop: ShopState) -> AsyncIterator[Stack]:
    settings = settings_for(
        str(EXAMPLE), poll=3600, runner_concurrency=2, api_tokens=(Secret(API_TOKEN),)
    )
    async with (
        running_shop(shop) as routes,
        running_server(settings, environ={"SHOP_API_KEY": API_KEY}) as server,
    ):
        await eventually(lambda: config_status(server), until=lambda s: s["applied"] is not None)
        yield Stack(server, routes)


async def test_a_failed_run_page_shows_the_failing_check_and_its_evidence(
    settings_for: SettingsFor,
) -> None:
    shop = ShopState(api_key=API_KEY, polls_until_final=0, final_status="REJECTED")
    async with stack(settings_for, shop) as s:
        run_id = await s.start()
        assert (await s.ended(run_id))["state"] == "failed"
        page = await s.client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert f"Run #{run_id} · shop/checkout-smoke" in html
    assert '<span class="state failed" id="run-state">failed</span>' in html
    assert "1 of 3 flows failed: place-order" in html
    failing = re.search(r'<tr class="check-failed">(.*?)</tr>', html, re.S)
    assert failing is not None
    assert "$.status" in failing.group(1)
    assert "&#34;CONFIRMED&#34;" in failing.group(1)
    assert "&#34;REJECTED&#34;" in failing.group(1)
    assert "order is confirmed" in html
    assert f'href="/api/v1/runs/{run_id}/junit.xml"' in html
    assert 'action="/runs/' in html
    assert "live-run.js" not in html, "an ended run's page does not poll"
    assert API_KEY not in html
    assert "meshgate_csrf" in page.headers["set-cookie"]


async def test_a_running_run_shows_its_steps_as_they_finish(settings_for: SettingsFor) -> None:
    async with stack(settings_for, ShopState(api_key=API_KEY, polls_until_final=6)) as s:
        run_id = await s.start()
        page = await eventually(
            lambda: s.client.get(f"/runs/{run_id}"),
            until=lambda p: 'id="run-state">running' in p.text,
        )
        assert 'data-live="true"' in page.text
        assert "/static/live-run.js" in page.text
        script = await s.client.get("/static/live-run.js")
        assert script.status_code == 200
        assert "/runs/${run}/flows" in script.text
        midway = await eventually(
            lambda: s.client.get(f"/runs/{run_id}/flows"),
            until=lambda f: "place order" in f.text,
            within=20,
        )
        assert (midway.headers["x-run-state"], midway.headers["x-run-ended"]) == (
            "running",
            "false",
        )
        assert '<span class="state running">running</span> place-order' in midway.text
        done = await eventually(
            lambda: s.client.get(f"/runs/{run_id}/flows"),
            until=lambda f: f.headers["x-run-ended"] == "true",
            within=60,
        )
        assert done.headers["x-run-state"] == "passed"
        assert '<span class="state passed">passed</span> place-order' in done.text


async def test_a_rerun_from_the_page_needs_the_api_token_and_the_page_cookie(
    settings_for: SettingsFor,
) -> None:
    shop = ShopState(api_key=API_KEY)
    async with stack(settings_for, shop) as s:
        run_id = await s.start()
        assert (await s.ended(run_id))["state"] == "passed"
        page = await s.client.get(f"/runs/{run_id}")
        match = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert match is not None
        csrf = match.group(1)
        form = {"csrf": csrf, "revision": "same", "token": API_TOKEN}
        s.client.cookies.clear()
        stale = await s.client.post(f"/runs/{run_id}/rerun", data=form)
        assert stale.status_code == 403
        assert "reload the page" in stale.text
        s.client.cookies.set("meshgate_csrf", csrf)
        wrong = await s.client.post(f"/runs/{run_id}/rerun", data={**form, "token": "nope"})
        assert wrong.status_code == 401
        assert "API token" in wrong.text
        again = await s.client.post(f"/runs/{run_id}/rerun", data=form)
        assert again.status_code == 303
        location = again.headers["location"]
        new_id = int(location.rsplit("/", 1)[1])
        rerun = await s.ended(new_id)
        assert (rerun["state"], rerun["rerun_of"], rerun["config_pinned"]) == (
            "passed",
            run_id,
            True,
        )
        shop.gate = asyncio.Event()
        try:
            latest = await s.client.post(
                f"/api/v1/runs/{new_id}/rerun", headers=AUTH, json={"config_revision": "latest"}
            )
            assert latest.status_code == 201, latest.text
            assert (latest.json()["rerun_of"], latest.json()["config_pinned"]) == (new_id, False)
            busy = await s.client.post(f"/api/v1/runs/{latest.json()['id']}/rerun", headers=AUTH)
            assert busy.status_code == 409
            assert "re-run it once it has ended" in busy.json()["error"]["message"]
        finally:
            shop.gate.set()  # a failing assertion must not leave the stand-ins blocked
        assert (await s.ended(latest.json()["id"]))["state"] == "passed"
        page = await s.client.get(f"/runs/{new_id}")
        assert f'<a href="/runs/{run_id}">run #{run_id}</a>' in page.text


async def test_a_rerun_with_the_same_revision_runs_the_config_it_ran_with(
    git_server: GitServer, work_repo: WorkRepo, settings_for: SettingsFor
) -> None:
    first = publish_example(work_repo)
    settings = settings_for(
        git_server.url_for("config"),
        poll=1.0,
        runner_concurrency=2,
        api_tokens=(Secret(API_TOKEN),),
    )
    async with (
        running_shop(ShopState(api_key=API_KEY)) as routes,
        running_server(settings, environ={"SHOP_API_KEY": API_KEY}) as server,
    ):
        s = Stack(server, routes)
        await applied(server, first)
        original = await s.ended(await s.start())
        suite = work_repo.path / "suites" / "checkout-smoke.yaml"
        work_repo.write(
            "suites/checkout-smoke.yaml",
            suite.read_text().replace("- name: sign up", "- name: sign up (v2)"),
        )
        second = work_repo.commit("Rename a step")
        work_repo.push()
        await applied(server, second)

        async def rerun(revision: str) -> dict[str, Any]:
            answer = await s.client.post(
                f"/api/v1/runs/{original['id']}/rerun",
                headers=AUTH,
                json={"config_revision": revision},
            )
            assert answer.status_code == 201, answer.text
            run = await s.ended(answer.json()["id"])
            assert run["state"] == "passed", run["message"]
            return run

        same, latest = await rerun("same"), await rerun("latest")
    assert (original["config_revision"], same["config_revision"]) == (first, first)
    assert latest["config_revision"] == second
    assert _first_step(original) == _first_step(same) == "sign up"
    assert _first_step(latest) == "sign up (v2)"


def _first_step(run: dict[str, Any]) -> str:
    name: str = run["result"]["flows"][0]["steps"][0]["name"]
    return name


async def test_a_run_claimed_twice_lists_its_attempts_and_replicas(
    settings_for: SettingsFor,
) -> None:
    settings = settings_for(str(EXAMPLE), poll=3600, api_tokens=(Secret(API_TOKEN),))
    async with running_server(settings) as server:
        await eventually(lambda: config_status(server), until=lambda s: s["applied"] is not None)
        stack = Stack(server, routes={})
        run_id = await stack.start()
        storage, now = server.controller.storage, datetime.now(UTC)
        lease = now + timedelta(minutes=1)
        await storage.claim_run(owner="pod-a:7:1f", now=now, lease_until=lease, max_attempts=3)
        await storage.release_run(run_id, owner="pod-a:7:1f", now=now, reason="pod-a stopped")
        await storage.claim_run(owner="pod-b:9:2e", now=now, lease_until=lease, max_attempts=3)
        await storage.finish_run(
            run_id,
            owner="pod-b:9:2e",
            state="failed",
            message="1/3 failed",
            result={},
            junit=b"",
            now=now,
        )
        page = (await server.client.get(f"/runs/{run_id}")).text
    rows = re.findall(r"<tr><td>(\d)</td><td><code>([^<]+)</code>.*?<td>([^<]+)</td></tr>", page)
    assert rows == [
        ("1", "pod-a:7:1f", "released: pod-a stopped"),
        ("2", "pod-b:9:2e", "finished: failed"),
    ]
