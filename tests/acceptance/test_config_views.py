"""Read-only config views through the whole app: what they show, hide, and refuse."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from controller.settings import Settings
from tests.acceptance.helpers import applied_revision, config_status, copy_example
from tests.support.server import RunningServer, running_server
from tests.support.waiting import eventually

pytestmark = pytest.mark.anyio

SettingsFor = Callable[..., Settings]
API = "/api/v1/workspaces"
SECRET_VALUES = {
    "GITEA_WEBHOOK_SECRET": "s3cret-value",
    "ARGOCD_TOKEN": "argocd-api-t0ken",
    "SHOP_API_KEY": "shop-api-k3y",
}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
READ_PATHS = (
    API,
    f"{API}/shop/integrations",
    f"{API}/shop/integrations/gitea",
    f"{API}/shop/integrations/argocd-staging",
    f"{API}/shop/integrations/gitea/trigger-rules",
    f"{API}/shop/integrations/argocd-staging/trigger-rules",
    f"{API}/shop/suites",
    f"{API}/shop/suites/checkout-smoke",
    f"{API}/shop/suites/user-service-contract",
)


@contextlib.asynccontextmanager
async def started(settings: Settings, environ: dict[str, str]) -> AsyncIterator[RunningServer]:
    async with running_server(settings, environ=environ) as running:
        await eventually(lambda: config_status(running), until=lambda s: s["applied"] is not None)
        yield running


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "config")


@pytest.fixture
async def server(config_dir: Path, settings_for: SettingsFor) -> AsyncIterator[RunningServer]:
    async with started(settings_for(str(config_dir), poll=3600), SECRET_VALUES) as running:
        yield running


async def get_json(server: RunningServer, path: str) -> dict[str, Any]:
    response = await server.client.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def current_revision(server: RunningServer) -> str:
    revision = applied_revision(await config_status(server))
    assert revision is not None
    return revision


async def test_workspaces_list_counts_documents_per_kind(server: RunningServer) -> None:
    body = await get_json(server, API)
    assert body == {
        "config_revision": await current_revision(server),
        "workspaces": [
            {
                "name": "shop",
                "documents": {
                    "Integration": 2,
                    "TriggerRule": 4,
                    "Suite": 2,
                    "Flow": 4,
                    "EnvironmentTemplate": 2,
                },
            }
        ],
    }


async def test_integrations_list_shows_both_integrations(server: RunningServer) -> None:
    body = await get_json(server, f"{API}/shop/integrations")
    assert body["config_revision"] == await current_revision(server)
    assert body["workspace"] == "shop"
    assert [i["name"] for i in body["integrations"]] == ["argocd-staging", "gitea"]
    assert [i["provider"] for i in body["integrations"]] == ["argocd", "gitea"]


async def test_integration_gitea_shows_config_references_and_file(server: RunningServer) -> None:
    body = await get_json(server, f"{API}/shop/integrations/gitea")
    assert body == {
        "config_revision": await current_revision(server),
        "name": "gitea",
        "workspace": "shop",
        "file": "integrations/gitea.yaml",
        "labels": {"team": "platform"},
        "provider": "gitea",
        "config": {"url": "https://gitea.shop.internal"},
        "secrets": {
            "token": {"file": "/run/secrets/meshgate/gitea-token"},
            "webhook_secret": {"env": "GITEA_WEBHOOK_SECRET"},
        },
    }


async def test_integration_argocd_shows_provider_config(server: RunningServer) -> None:
    body = await get_json(server, f"{API}/shop/integrations/argocd-staging")
    assert body["file"] == "integrations/argocd-staging.yaml"
    assert body["provider"] == "argocd"
    assert body["config"] == {
        "url": "https://argocd.shop.internal",
        "app_filter": "*-service*",
        "app_namespace": "argocd",
    }
    assert body["secrets"] == {
        "token": {"env": "ARGOCD_TOKEN"},
        "webhook_token": {"file": "/run/secrets/meshgate/argocd-webhook-token"},
    }


async def test_trigger_rules_of_gitea_are_listed_with_their_fields(server: RunningServer) -> None:
    body = await get_json(server, f"{API}/shop/integrations/gitea/trigger-rules")
    assert body["config_revision"] == await current_revision(server)
    assert body["integration"] == "gitea"
    rules = {rule["name"]: rule for rule in body["trigger_rules"]}
    assert list(rules) == ["service-pull-requests", "user-service-push"]
    assert rules["user-service-push"] == {
        "name": "user-service-push",
        "workspace": "shop",
        "file": "rules/gitea.yaml",
        "labels": {"team": "identity"},
        "description": "Contract tests of user-service on every push to main.",
        "integration": "gitea",
        "repository": "shop/user-service",
        "branch_filter": "main",
        "event_types": ["push"],
        "suite": "user-service-contract",
        "environment": None,
        "status_context": "meshgate/user-service-push",
        "enabled": True,
    }
    pulls = rules["service-pull-requests"]
    assert pulls["repository"] == "shop/*-service"
    assert pulls["event_types"] == ["pull_request"]
    assert pulls["environment"] == {"template": "staging"}
    assert pulls["status_context"] == "meshgate/user-service-contract-pr"


async def test_trigger_rules_of_argocd_show_environment_and_default_branch(
    server: RunningServer,
) -> None:
    body = await get_json(server, f"{API}/shop/integrations/argocd-staging/trigger-rules")
    rules = {rule["name"]: rule for rule in body["trigger_rules"]}
    assert list(rules) == ["staging-sync", "user-service-pr-preview"]
    assert rules["staging-sync"]["file"] == "rules/staging-sync.yaml"
    assert rules["staging-sync"]["branch_filter"] == "*"
    assert rules["staging-sync"]["enabled"] is True
    assert rules["staging-sync"]["suite"] == "checkout-smoke"
    preview = rules["user-service-pr-preview"]
    assert preview["file"] == "rules/user-service-pr-preview.yaml"
    assert preview["environment"] == {"template": "pr-preview", "context": "pr-${event.pr_number}"}
    assert preview["status_context"] == "meshgate/checkout-smoke"
    assert preview["event_types"] == ["sync"]


async def test_trigger_rules_fill_in_defaults_left_out_of_the_yaml(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    config = copy_example(tmp_path / "config")
    rules_file = config / "rules" / "gitea.yaml"
    text = rules_file.read_text()
    text = text.replace(
        "  description: Contract tests of user-service on every push to main.\n", ""
    )
    text = text.replace("  status_context: meshgate/user-service-push\n", "")
    text = text.replace("  enabled: true\n", "  enabled: false\n")
    rules_file.write_text(text)
    async with started(settings_for(str(config), poll=3600), {}) as running:
        body = await get_json(running, f"{API}/shop/integrations/gitea/trigger-rules")
        rules = {rule["name"]: rule for rule in body["trigger_rules"]}
        assert rules["user-service-push"]["status_context"] == "meshgate/user-service-contract"
        assert rules["user-service-push"]["description"] is None
        assert rules["user-service-push"]["enabled"] is True
        assert rules["service-pull-requests"]["enabled"] is False


async def test_suites_list_shows_both_suites(server: RunningServer) -> None:
    body = await get_json(server, f"{API}/shop/suites")
    assert body["config_revision"] == await current_revision(server)
    assert body["workspace"] == "shop"
    assert [s["name"] for s in body["suites"]] == ["checkout-smoke", "user-service-contract"]
    assert [s["file"] for s in body["suites"]] == [
        "suites/checkout-smoke.yaml",
        "suites/user-service-contract.yaml",
    ]


async def test_suite_checkout_smoke_lists_inline_and_referenced_flows(
    server: RunningServer,
) -> None:
    body = await get_json(server, f"{API}/shop/suites/checkout-smoke")
    assert body == {
        "config_revision": await current_revision(server),
        "name": "checkout-smoke",
        "workspace": "shop",
        "file": "suites/checkout-smoke.yaml",
        "labels": {"team": "checkout"},
        "description": (
            "A new customer can sign up, find a product and place an order that gets confirmed."
        ),
        "flows": [
            {
                "name": "user-signup",
                "source": "inline",
                "file": "suites/checkout-smoke.yaml",
                "match_labels": None,
            },
            {
                "name": "catalog-browse",
                "source": "inline",
                "file": "suites/checkout-smoke.yaml",
                "match_labels": None,
            },
            {
                "name": "place-order",
                "source": "reference",
                "file": "flows/checkout-smoke/place-order.flow.yaml",
                "match_labels": None,
            },
        ],
        "concurrency": 3,
        "timeout": "10m",
    }


async def test_suite_with_selector_lists_the_selected_flows_in_file_order(
    server: RunningServer,
) -> None:
    body = await get_json(server, f"{API}/shop/suites/user-service-contract")
    selected = {"suite": "user-service-contract"}
    assert body["flows"] == [
        {
            "name": "user-validation",
            "source": "selector",
            "file": "flows/user-service-contract/user-validation.flow.yaml",
            "match_labels": selected,
        },
        {
            "name": "users-api",
            "source": "selector",
            "file": "flows/user-service-contract/users-api.flow.yaml",
            "match_labels": selected,
        },
        {
            "name": "user-auth",
            "source": "selector",
            "file": "suites/user-service-contract.yaml",
            "match_labels": selected,
        },
    ]
    assert body["concurrency"] == 2
    assert body["timeout"] == "5m"


@pytest.mark.parametrize(
    ("path", "named"),
    [
        (f"{API}/nope/integrations", "nope"),
        (f"{API}/nope/integrations/gitea", "nope"),
        (f"{API}/nope/suites", "nope"),
        (f"{API}/shop/integrations/jenkins", "jenkins"),
        (f"{API}/shop/integrations/jenkins/trigger-rules", "jenkins"),
        (f"{API}/shop/suites/load-test", "load-test"),
    ],
)
async def test_config_view_unknown_workspace_or_name_is_404(
    server: RunningServer, path: str, named: str
) -> None:
    response = await server.client.get(path)
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["type"] == "NotFound"
    assert repr(named) in error["message"]
    assert error["config_revision"] == await current_revision(server)


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize(
    ("path", "edit"),
    [
        (API, None),
        (f"{API}/shop/integrations", "integrations/"),
        (f"{API}/shop/integrations/gitea", "integrations/gitea.yaml"),
        (f"{API}/shop/integrations/argocd-staging", "integrations/argocd-staging.yaml"),
        (f"{API}/shop/integrations/jenkins", "integrations/"),
        (f"{API}/shop/integrations/gitea/trigger-rules", "rules/"),
        (f"{API}/shop/suites", "suites/"),
        (f"{API}/shop/suites/checkout-smoke", "suites/checkout-smoke.yaml"),
        (f"{API}/shop/suites/user-service-contract", "suites/user-service-contract.yaml"),
    ],
)
async def test_config_view_write_is_405_pointing_at_the_file(
    server: RunningServer, config_dir: Path, method: str, path: str, edit: str | None
) -> None:
    response = await server.client.request(method, path, json={"name": "changed"})
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "GET"
    error = response.json()["error"]
    assert error["type"] == "MethodNotAllowed"
    assert "pull request on the config repo" in error["message"]
    assert "MESHGATE_CONFIG_REPO" in error["message"]
    assert error["edit"] == edit
    if edit is not None:
        assert edit in error["message"]
    assert error["config_revision"] == await current_revision(server)
    assert str(config_dir) not in response.text


async def test_config_view_write_changes_nothing(server: RunningServer) -> None:
    before = await get_json(server, f"{API}/shop/integrations/gitea")
    response = await server.client.delete(f"{API}/shop/integrations/gitea")
    assert response.status_code == 405
    assert await get_json(server, f"{API}/shop/integrations/gitea") == before


async def test_config_view_never_shows_a_secret_value(server: RunningServer) -> None:
    seen = [(await server.client.get(path)).text for path in READ_PATHS]
    for method in WRITE_METHODS:
        seen += [(await server.client.request(method, path)).text for path in READ_PATHS]
    assert any('"env":"GITEA_WEBHOOK_SECRET"' in text for text in seen)
    for text in seen:
        for value in SECRET_VALUES.values():
            assert value not in text


async def test_integration_url_credentials_are_not_shown(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    config = copy_example(tmp_path / "config")
    integration = config / "integrations" / "gitea.yaml"
    integration.write_text(
        integration.read_text().replace(
            "url: https://gitea.shop.internal", "url: https://bot:url-t0ken@gitea.shop.internal"
        )
    )
    async with started(settings_for(str(config), poll=3600), {}) as running:
        response = await running.client.get(f"{API}/shop/integrations/gitea")
        assert response.status_code == 200, response.text
        assert response.json()["config"] == {"url": "https://gitea.shop.internal"}
        assert "url-t0ken" not in response.text


async def test_config_view_is_503_before_any_valid_config(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    config = copy_example(tmp_path / "config")
    rule = config / "rules" / "staging-sync.yaml"
    rule.write_text(rule.read_text().replace("suite: checkout-smoke", "suite: checkout-smok"))
    async with running_server(settings_for(str(config), poll=3600)) as running:
        status = await eventually(
            lambda: config_status(running), until=lambda s: s["last_attempt"] is not None
        )
        assert status["applied"] is None
        response = await running.client.get(f"{API}/shop/integrations/gitea")
        assert response.status_code == 503, response.text
        assert response.json()["error"] == {
            "type": "TemporaryError",
            "message": "no valid config is loaded yet",
        }
        write = await running.client.put(f"{API}/shop/integrations/gitea")
        assert write.status_code == 405
        assert write.json()["error"]["edit"] is None
        assert write.json()["error"]["config_revision"] is None
