"""The Argo CD client against the fake Argo CD (a real loopback server checking each request
against Argo CD's swagger.json), and against a transport where a case needs exact control."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from controller.clients.argocd import (
    ApplicationConflict,
    ArgoCDClient,
    ArgoCDRejected,
    ArgoCDUnavailable,
)
from controller.settings import Secret
from tests.support.fake_argocd import FIXTURES, FakeArgoCD
from tests.support.server import serving

pytestmark = pytest.mark.anyio
TOKEN = Secret("argocd-token-for-client-tests-1b2c")
EXAMPLES = json.loads((FIXTURES / "assembled" / "api-examples.json").read_text())
APPLICATION: dict[str, Any] = EXAMPLES["requests"]["create"]["body"]
NAME = APPLICATION["metadata"]["name"]
PROJECT = APPLICATION["spec"]["project"]


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeArgoCD, ArgoCDClient]]:
    argocd = FakeArgoCD(token=TOKEN.reveal())
    async with serving(argocd) as base_url, ArgoCDClient(base_url=base_url) as client:
        yield argocd, client
    assert argocd.violations == []


async def test_create_then_poll_until_synced_and_healthy(
    fake: tuple[FakeArgoCD, ArgoCDClient],
) -> None:
    _, client = fake
    created = await client.create_application(APPLICATION, token=TOKEN)
    assert created["metadata"]["name"] == NAME
    seen = []
    for _ in range(10):
        app = await client.get_application(NAME, project=PROJECT, token=TOKEN)
        assert app is not None
        status = app["status"]
        seen.append((status.get("sync", {}).get("status"), status.get("health", {}).get("status")))
        if seen[-1] == ("Synced", "Healthy"):
            break
    assert seen[0] == ("OutOfSync", "Missing")
    assert seen[-1] == ("Synced", "Healthy")
    assert ("Synced", "Progressing") in seen


async def test_create_is_idempotent_and_a_different_app_is_a_conflict(
    fake: tuple[FakeArgoCD, ArgoCDClient],
) -> None:
    argocd, client = fake
    await client.create_application(APPLICATION, token=TOKEN)
    again = await client.create_application(APPLICATION, token=TOKEN)
    assert again["metadata"]["name"] == NAME
    changed = copy.deepcopy(APPLICATION)
    changed["spec"]["source"]["path"] = "deploy/other"
    with pytest.raises(ApplicationConflict, match="existing application spec is different"):
        await client.create_application(changed, token=TOKEN)
    adopted = await client.create_application(changed, token=TOKEN, upsert=True)
    assert adopted["spec"]["source"]["path"] == "deploy/other"
    assert len(argocd.created()) == 4


async def test_a_missing_app_is_none_because_the_project_is_always_sent(
    fake: tuple[FakeArgoCD, ArgoCDClient],
) -> None:
    argocd, client = fake
    assert await client.get_application("nope", project=PROJECT, token=TOKEN) is None
    assert await client.delete_application("nope", project=PROJECT, token=TOKEN) is False
    assert all(query.get("project") == PROJECT for _, _, query in argocd.requests)


async def test_delete_with_cascade_keeps_the_app_until_its_resources_are_gone(
    fake: tuple[FakeArgoCD, ArgoCDClient],
) -> None:
    argocd, client = fake
    argocd.delete_polls = 2
    await client.create_application(APPLICATION, token=TOKEN)
    assert await client.delete_application(NAME, project=PROJECT, token=TOKEN) is True
    deleting = await client.get_application(NAME, project=PROJECT, token=TOKEN)
    assert deleting is not None
    assert "deletionTimestamp" in deleting["metadata"]
    assert await client.delete_application(NAME, project=PROJECT, token=TOKEN) is True
    assert await client.get_application(NAME, project=PROJECT, token=TOKEN) is not None
    assert await client.get_application(NAME, project=PROJECT, token=TOKEN) is None


async def test_list_finds_apps_by_label_selector(fake: tuple[FakeArgoCD, ArgoCDClient]) -> None:
    _, client = fake
    await client.create_application(APPLICATION, token=TOKEN)
    other = copy.deepcopy(APPLICATION)
    other["metadata"]["name"] = "unrelated"
    other["metadata"]["labels"] = {"team": "x"}
    await client.create_application(other, token=TOKEN)
    found = await client.list_applications(
        selector="testenv.example.com/owner=testenv-controller", token=TOKEN
    )
    assert [app["metadata"]["name"] for app in found] == [NAME]


async def test_a_wrong_token_is_rejected_and_never_quoted(
    fake: tuple[FakeArgoCD, ArgoCDClient],
) -> None:
    _, client = fake
    with pytest.raises(ArgoCDRejected) as caught:
        await client.get_application(NAME, project=PROJECT, token=Secret("wrong-token-9"))
    assert caught.value.status == 401
    assert "no session information" in str(caught.value)
    assert "wrong-token-9" not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        (400, "another operation is already in progress", ArgoCDUnavailable),
        (400, "application spec for x is invalid: InvalidSpecError: bad", ArgoCDRejected),
        (403, "permission denied", ArgoCDRejected),
        (503, "unavailable", ArgoCDUnavailable),
        (500, "error while validating and normalizing app", ArgoCDUnavailable),
    ],
)
async def test_answers_are_classified(status: int, message: str, error: type[Exception]) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = {"error": message, "code": 3, "message": message, "details": []}
        return httpx.Response(status, json=body)

    async with ArgoCDClient(
        base_url="https://argocd.test", transport=httpx.MockTransport(answer)
    ) as client:
        with pytest.raises(error, match=message.split(":")[0]):
            await client.create_application(APPLICATION, token=TOKEN)


async def test_a_connection_refused_is_temporary() -> None:
    async with ArgoCDClient(base_url="http://127.0.0.1:9") as client:
        with pytest.raises(ArgoCDUnavailable, match="ConnectError"):
            await client.get_application(NAME, project=PROJECT, token=TOKEN)


async def test_the_fake_flags_a_request_outside_the_contract() -> None:
    argocd = FakeArgoCD(token=TOKEN.reveal())
    async with serving(argocd) as base_url, httpx.AsyncClient(base_url=base_url) as raw:
        answer = await raw.delete(
            f"/api/v1/applications/{NAME}", params={"cascade": "yes", "colour": "red"}
        )
    assert answer.status_code == 400
    assert any("cascade must be true or false" in v for v in argocd.violations)
    assert any("colour is not documented" in v for v in argocd.violations)
