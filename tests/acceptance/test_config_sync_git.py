"""The server follows a real Git remote on loopback, and never applies an invalid revision."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from controller.settings import Settings
from tests.acceptance.helpers import (
    applied,
    applied_revision,
    config_status,
    copy_example,
    publish_example,
)
from tests.support.git_server import GitServer, WorkRepo
from tests.support.server import running_server
from tests.support.waiting import eventually

pytestmark = pytest.mark.anyio

NEW_RULE = """\
apiVersion: meshgate.dev/v1alpha1
kind: TriggerRule
metadata: {name: order-service-push, workspace: shop}
spec:
  integration: gitea
  repository: shop/order-service
  branch_filter: main
  event_types: [push]
  suite: checkout-smoke
  status_context: meshgate/order-service-push
"""

BROKEN_RULE = """\
apiVersion: meshgate.dev/v1alpha1
kind: TriggerRule
metadata: {name: product-service-push, workspace: shop}
spec:
  integration: gitea
  repository: shop/product-service
  event_types: [push]
  suite: no-such-suite
  status_context: meshgate/product-service-push
"""

SettingsFor = Callable[..., Settings]


async def test_server_applies_valid_commits_and_keeps_last_good_on_invalid(
    git_server: GitServer, work_repo: WorkRepo, settings_for: SettingsFor
) -> None:
    first = publish_example(work_repo)
    settings = settings_for(git_server.url_for("config"), poll=1.0)

    async with running_server(settings) as server:
        status = await applied(server, first)
        assert status["errors"] == []
        assert status["applied"]["documents"]["TriggerRule"] == 4
        assert (await server.client.get("/readyz")).status_code == 200

        work_repo.write("rules/order-service.yaml", NEW_RULE)
        second = work_repo.commit("Add order-service push rule")
        work_repo.push()
        status = await applied(
            server, second, within=1.0 + 5.0, what="valid change applied within the poll interval"
        )
        assert status["applied"]["documents"]["TriggerRule"] == 5

        work_repo.write("rules/product-service.yaml", BROKEN_RULE)
        third = work_repo.commit("Add a rule with a dangling suite")
        work_repo.push()
        status = await eventually(
            lambda: config_status(server),
            until=lambda s: (s["last_attempt"] or {}).get("revision") == third,
            what="invalid change seen",
        )
        assert applied_revision(status) == second
        assert status["last_attempt"]["valid"] is False
        assert status["errors"] == [
            "rules/product-service.yaml:8:10: Suite 'no-such-suite' not found in workspace "
            "'shop'; known: checkout-smoke, user-service-contract (at /spec/suite)"
        ]
        problem = status["last_attempt"]["problems"][0]
        assert problem["pointer"] == "/spec/suite"
        assert problem["code"] == "reference.unresolved"
        ready = await server.client.get("/readyz")
        assert ready.status_code == 200, ready.text

        history = await server.controller.storage.config_revisions(
            server.controller.sync.source.identity
        )
        seen = {record.revision: record for record in history}
        assert seen[first].valid
        assert seen[second].valid
        assert not seen[third].valid
        assert seen[second].applied_at is not None
        assert seen[third].applied_at is None
        assert seen[third].problems[0].code == "reference.unresolved"
        assert git_server.url_for("config") not in str(history)
        assert "password" not in str(status).lower()


async def test_server_survives_source_failures_and_recovers(
    git_server: GitServer, work_repo: WorkRepo, settings_for: SettingsFor
) -> None:
    first = publish_example(work_repo)
    work_repo.push(branch="release")
    settings = settings_for(git_server.url_for("config"), poll=1.0, config_branch="release")

    async with running_server(settings) as server:
        await applied(server, first)

        git_server.stop()
        status = await eventually(
            lambda: config_status(server),
            until=lambda s: s["source_error"] is not None,
            what="unreachable remote reported",
        )
        assert status["source_error"]["temporary"] is True
        assert applied_revision(status) == first
        assert (await server.client.get("/readyz")).status_code == 200
        assert (await server.client.get("/healthz")).status_code == 200

        git_server.start()
        work_repo.delete_remote_branch("release")
        status = await eventually(
            lambda: config_status(server),
            until=lambda s: "not found" in str((s["source_error"] or {}).get("message")),
            what="deleted branch reported",
        )
        assert status["source_error"]["temporary"] is False
        assert "branch 'release' not found" in status["errors"][0]
        assert applied_revision(status) == first
        assert (await server.client.get("/readyz")).status_code == 200

        work_repo.write("rules/order-service.yaml", NEW_RULE)
        recovered = work_repo.commit("Recreate release with a new rule")
        work_repo.push(branch="release")
        status = await applied(server, recovered, what="recovery after the branch is back")
        assert status["source_error"] is None
        assert status["errors"] == []


async def test_restart_with_invalid_tip_serves_the_last_applied_revision(
    git_server: GitServer, work_repo: WorkRepo, settings_for: SettingsFor
) -> None:
    good = publish_example(work_repo)
    settings = settings_for(git_server.url_for("config"), poll=1.0)
    async with running_server(settings) as server:
        await applied(server, good)

    work_repo.write("rules/product-service.yaml", BROKEN_RULE)
    bad = work_repo.commit("Break the config while the server is down")
    work_repo.push()

    async with running_server(settings) as server:
        status = await applied(server, good, what="last applied revision restored on start")
        assert status["last_attempt"]["revision"] == bad
        assert status["last_attempt"]["valid"] is False
        assert (await server.client.get("/readyz")).status_code == 200
        assert status["applied"]["documents"]["TriggerRule"] == 4


def attempted(status: dict[str, Any], *, revision: str) -> bool:
    return bool((status["last_attempt"] or {}).get("revision") == revision)


HOSTILE_COMMITS = [
    ("symlink out of the repo", "meshgate/flows/passwd.yaml", None, "symbolic link points outside"),
    (
        "alias bomb",
        "meshgate/bomb.yaml",
        'a: &a ["x", "x"]\nb: &b [*a, *a]\nc: [*b, *b]\n',
        "anchors and aliases are not allowed",
    ),
    ("oversized file", "meshgate/huge.yaml", "# filler\n" * 150_000, "the limit is 1.0 MiB"),
]


async def test_subfolder_config_survives_hostile_commits(
    git_server: GitServer, work_repo: WorkRepo, settings_for: SettingsFor
) -> None:
    copy_example(work_repo.path / "meshgate")
    work_repo.write("README.md", "The meshgate config lives in meshgate/.\n")
    good = work_repo.commit("Config in a subfolder")
    work_repo.push()
    settings = settings_for(git_server.url_for("config"), poll=1.0, config_path="meshgate")

    async with running_server(settings) as server:
        status = await applied(server, good)
        assert status["source"]["path"] == "meshgate"
        for name, path, text, message in HOSTILE_COMMITS:
            if text is None:
                work_repo.symlink(path, "/etc/passwd")
            else:
                work_repo.write(path, text)
            bad = work_repo.commit(f"Add {name}")
            work_repo.push()
            status = await eventually(
                partial(config_status, server),
                until=partial(attempted, revision=bad),
                what=f"{name} rejected",
            )
            assert applied_revision(status) == good, name
            assert any(message in error for error in status["errors"]), (name, status["errors"])
            assert (await server.client.get("/readyz")).status_code == 200
            work_repo.remove(path)
            good = work_repo.commit(f"Remove {name}")
            work_repo.push()
            await applied(server, good, what=f"recovered after {name}")
