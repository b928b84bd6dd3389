"""The dashboard in a real browser (headless Chromium): a newcomer follows the commit status
link of a failed run, sees the failing check, opens a step, re-runs it with an API token and
watches the new run progress to its end without reloading."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import expect

from controller.demo.session import DEMO_COMMIT, gitea_push
from controller.settings import Secret, Settings
from tests.acceptance.helpers import (
    WEBHOOK_ENVIRON,
    config_status,
    copy_example_for_webhooks,
    point_gitea_at,
    point_routes_at,
)
from tests.support.browser import browser_page
from tests.support.fake_gitea import FakeGitea
from tests.support.server import running_server, serving
from tests.support.shop import ShopState, running_shop
from tests.support.waiting import eventually
from tests.support.webhooks import signed

pytestmark = pytest.mark.anyio
API_TOKEN = "api-token-typed-into-the-rerun-form-51"
GITEA_TOKEN = "gitea-token-for-browser-tests"
SettingsFor = Callable[..., Settings]


async def test_a_failed_run_from_its_status_link_to_a_finished_rerun(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    gitea = FakeGitea(token=GITEA_TOKEN, repositories={"shop/user-service"})
    shop = ShopState(api_key="the-real-key")
    config = copy_example_for_webhooks(tmp_path / "config")
    async with serving(gitea) as gitea_url, running_shop(shop) as routes:
        point_gitea_at(config, gitea_url)
        point_routes_at(config / "environments" / "staging.yaml", routes)
        settings = settings_for(
            str(config),
            poll=3600,
            runner_concurrency=2,
            status_concurrency=2,
            api_tokens=(Secret(API_TOKEN),),
        )
        environ = {**WEBHOOK_ENVIRON, "GITEA_TOKEN": GITEA_TOKEN, "SHOP_API_KEY": "a-stale-key"}
        async with running_server(settings, environ=environ) as server:
            await eventually(
                lambda: config_status(server), until=lambda s: s["applied"] is not None
            )
            push = json.dumps(gitea_push()).encode()
            answer = await server.client.post(
                "/api/v1/webhooks/gitea", content=push, headers=signed(push, "push")
            )
            assert answer.status_code == 202, answer.text

            async def final_status() -> list[str]:
                return gitea.statuses_of("shop/user-service", DEMO_COMMIT)

            await eventually(final_status, until=lambda s: s[-1:] == ["failure"], within=60)
            link = gitea.status_posts()[-1].body["target_url"]
            path = urlsplit(link).path
            assert path.startswith("/runs/")

            async with browser_page(tmp_path / "screenshots") as page:
                await page.goto(server.base_url + path)
                await expect(page.locator("#run-state")).to_have_text("failed")
                failing = page.locator("tr.check-failed").first
                await expect(failing).to_contain_text("401")
                key = await page.locator("details.step:not([open])").first.get_attribute("data-key")
                step = page.locator(f'details.step[data-key="{key}"]')
                await expect(step.locator(".detail")).to_be_hidden()
                await step.locator("summary").click()
                assert await step.evaluate("element => element.open")
                await expect(step.locator(".detail")).to_be_visible()

                shop.gate = asyncio.Event()
                try:
                    await page.fill("input[name=token]", API_TOKEN)
                    await page.click("form.rerun button[type=submit]")
                    await page.wait_for_url(lambda url: url != server.base_url + path)
                    await expect(page.locator("#run-state")).to_have_text(
                        re.compile("^(queued|running)$")
                    )
                finally:
                    shop.gate.set()
                await expect(page.locator("#run-state")).to_have_text("failed", timeout=60_000)
                await expect(page.locator("tr.check-failed").first).to_contain_text("401")
                await expect(page.locator("text=Re-run of")).to_be_visible()
