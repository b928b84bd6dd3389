"""Deliveries turned into queued runs through the whole app: matching, decisions, supersede,
explain, manual runs."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from controller.settings import Secret, Settings
from tests.acceptance.helpers import WEBHOOK_ENVIRON, config_status, copy_example_for_webhooks
from tests.support.server import RunningServer, running_server
from tests.support.waiting import eventually
from tests.support.webhooks import (
    ARGOCD_HEADERS,
    FIXTURES,
    argocd_body,
    fixture_request,
    signed,
)

pytestmark = pytest.mark.anyio

SettingsFor = Callable[..., Settings]
API_TOKEN = "api-token-for-tests"
DEMO_RULES = """\
apiVersion: meshgate.dev/v1alpha1
kind: TriggerRule
metadata: {name: demo-push, workspace: shop}
spec:
  integration: gitea
  repository: alice/demo
  branch_filter: main
  event_types: [push]
  suite: user-service-contract
  status_context: meshgate/demo-push
---
apiVersion: meshgate.dev/v1alpha1
kind: TriggerRule
metadata: {name: demo-pull-requests, workspace: shop}
spec:
  integration: gitea
  repository: "alice/*"
  event_types: [pull_request]
  suite: user-service-contract
  status_context: meshgate/demo-pr
"""
SHA_1 = "3b1f0e2c9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c"
SHA_2 = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"


def preview_sync(revision: str = SHA_1, app: str = "user-service-pr-123") -> bytes:
    return argocd_body(app, revision)


async def start(tmp_path: Path, settings_for: SettingsFor, **extra: object) -> Any:
    config = copy_example_for_webhooks(tmp_path / "config")
    (config / "rules" / "demo.yaml").write_text(DEMO_RULES)
    return running_server(settings_for(str(config), poll=3600, **extra), environ=WEBHOOK_ENVIRON)


@pytest.fixture
async def server(tmp_path: Path, settings_for: SettingsFor) -> AsyncIterator[RunningServer]:
    async with await start(
        tmp_path, settings_for, api_tokens=(Secret("other-token"), Secret(API_TOKEN))
    ) as running:
        await eventually(lambda: config_status(running), until=lambda s: s["applied"] is not None)
        yield running


async def deliver(server: RunningServer, fixture: str) -> dict[str, Any]:
    headers, body = fixture_request(FIXTURES / f"{fixture}.headers.json")
    response = await server.client.post("/api/v1/webhooks/gitea", content=body, headers=headers)
    assert response.status_code == 202, response.text
    detail = await server.client.get(f"/api/v1/deliveries/{response.json()['delivery']}")
    assert detail.status_code == 200
    result: dict[str, Any] = detail.json()
    return result


@pytest.mark.parametrize(
    ("fixture", "rules"),
    [
        ("webhook-push-branch", ["demo-push"]),
        ("webhook-push-new-branch", []),
        ("webhook-pull_request-opened", ["demo-pull-requests"]),
        ("webhook-pull_request-synchronized-fork", ["demo-pull-requests"]),
        ("webhook-pull_request-closed-merged", []),
        ("webhook-push-tag", []),
        ("webhook-push-tag-delete", []),
        ("webhook-push-test-delivery", []),
        ("webhook-delete-branch", []),
    ],
)
async def test_gitea_fixture_queues_runs_for_the_matching_rules_only(
    server: RunningServer, fixture: str, rules: list[str]
) -> None:
    delivery = await deliver(server, fixture)

    assert [run["rule"] for run in delivery["runs"]] == rules
    for run in delivery["runs"]:
        assert run["state"] == "queued"
        assert run["trigger_type"] == "webhook"
        assert run["trigger_ref"] == delivery["revision"]
        assert run["delivery"] == delivery["id"]
        assert run["config_revision"] == delivery["config_revision"]
    listed = (await server.client.get("/api/v1/runs")).json()["runs"]
    assert [run["rule"] for run in listed] == rules
    if not delivery["trigger"]:
        assert delivery["match"]["ignored_reason"] == delivery["ignored_reason"]
        assert delivery["match"]["decisions"] == []


async def test_delivery_detail_shows_every_rule_the_failed_predicate_and_the_values(
    server: RunningServer,
) -> None:
    delivery = await deliver(server, "webhook-push-new-branch")

    status = await config_status(server)
    match = delivery["match"]
    assert match["config_revision"] == status["applied"]["revision"]
    assert delivery["config_revision"] == status["applied"]["revision"]
    assert match["summary"] == "0 of 4 rules matched"
    decisions = {d["rule"]: d for d in match["decisions"]}
    assert set(decisions) == {
        "demo-push",
        "demo-pull-requests",
        "service-pull-requests",
        "user-service-push",
    }
    push = decisions["demo-push"]
    assert (push["outcome"], push["failed"]) == ("not_matched", ["branch_filter"])
    assert {
        "predicate": "branch_filter",
        "passed": False,
        "expected": "main",
        "actual": "feature/login-form",
    } in push["checks"]
    assert decisions["demo-pull-requests"]["failed"] == ["event_type"]
    assert decisions["user-service-push"]["failed"] == ["repository", "branch_filter"]
    assert "gitea-fixture-secret" not in json.dumps(delivery)


async def test_replayed_and_resent_deliveries_queue_no_second_run(server: RunningServer) -> None:
    headers, body = fixture_request(FIXTURES / "webhook-pull_request-opened.headers.json")
    first = await server.client.post("/api/v1/webhooks/gitea", content=body, headers=headers)
    assert first.status_code == 202
    replay = {**headers, "X-Gitea-Delivery": "0e0e0e0e-1111-4222-8333-444444444444"}
    for sent in (headers, replay):
        again = await server.client.post("/api/v1/webhooks/gitea", content=body, headers=sent)
        assert again.status_code == 200
        assert again.json()["duplicate"] is True
    assert len((await server.client.get("/api/v1/runs")).json()["runs"]) == 1


async def test_argocd_testmesh_body_queues_the_preview_run_in_its_context(
    server: RunningServer,
) -> None:
    response = await server.client.post(
        "/api/v1/webhooks/argocd", content=preview_sync(), headers=ARGOCD_HEADERS
    )
    assert response.status_code == 202, response.text

    (run,) = (await server.client.get("/api/v1/runs?trigger_type=argocd")).json()["runs"]
    assert run["rule"] == "user-service-pr-preview"
    assert (run["context"], run["template"], run["pr_number"]) == ("pr-123", "pr-preview", 123)
    assert (run["trigger_ref"], run["repository"]) == (SHA_1, "user-service-pr-123")
    assert run["status_context"] == "meshgate/checkout-smoke"
    assert (run["status_target"], run["status_problem"]) == (
        {
            "workspace": "shop",
            "integration": "gitea",
            "repository": "shop/user-service",
            "sha": SHA_1,
        },
        None,
    )
    single = await server.client.get(f"/api/v1/runs/{run['id']}")
    assert single.json() == {**run, "attempts": [], "statuses": [], "result": None}


async def test_newer_revision_supersedes_the_queued_run_of_the_same_context(
    server: RunningServer,
) -> None:
    for revision in (SHA_1, SHA_2):
        response = await server.client.post(
            "/api/v1/webhooks/argocd", content=preview_sync(revision), headers=ARGOCD_HEADERS
        )
        assert response.status_code == 202
    newer, older = (await server.client.get("/api/v1/runs")).json()["runs"]
    assert (newer["trigger_ref"], newer["state"]) == (SHA_2, "queued")
    assert (older["trigger_ref"], older["state"]) == (SHA_1, "superseded")
    assert older["superseded_by"] == newer["id"]
    queued = (await server.client.get("/api/v1/runs?state=queued")).json()["runs"]
    assert [run["id"] for run in queued] == [newer["id"]]


async def test_explain_evaluates_a_payload_without_side_effects(server: RunningServer) -> None:
    _, body = fixture_request(FIXTURES / "webhook-push-branch.headers.json")
    response = await server.client.post(
        "/api/v1/explain", json={"source": "gitea", "payload": json.loads(body)}
    )
    assert response.status_code == 200, response.text
    explained = response.json()
    assert explained["event"]["type"] == "push"
    (gitea,) = explained["integrations"]
    assert gitea["integration"] == "shop/gitea"
    assert [run["rule"] for run in gitea["would_queue"]] == ["demo-push"]
    assert len(gitea["decisions"]) == gitea["rules_total"] == 4

    only = await server.client.post(
        "/api/v1/explain",
        json={"source": "argocd", "payload": json.loads(preview_sync()), "rule": "staging-sync"},
    )
    (argocd,) = only.json()["integrations"]
    (decision,) = argocd["decisions"]
    assert decision["reason"] == "repository '*-service' does not match 'user-service-pr-123'"
    assert await server.controller.storage.recent_deliveries() == []
    assert await server.controller.storage.list_runs() == []


@pytest.mark.parametrize(
    ("request_body", "status", "message"),
    [
        ({"source": "svn", "payload": {}}, 400, "source must be one of: argocd, gitea; got 'svn'"),
        ({"source": "gitea"}, 400, "payload: expected the webhook body, a JSON object"),
        ({"source": "argocd", "payload": {"app_name": 3}}, 400, "app_name: expected a string"),
        ({"source": "gitea", "payload": {"x": 1}}, 400, "cannot tell which Gitea event"),
        ({"source": "gitea", "payload": {}, "extra": 1}, 400, "unknown field 'extra'"),
        (
            {"source": "argocd", "payload": json.loads(preview_sync()), "integration": "nope"},
            404,
            "no argocd integration named 'nope'",
        ),
    ],
)
async def test_explain_bad_requests_say_why(
    server: RunningServer, request_body: dict[str, Any], status: int, message: str
) -> None:
    response = await server.client.post("/api/v1/explain", json=request_body)
    assert response.status_code == status
    assert message in response.json()["error"]["message"]


async def test_manual_run_needs_an_api_token_and_queues_a_manual_run(
    server: RunningServer,
) -> None:
    path = "/api/v1/workspaces/shop/suites/checkout-smoke/runs"
    missing = await server.client.post(path)
    assert missing.status_code == 401
    assert missing.json()["error"]["message"].startswith("API token required")
    wrong = await server.client.post(path, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert API_TOKEN not in wrong.text

    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    created = await server.client.post(
        path,
        headers=auth,
        json={"context": "pr-9", "routes": {"user-service": "http://127.0.0.1:9/x"}},
    )
    assert created.status_code == 201, created.text
    run = created.json()
    assert created.headers["location"] == f"/api/v1/runs/{run['id']}"
    assert (run["trigger_type"], run["trigger_ref"], run["state"]) == ("manual", None, "queued")
    assert (run["suite"], run["context"], run["template"]) == ("checkout-smoke", "pr-9", "staging")
    assert (run["status_context"], run["delivery"], run["rule"]) == (None, None, None)
    assert run["routes"] == {"user-service": "http://127.0.0.1:9/x"}
    plain = await server.client.post(path, headers=auth)
    assert plain.status_code == 201
    manual = (await server.client.get("/api/v1/runs?trigger_type=manual")).json()["runs"]
    assert [r["state"] for r in manual] == ["queued", "queued"]


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/api/v1/workspaces/shop/suites/nope/runs", {}, 404, "Suite 'nope' not found"),
        ("/api/v1/workspaces/else/suites/checkout-smoke/runs", {}, 404, "not found"),
        ("/api/v1/workspaces/shop/suites/checkout-smoke/runs", {"ttl": 1}, 400, "unknown option"),
        (
            "/api/v1/workspaces/shop/suites/checkout-smoke/runs",
            {"template": "nope"},
            404,
            "EnvironmentTemplate 'nope' not found",
        ),
        (
            "/api/v1/workspaces/shop/suites/checkout-smoke/runs",
            {"context": "has space"},
            400,
            "context: expected",
        ),
        (
            "/api/v1/workspaces/shop/suites/checkout-smoke/runs",
            {"routes": {"user-service": "http://u:p@h/"}},
            400,
            "credentials in the URL",
        ),
        (
            "/api/v1/workspaces/shop/suites/checkout-smoke/runs",
            {"routes": {"user-service": "ftp://h/"}},
            400,
            "expected an http(s) URL",
        ),
    ],
)
async def test_manual_run_bad_options_are_refused_before_anything_is_queued(
    server: RunningServer, path: str, body: dict[str, Any], status: int, message: str
) -> None:
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    response = await server.client.post(path, headers=auth, json=body)
    assert response.status_code == status
    assert message in response.json()["error"]["message"]
    assert await server.controller.storage.list_runs() == []


async def test_manual_run_without_configured_tokens_is_forbidden(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    async with await start(tmp_path, settings_for) as running:
        await eventually(lambda: config_status(running), until=lambda s: s["applied"] is not None)
        response = await running.client.post(
            "/api/v1/workspaces/shop/suites/checkout-smoke/runs",
            headers={"Authorization": "Bearer anything"},
        )
        assert response.status_code == 403
        assert "MESHGATE_API_TOKENS" in response.json()["error"]["message"]


async def test_deliveries_list_pages_newest_first_and_filters(server: RunningServer) -> None:
    for fixture in ("webhook-push-branch", "webhook-push-tag", "webhook-pull_request-opened"):
        await deliver(server, fixture)
    await server.client.post(
        "/api/v1/webhooks/argocd", content=preview_sync(), headers=ARGOCD_HEADERS
    )
    page = (await server.client.get("/api/v1/deliveries?limit=2")).json()
    assert [d["event"] for d in page["deliveries"]] == ["sync", "pull_request"]
    rest = (await server.client.get(f"/api/v1/deliveries?before={page['next_before']}")).json()
    assert [d["event"] for d in rest["deliveries"]] == ["push", "push"]
    assert rest["next_before"] is None
    gitea = (await server.client.get("/api/v1/deliveries?source=gitea")).json()
    assert len(gitea["deliveries"]) == 3
    bad = await server.client.get("/api/v1/deliveries?limit=0")
    assert bad.status_code == 400
    missing = await server.client.get("/api/v1/deliveries/99999999999999999999")
    assert missing.status_code == 404


async def test_parallel_copies_of_one_delivery_make_one_row_and_one_run(
    server: RunningServer,
) -> None:
    headers, body = fixture_request(FIXTURES / "webhook-pull_request-opened.headers.json")
    copies = [
        server.client.post("/api/v1/webhooks/gitea", content=body, headers=headers)
        for _ in range(10)
    ]
    responses = await asyncio.gather(*copies)
    assert sorted(r.status_code for r in responses) == [200] * 9 + [202]
    assert len(await server.controller.storage.recent_deliveries()) == 1
    (run,) = (await server.client.get("/api/v1/runs")).json()["runs"]
    assert run["rule"] == "demo-pull-requests"


async def test_delivery_the_database_cannot_take_in_time_is_503_and_is_not_lost(
    server: RunningServer, tmp_path: Path
) -> None:
    headers, body = fixture_request(FIXTURES / "webhook-push-branch.headers.json")
    # Another process holding the write lock. Taken off the event loop: the server runs on
    # this loop, and may be mid-transaction itself (recording the config revision).
    blocker = sqlite3.connect(
        tmp_path / "data" / "meshgate.db", isolation_level=None, check_same_thread=False
    )
    await asyncio.to_thread(blocker.execute, "BEGIN IMMEDIATE")
    try:
        refused = await server.client.post("/api/v1/webhooks/gitea", content=body, headers=headers)
        assert refused.status_code == 503
        assert "did not take the delivery within 2s" in refused.json()["error"]["message"]
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    resent = await server.client.post("/api/v1/webhooks/gitea", content=body, headers=headers)
    assert resent.status_code in (200, 202)  # the first write may have committed meanwhile
    await eventually(
        server.controller.storage.recent_deliveries,
        until=lambda deliveries: len(deliveries) == 1,
        what="exactly one delivery stored",
    )
    (run,) = (await server.client.get("/api/v1/runs")).json()["runs"]
    assert run["rule"] == "demo-push"


async def test_rollback_re_push_of_an_old_commit_queues_a_new_run(server: RunningServer) -> None:
    """main: A, then B, then A again (a force-push back). The third push carries the same
    commit as the first but another ``before``: a new event, not a replay."""
    _, template = fixture_request(FIXTURES / "webhook-push-branch.headers.json")
    a, b, origin = "a" * 40, "b" * 40, "c" * 40
    for before, after in ((origin, a), (a, b), (b, a)):
        data = json.loads(template)
        data["before"], data["after"] = before, after
        body = json.dumps(data).encode()
        response = await server.client.post(
            "/api/v1/webhooks/gitea", content=body, headers=signed(body)
        )
        assert response.status_code == 202, response.text
    runs = (await server.client.get("/api/v1/runs")).json()["runs"]
    assert [run["trigger_ref"] for run in runs] == [a, b, a]
    replay = await server.client.post("/api/v1/webhooks/gitea", content=body, headers=signed(body))
    assert replay.json()["duplicate"] is True


async def test_argocd_rollback_is_tested_again_and_a_repeat_is_not(server: RunningServer) -> None:
    for revision in (SHA_1, SHA_2, SHA_1):
        response = await server.client.post(
            "/api/v1/webhooks/argocd", content=preview_sync(revision), headers=ARGOCD_HEADERS
        )
        assert response.status_code == 202, response.text
    repeat = await server.client.post(
        "/api/v1/webhooks/argocd", content=preview_sync(SHA_1), headers=ARGOCD_HEADERS
    )
    assert repeat.json()["duplicate"] is True
    runs = (await server.client.get("/api/v1/runs")).json()["runs"]
    assert [(run["trigger_ref"], run["state"]) for run in runs] == [
        (SHA_1, "queued"),
        (SHA_2, "superseded"),
        (SHA_1, "superseded"),
    ]
