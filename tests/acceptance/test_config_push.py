"""A Gitea push to the config repo's branch applies the new revision at once, not at the next
poll (the poll interval here is an hour)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from controller.settings import Settings
from tests.acceptance.helpers import WEBHOOK_ENVIRON, applied, copy_example_for_webhooks
from tests.support.git_server import GitServer, WorkRepo
from tests.support.server import RunningServer, running_server
from tests.support.webhooks import FIXTURES, signed

pytestmark = pytest.mark.anyio

SettingsFor = Callable[..., Settings]
REPO = "platform/meshgate-config"


def push_body(clone_url: str, revision: str, branch: str = "main") -> bytes:
    body = json.loads((FIXTURES / "webhook-push-branch.json").read_text())
    body["ref"] = f"refs/heads/{branch}"
    body["after"] = revision
    body["repository"]["full_name"] = REPO
    body["repository"]["clone_url"] = clone_url
    return json.dumps(body).encode()


async def push_webhook(server: RunningServer, body: bytes) -> None:
    response = await server.client.post(
        "/api/v1/webhooks/gitea", content=body, headers=signed(body)
    )
    assert response.status_code == 202, response.text


async def test_config_repo_push_webhook_applies_the_new_revision_at_once(
    git_server: GitServer, tmp_path: Path, settings_for: SettingsFor
) -> None:
    git_server.create_repo(REPO)
    work = WorkRepo(tmp_path / "work", git_server.url_for(REPO))
    copy_example_for_webhooks(work.path)
    first = work.commit("Initial config")
    work.push()
    settings = settings_for(git_server.url_for(REPO), poll=3600)
    clone_url = git_server.url_for(REPO, anonymous=True)

    async with running_server(settings, environ=WEBHOOK_ENVIRON) as server:
        await applied(server, first)
        work.write("rules/extra.yaml", "# a comment-only change is a new revision\n")
        second = work.commit("Touch the rules")
        work.push()
        await push_webhook(server, push_body(clone_url, second, branch="other"))
        await push_webhook(server, push_body(clone_url, second))
        status = await applied(server, second, what="push webhook applied", within=10)
        assert status["last_attempt"]["revision"] == second
