"""Where a run's commit status goes: Gitea events name their commit, Argo CD syncs are mapped
from the app's repository URL onto the workspace's Gitea integration."""

from __future__ import annotations

import dataclasses
import json

import pytest

from controller.intake import normalize_gitea
from controller.models.statuses import StatusTarget, status_target_for
from tests.support.events import PUSH, SYNC
from tests.support.webhooks import FIXTURES

HOSTS = {"gitea.example": "gitea-main"}


def target(event, integration: str = "argocd"):  # type: ignore[no-untyped-def]
    return status_target_for(event, workspace="shop", integration=integration, gitea_by_host=HOSTS)


def test_target_of_a_gitea_event_is_its_repository_and_commit() -> None:
    assert target(PUSH, "gitea") == StatusTarget("shop", "gitea", "shop/checkout", "a" * 40)


def test_target_of_a_gitea_event_without_a_commit_is_a_reason() -> None:
    deleted = dataclasses.replace(PUSH, revision="0" * 40 + "x")
    assert "names no commit" in str(target(deleted, "gitea"))
    assert "empty revision" in str(target(dataclasses.replace(PUSH, revision=""), "gitea"))


@pytest.mark.parametrize(
    "url",
    [
        "https://gitea.example/shop/checkout.git",
        "https://gitea.example/shop/checkout",
        "ssh://git@gitea.example:2222/shop/checkout.git",
        "git@gitea.example:shop/checkout.git",
        "https://GITEA.example/Shop/Checkout/",
    ],
)
def test_target_of_a_sync_maps_every_spelling_of_the_repository(url: str) -> None:
    sync = dataclasses.replace(SYNC, repo_url=url)
    assert target(sync) == StatusTarget("shop", "gitea-main", "shop/checkout", "b" * 40)


def test_target_of_a_sync_on_an_unknown_host_is_a_reason() -> None:
    sync = dataclasses.replace(SYNC, repo_url="https://github.com/shop/checkout.git")
    assert target(sync) == "no Gitea integration of this workspace serves github.com"


def test_target_of_a_sync_without_a_git_url_is_a_reason() -> None:
    assert "not a Git URL" in str(target(dataclasses.replace(SYNC, repo_url="")))
    helm = dataclasses.replace(SYNC, repo_url="oci://charts.example/shop")
    assert "not a Git URL" in str(target(helm))


def test_target_of_a_sync_of_a_chart_version_is_a_reason() -> None:
    chart = dataclasses.replace(
        SYNC, repo_url="https://gitea.example/shop/checkout.git", revision="1.2.3"
    )
    assert "'1.2.3' is not a commit SHA" in str(target(chart))


def test_target_of_a_pull_request_from_a_fork_is_the_base_repository_at_the_head() -> None:
    name = "webhook-pull_request-synchronized-fork"
    meta = json.loads((FIXTURES / f"{name}.headers.json").read_text())
    event = normalize_gitea(meta["headers"], (FIXTURES / f"{name}.json").read_bytes())
    body = json.loads((FIXTURES / f"{name}.json").read_text())
    assert body["pull_request"]["head"]["repo"]["full_name"] == "bob/demo"
    assert target(event, "gitea") == StatusTarget(
        "shop", "gitea", "alice/demo", body["pull_request"]["head"]["sha"]
    )
