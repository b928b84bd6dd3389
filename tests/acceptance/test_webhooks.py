"""Webhook intake through the whole app: authenticate, record once, answer in the contract."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from controller.settings import Settings
from tests.acceptance.helpers import config_status, copy_example
from tests.support.server import RunningServer, running_server
from tests.support.waiting import eventually
from tests.support.webhooks import (
    ARGOCD_TOKEN,
    FIXTURES,
    GITEA_SECRET,
    HEADER_FILES,
    fixture_request,
    signed,
)

pytestmark = pytest.mark.anyio

SettingsFor = Callable[..., Settings]


@pytest.fixture
async def server(tmp_path: Path, settings_for: SettingsFor) -> AsyncIterator[RunningServer]:
    config = copy_example(tmp_path / "config")
    argocd = config / "integrations" / "argocd-staging.yaml"
    argocd.write_text(
        argocd.read_text().replace(
            "{file: /run/secrets/meshgate/argocd-webhook-token}", "{env: ARGOCD_WEBHOOK_TOKEN}"
        )
    )
    environ = {"GITEA_WEBHOOK_SECRET": GITEA_SECRET, "ARGOCD_WEBHOOK_TOKEN": ARGOCD_TOKEN}
    async with running_server(settings_for(str(config), poll=3600), environ=environ) as running:
        await eventually(lambda: config_status(running), until=lambda s: s["applied"] is not None)
        yield running


@pytest.mark.parametrize("headers_file", HEADER_FILES, ids=lambda p: p.name.split(".")[0])
async def test_webhook_gitea_fixture_is_accepted_once(
    server: RunningServer, headers_file: Path
) -> None:
    headers, body = fixture_request(headers_file)
    first = await server.client.post("/api/v1/webhooks/gitea", content=body, headers=headers)
    assert first.status_code == 202, first.text
    accepted: dict[str, Any] = first.json()
    assert accepted["duplicate"] is False
    assert accepted["integration"] == "shop/gitea"
    again = await server.client.post("/api/v1/webhooks/gitea", content=body, headers=headers)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["delivery"] == accepted["delivery"]
    stored = await server.controller.storage.get_delivery(accepted["delivery"])
    assert stored.raw_body == body
    assert stored.event.type == accepted["event"]


async def test_webhook_gitea_replay_with_a_new_delivery_id_is_a_duplicate(
    server: RunningServer,
) -> None:
    headers, body = fixture_request(FIXTURES / "webhook-push-branch.headers.json")
    first = await server.client.post("/api/v1/webhooks/gitea", content=body, headers=headers)
    assert first.json()["trigger"] is True
    replay = {**headers, "X-Gitea-Delivery": "11111111-2222-4333-8444-555555555555"}
    again = await server.client.post("/api/v1/webhooks/gitea", content=body, headers=replay)
    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("one byte", "signature does not match any configured webhook secret"),
        ("no signature", "missing X-Gitea-Signature header"),
        ("reserialized", "signature does not match any configured webhook secret"),
    ],
)
async def test_webhook_gitea_bad_signature_is_401_with_a_reason(
    server: RunningServer, change: str, reason: str
) -> None:
    headers, body = fixture_request(FIXTURES / "webhook-push-branch.headers.json")
    if change == "one byte":
        body = body[:-2] + b" " + body[-1:]
    elif change == "reserialized":
        body = json.dumps(json.loads(body)).encode()
    else:
        headers = {k: v for k, v in headers.items() if "signature" not in k.lower()}
    response = await server.client.post("/api/v1/webhooks/gitea", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == reason
    assert await server.controller.storage.recent_deliveries() == []


async def test_webhook_gitea_bad_bodies_get_4xx_and_are_not_stored(server: RunningServer) -> None:
    client = server.client
    invalid = b'{"ref": 12}'
    response = await client.post("/api/v1/webhooks/gitea", content=invalid, headers=signed(invalid))
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "repository: is required (missing)"
    broken = b"{not json"
    response = await client.post("/api/v1/webhooks/gitea", content=broken, headers=signed(broken))
    assert response.status_code == 400
    huge = b"{" + b" " * (1 << 20) + b"}"
    response = await client.post("/api/v1/webhooks/gitea", content=huge, headers=signed(huge))
    assert response.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 65536

    response = await client.post("/api/v1/webhooks/gitea", content=chunks(), headers=signed(b""))
    assert response.status_code == 413
    text = {**signed(invalid), "Content-Type": "text/plain"}
    response = await client.post("/api/v1/webhooks/gitea", content=invalid, headers=text)
    assert response.status_code == 415
    assert await server.controller.storage.recent_deliveries() == []


async def test_webhook_gitea_parallel_copies_make_one_row(server: RunningServer) -> None:
    headers, body = fixture_request(FIXTURES / "webhook-pull_request-opened.headers.json")
    responses = await asyncio.gather(
        *(
            server.client.post("/api/v1/webhooks/gitea", content=body, headers=headers)
            for _ in range(10)
        )
    )
    assert sorted(r.status_code for r in responses) == [200] * 9 + [202]
    assert len({r.json()["delivery"] for r in responses}) == 1
    assert len(await server.controller.storage.recent_deliveries()) == 1


ARGOCD_BODY = json.dumps(
    {
        "app_name": "user-service-pr-123",
        "revision": "3b1f0e2c9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c",
        "repository": "https://gitea.shop.internal/shop/user-service.git",
        "status": "Synced",
        "health": "Healthy",
    }
).encode()


async def test_webhook_argocd_bearer_token_and_duplicates(server: RunningServer) -> None:
    auth = {"Authorization": f"Bearer {ARGOCD_TOKEN}", "Content-Type": "application/json"}
    first = await server.client.post("/api/v1/webhooks/argocd", content=ARGOCD_BODY, headers=auth)
    assert first.status_code == 202, first.text
    assert first.json()["trigger"] is True
    assert first.json()["integration"] == "shop/argocd-staging"
    alias = "/api/v1/integrations/webhooks/argocd"
    again = await server.client.post(
        alias, content=ARGOCD_BODY, headers={"Authorization": auth["Authorization"]}
    )
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    wrong = await server.client.post(
        "/api/v1/webhooks/argocd", content=ARGOCD_BODY, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["message"] == "bearer token does not match"
    assert ARGOCD_TOKEN not in wrong.text
    named = await server.client.post(
        "/api/v1/webhooks/argocd/argocd-prod", content=ARGOCD_BODY, headers=auth
    )
    assert named.status_code == 401
    assert (
        named.json()["error"]["message"]
        == "no Argo CD integration named 'argocd-prod' is configured"
    )
