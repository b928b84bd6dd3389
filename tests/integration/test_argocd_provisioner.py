"""The Argo CD provisioner against the fake Argo CD: the example's pr-preview template
rendered for a context, waited for through the Application lifecycle, failed with the
reason, adopted or refused when the name is taken, and torn down."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from controller.clients.argocd import ArgoCDClient
from controller.environments.argocd_provisioner import (
    ArgoCDProvisioner,
    ProvisionFailed,
    render_application,
)
from controller.models.documents import ConfigDocument
from controller.settings import Secret
from tests.support.config import EXAMPLE, snapshot_of
from tests.support.fake_argocd import FakeArgoCD
from tests.support.server import serving

pytestmark = pytest.mark.anyio
TOKEN = Secret("argocd-token-for-provisioner-tests")
TEMPLATE_TEXT = (EXAMPLE / "environments" / "pr-preview.yaml").read_text()


def template(**wait: str) -> ConfigDocument:
    text = TEMPLATE_TEXT
    if wait:
        text = text.replace(
            "  wait:\n    health: Healthy\n    timeout: 10m\n",
            "  wait:\n" + "".join(f"    {k}: {v}\n" for k, v in wait.items()),
        )
    doc = snapshot_of(text).get("shop", "EnvironmentTemplate", "pr-preview")
    assert doc is not None
    return doc


@dataclass
class Setup:
    argocd: FakeArgoCD
    client: ArgoCDClient
    provisioner: ArgoCDProvisioner


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    argocd = FakeArgoCD(token=TOKEN.reveal())
    async with serving(argocd) as base_url, ArgoCDClient(base_url=base_url) as client:
        seen: list[tuple[str, str]] = []

        def client_for(workspace: str, integration: str) -> tuple[ArgoCDClient, Secret]:
            seen.append((workspace, integration))
            return client, TOKEN

        yield Setup(argocd, client, ArgoCDProvisioner(client_for=client_for, poll_seconds=0.01))
        assert set(seen) <= {("shop", "argocd-staging")}
    assert argocd.violations == []


def test_the_application_is_rendered_for_the_context_with_meshgate_labels() -> None:
    app = render_application(template(), context="pr-123")
    assert app["metadata"]["name"] == "user-service-pr-123"
    assert app["spec"]["destination"]["namespace"] == "review-pr-123"
    assert app["metadata"]["labels"] == {
        "app.kubernetes.io/part-of": "shop",
        "app.kubernetes.io/managed-by": "meshgate",
        "meshgate.dev/context": "pr-123",
        "meshgate.dev/workspace": "shop",
        "meshgate.dev/template": "pr-preview",
    }


async def test_provision_waits_until_synced_and_healthy(setup: Setup) -> None:
    done = await setup.provisioner.provision(template(), context="pr-123")
    assert (done.application, done.project) == ("user-service-pr-123", "previews")
    gets = [p for m, p, _ in setup.argocd.requests if m == "GET"]
    assert len(gets) >= 4  # reconciled, operation running, progressing, healthy
    assert len(setup.argocd.created()) == 1


async def test_a_degraded_application_fails_with_the_reason(setup: Setup) -> None:
    setup.argocd.degrade("user-service-pr-9")
    with pytest.raises(ProvisionFailed, match="turned Degraded: Deployment exceeded"):
        await setup.provisioner.provision(template(), context="pr-9")


async def test_an_application_that_is_never_ready_times_out(setup: Setup) -> None:
    setup.argocd.polls_per_stage = 10_000
    with pytest.raises(ProvisionFailed, match=r"not Synced and Healthy within 0s \(sync unknown"):
        await setup.provisioner.provision(template(timeout="1ms"), context="pr-5")


async def test_a_leftover_of_meshgate_is_adopted_and_a_foreign_app_used_untouched(
    setup: Setup,
) -> None:
    ours = render_application(template(), context="pr-123")
    ours["spec"]["source"]["path"] = "deploy/old"
    setup.argocd.put(ours)
    done = await setup.provisioner.provision(template(), context="pr-123")
    assert done.application == "user-service-pr-123"
    stored = setup.argocd.apps["user-service-pr-123"].document
    assert stored["spec"]["source"]["path"] == "deploy/preview"

    foreign = copy.deepcopy(ours)
    foreign["metadata"]["name"] = "user-service-pr-77"
    foreign["metadata"]["labels"] = {"team": "someone-else"}
    setup.argocd.put(foreign)
    used = await setup.provisioner.provision(template(), context="pr-77")
    assert (used.application, used.managed) == ("user-service-pr-77", False)
    assert setup.argocd.apps["user-service-pr-77"].document["metadata"]["labels"] == {
        "team": "someone-else"
    }


async def test_teardown_deletes_and_waits_until_the_app_is_gone(setup: Setup) -> None:
    setup.argocd.delete_polls = 3
    done = await setup.provisioner.provision(template(), context="pr-123")

    async def teardown() -> None:
        await setup.provisioner.teardown(
            workspace="shop",
            integration="argocd-staging",
            application=done.application,
            project=done.project,
            within_seconds=10,
        )

    await teardown()
    assert "user-service-pr-123" not in setup.argocd.apps
    deletes = [q for m, _, q in setup.argocd.requests if m == "DELETE"]
    assert deletes == [{"project": "previews", "cascade": "true"}]
    await teardown()  # already gone: nothing to do, nothing fails
    assert len([m for m, _, _ in setup.argocd.requests if m == "DELETE"]) == 2
