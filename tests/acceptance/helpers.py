"""What the acceptance tests share: the example repo and reading the config status API."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from tests.support.git_server import WorkRepo
from tests.support.server import RunningServer
from tests.support.waiting import eventually
from tests.support.webhooks import ARGOCD_TOKEN, GITEA_SECRET

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "example-config-repo"


def copy_example(destination: Path) -> Path:
    """The example config repo's documents, copied so a test can change them."""
    shutil.copytree(EXAMPLE, destination, dirs_exist_ok=True)
    return destination


def publish_example(work_repo: WorkRepo) -> str:
    """Commit the example repo to ``work_repo``, push it, and return the commit."""
    copy_example(work_repo.path)
    revision = work_repo.commit("Initial config")
    work_repo.push()
    return revision


async def config_status(server: RunningServer) -> dict[str, Any]:
    response = await server.client.get("/api/v1/config/status")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def applied_revision(status: dict[str, Any]) -> str | None:
    applied = status["applied"]
    return applied["revision"] if applied else None


async def applied(
    server: RunningServer, revision: str, *, what: str = "revision applied", within: float = 10.0
) -> dict[str, Any]:
    """Wait until ``revision`` serves; return the config status that shows it."""
    return await eventually(
        lambda: config_status(server),
        until=lambda status: applied_revision(status) == revision,
        within=within,
        what=what,
    )


WEBHOOK_ENVIRON = {"GITEA_WEBHOOK_SECRET": GITEA_SECRET, "ARGOCD_WEBHOOK_TOKEN": ARGOCD_TOKEN}


def copy_example_for_webhooks(destination: Path) -> Path:
    """The example repo with the Argo CD webhook token read from ``ARGOCD_WEBHOOK_TOKEN``
    (the example reads a file under /run/secrets); pass ``WEBHOOK_ENVIRON`` to the server."""
    config = copy_example(destination)
    argocd = config / "integrations" / "argocd-staging.yaml"
    argocd.write_text(
        argocd.read_text().replace(
            "{file: /run/secrets/meshgate/argocd-webhook-token}", "{env: ARGOCD_WEBHOOK_TOKEN}"
        )
    )
    return config


def point_gitea_at(config: Path, url: str) -> None:
    """Make the example's ``gitea`` integration talk to ``url`` (the fake Gitea) with the
    token from ``GITEA_TOKEN`` (the example reads a file under /run/secrets)."""
    integration = config / "integrations" / "gitea.yaml"
    text = integration.read_text().replace("https://gitea.shop.internal", url)
    integration.write_text(
        text.replace("{file: /run/secrets/meshgate/gitea-token}", "{env: GITEA_TOKEN}")
    )


def point_argocd_at(config: Path, url: str) -> None:
    """Make the example's ``argocd-staging`` integration talk to ``url`` (the fake Argo CD)."""
    integration = config / "integrations" / "argocd-staging.yaml"
    integration.write_text(integration.read_text().replace("https://argocd.shop.internal", url))


def point_routes_at(template: Path, routes: dict[str, str]) -> None:
    """Point the services of an EnvironmentTemplate file's routing policy at ``routes``
    (the loopback shop stand-ins)."""
    text = template.read_text()
    for service, url in routes.items():
        text = re.sub(rf"({service}): http://\S+", rf"\1: {url}", text)
    template.write_text(text)
