"""The config repo reviewed in Gitea: ``meshgate/config`` on every revision of the followed
branch, and on each pull request's head with one comment, updated in place on each push.

The config repo is served over loopback HTTP by a real git server (pull request heads under
``refs/pull/<n>/head``, as Gitea keeps them); Gitea's API is the fake Gitea."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from controller.settings import Settings
from tests.acceptance.helpers import (
    WEBHOOK_ENVIRON,
    applied,
    config_status,
    copy_example_for_webhooks,
    point_gitea_at,
)
from tests.support.fake_gitea import FakeGitea
from tests.support.git_server import GitServer, WorkRepo
from tests.support.server import RunningServer, running_server, serving
from tests.support.waiting import eventually
from tests.support.webhooks import FIXTURES, signed

pytestmark = pytest.mark.anyio
SettingsFor = Callable[..., Settings]
REPO = "platform/meshgate-config"
TOKEN = "gitea-token-for-config-reviews-9d2f"
PR = 7
BROKEN_RULE = """apiVersion: meshgate.dev/v1alpha1
kind: TriggerRule
metadata:
  name: orders-push
  workspace: shop
spec:
  integration: gitea
  repository: shop/order-service
  branch_filter: main
  event_types: [push]
  suite: order-smoke
"""


@dataclass
class Setup:
    server: RunningServer
    gitea: FakeGitea
    work: WorkRepo
    first: str
    clone_url: str


@contextlib.asynccontextmanager
async def reviewed_repo(
    git_server: GitServer, tmp_path: Path, settings_for: SettingsFor, **extra: object
) -> AsyncIterator[Setup]:
    gitea = FakeGitea(token=TOKEN, repositories={REPO})
    async with serving(gitea) as gitea_url:
        git_server.create_repo(REPO)
        work = WorkRepo(tmp_path / "work", git_server.url_for(REPO))
        copy_example_for_webhooks(work.path)
        point_gitea_at(work.path, gitea_url)
        first = work.commit("Initial config")
        work.push()
        settings = settings_for(git_server.url_for(REPO), poll=3600, status_concurrency=2, **extra)
        environ = {**WEBHOOK_ENVIRON, "GITEA_TOKEN": TOKEN}
        async with running_server(settings, environ=environ) as server:
            await applied(server, first)
            yield Setup(server, gitea, work, first, git_server.url_for(REPO, anonymous=True))
    assert gitea.violations == []


def pull_request_body(setup: Setup, action: str, head: str) -> bytes:
    body = json.loads((FIXTURES / "webhook-pull_request-opened.json").read_text())
    body["action"] = action
    body["number"] = PR
    body["pull_request"]["number"] = PR
    body["pull_request"]["head"]["sha"] = head
    body["pull_request"]["head"]["ref"] = "change"
    body["pull_request"]["base"]["ref"] = "main"
    body["repository"]["full_name"] = REPO
    body["repository"]["clone_url"] = setup.clone_url
    return json.dumps(body).encode()


async def open_or_push(setup: Setup, message: str, action: str) -> str:
    head = setup.work.commit(message)
    setup.work.push(branch="change")
    setup.work.git("push", "--quiet", "--force", "origin", f"HEAD:refs/pull/{PR}/head")
    body = pull_request_body(setup, action, head)
    answer = await setup.server.client.post(
        "/api/v1/webhooks/gitea", content=body, headers=signed(body, "pull_request")
    )
    assert answer.status_code == 202, answer.text
    return head


async def config_state(setup: Setup, sha: str, want: str) -> dict[str, str]:
    async def probe() -> dict[str, str] | None:
        return setup.gitea.latest(REPO, sha, "meshgate/config")

    found = await eventually(
        probe, until=lambda row: row is not None and row["status"] == want, what=f"{want} on {sha}"
    )
    assert found is not None
    return found


async def test_every_revision_of_the_branch_gets_meshgate_config(
    git_server: GitServer, tmp_path: Path, settings_for: SettingsFor
) -> None:
    async with reviewed_repo(git_server, tmp_path, settings_for) as setup:
        posted = await config_state(setup, setup.first, "success")
        assert posted["description"].startswith("valid, applied: ")
        setup.work.write("rules/orders.yaml", BROKEN_RULE)
        broken = setup.work.commit("A rule for a suite that does not exist")
        setup.work.push()
        await setup.server.controller.sync.refresh(reason="test")
        failed = await config_state(setup, broken, "failure")
        assert "rules/orders.yaml:" in failed["description"]
        assert "order-smoke" in failed["description"]
        assert (await config_status(setup.server))["applied"]["revision"] == setup.first


async def test_a_pull_request_is_reviewed_and_its_comment_updated_on_each_push(
    git_server: GitServer, tmp_path: Path, settings_for: SettingsFor
) -> None:
    async with reviewed_repo(git_server, tmp_path, settings_for) as setup:
        await config_state(setup, setup.first, "success")
        setup.work.git("checkout", "--quiet", "-b", "change")
        setup.work.write("rules/orders.yaml", BROKEN_RULE)
        broken = await open_or_push(setup, "Add the orders rule", "opened")

        failed = await config_state(setup, broken, "failure")
        assert failed["description"].startswith("1 problem; first: rules/orders.yaml:")

        async def comments() -> list[dict[str, object]]:
            return list(setup.gitea.comments[(REPO, PR)])

        (comment,) = await eventually(comments, until=lambda found: len(found) == 1)
        text = str(comment["body"])
        assert "Invalid" in text
        assert "rules/orders.yaml:11:" in text
        assert "order-smoke" in text
        assert "TriggerRule shop/orders-push" in text

        fixed_rule = BROKEN_RULE.replace(
            "suite: order-smoke", "suite: checkout-smoke\n  status_context: meshgate/orders-push"
        )
        setup.work.write("rules/orders.yaml", fixed_rule)
        fixed = await open_or_push(setup, "Run the checkout smoke test instead", "synchronized")
        await config_state(setup, fixed, "success")
        (updated,) = await eventually(
            comments, until=lambda found: len(found) == 1 and "Valid" in str(found[0]["body"])
        )
        assert updated["id"] == comment["id"]
        body = str(updated["body"])
        assert fixed[:8] in body
        assert "shop/orders-push` (added)" in body
        assert "runs checkout-smoke" in body

        status = await config_status(setup.server)
        assert status["applied"]["revision"] == setup.first
        runs = (await setup.server.client.get("/api/v1/runs")).json()["runs"]
        assert runs == []


async def test_a_review_during_a_gitea_outage_arrives_once_gitea_is_back(
    git_server: GitServer, tmp_path: Path, settings_for: SettingsFor
) -> None:
    async with reviewed_repo(
        git_server, tmp_path, settings_for, status_max_backoff=timedelta(seconds=1)
    ) as setup:
        await config_state(setup, setup.first, "success")
        setup.gitea.fail(503)
        setup.work.git("checkout", "--quiet", "-b", "change")
        setup.work.write("rules/orders.yaml", BROKEN_RULE)
        broken = await open_or_push(setup, "Add the orders rule", "opened")

        async def refused() -> int:
            return sum(
                1 for r in setup.gitea.requests if r.answered == 503 and "comments" in r.path
            )

        await eventually(refused, until=lambda count: count >= 3, within=30, what="retries")
        assert setup.gitea.comments[(REPO, PR)] == []
        setup.gitea.recover()
        await config_state(setup, broken, "failure")

        async def comments() -> list[dict[str, object]]:
            return list(setup.gitea.comments[(REPO, PR)])

        (comment,) = await eventually(comments, until=lambda found: len(found) == 1, within=30)
        assert "rules/orders.yaml:11:" in str(comment["body"])
