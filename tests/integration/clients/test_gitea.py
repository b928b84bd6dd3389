"""The Gitea client against the fake Gitea (a real loopback server checking each request
against Gitea's OpenAPI document), and against a transport where a case needs exact control."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from controller.clients.gitea import (
    GiteaClient,
    GiteaRejected,
    GiteaServerError,
    GiteaUnavailable,
    StatusBody,
)
from controller.settings import Secret
from tests.support.fake_gitea import FakeGitea
from tests.support.server import serving

pytestmark = pytest.mark.anyio
TOKEN = "gitea-token-for-client-tests-7f3a9c"
SHA = "9f0e1d2c3b4a59687766554433221100ffeeddcc"
PENDING = StatusBody("pending", "meshgate/checkout-smoke", "queued", "http://mg/runs/1")


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeGitea, GiteaClient]]:
    gitea = FakeGitea(token=TOKEN)
    async with serving(gitea) as base_url:
        client = GiteaClient(base_url=base_url)
        try:
            yield gitea, client
        finally:
            await client.aclose()
    assert gitea.violations == []


async def test_create_status_posts_the_four_fields_with_a_token_header(
    fake: tuple[FakeGitea, GiteaClient],
) -> None:
    gitea, client = fake
    await client.create_status("alice/demo", SHA, PENDING, token=Secret(TOKEN))
    (row,) = gitea.statuses[("alice/demo", SHA)]
    assert (row["status"], row["context"], row["description"], row["target_url"]) == (
        "pending",
        "meshgate/checkout-smoke",
        "queued",
        "http://mg/runs/1",
    )


async def test_a_wrong_token_is_rejected_and_never_quoted(
    fake: tuple[FakeGitea, GiteaClient],
) -> None:
    _, client = fake
    with pytest.raises(GiteaRejected) as caught:
        await client.create_status("alice/demo", SHA, PENDING, token=Secret("wrong-token-123"))
    assert caught.value.status == 401
    assert "invalid username, password or token" in str(caught.value)
    assert "wrong-token-123" not in str(caught.value)


async def test_an_unknown_repository_is_permanent(fake: tuple[FakeGitea, GiteaClient]) -> None:
    _, client = fake
    with pytest.raises(GiteaRejected) as caught:
        await client.create_status("alice/missing", SHA, PENDING, token=Secret(TOKEN))
    assert caught.value.status == 404


async def test_an_unknown_sha_is_a_server_error(fake: tuple[FakeGitea, GiteaClient]) -> None:
    gitea, client = fake
    gitea.known_shas = set()
    with pytest.raises(GiteaServerError, match="500"):
        await client.create_status("alice/demo", SHA, PENDING, token=Secret(TOKEN))


@pytest.mark.parametrize("code", [429, 502, 503, 504])
async def test_overload_answers_are_temporary_with_retry_after(
    fake: tuple[FakeGitea, GiteaClient], code: int
) -> None:
    gitea, client = fake
    gitea.fail(code, times=1, retry_after="7")
    with pytest.raises(GiteaUnavailable) as caught:
        await client.create_status("alice/demo", SHA, PENDING, token=Secret(TOKEN))
    assert caught.value.retry_after == 7.0
    await client.create_status("alice/demo", SHA, PENDING, token=Secret(TOKEN))
    assert gitea.statuses_of("alice/demo", SHA) == ["pending"]


async def test_a_dropped_connection_is_temporary(fake: tuple[FakeGitea, GiteaClient]) -> None:
    gitea, client = fake
    gitea.fail(None, times=1)
    with pytest.raises(GiteaUnavailable):
        await client.create_status("alice/demo", SHA, PENDING, token=Secret(TOKEN))


async def test_a_connection_refused_is_temporary() -> None:
    client = GiteaClient(base_url="http://127.0.0.1:9")
    try:
        with pytest.raises(GiteaUnavailable, match="ConnectError"):
            await client.create_status("alice/demo", SHA, PENDING, token=Secret(TOKEN))
    finally:
        await client.aclose()


async def test_comments_are_listed_created_and_edited(
    fake: tuple[FakeGitea, GiteaClient],
) -> None:
    gitea, client = fake
    for n in range(55):
        await client.create_comment("alice/demo", 12, f"comment {n}", token=Secret(TOKEN))
    comments = await client.list_comments("alice/demo", 12, token=Secret(TOKEN))
    assert [c.body for c in comments] == [f"comment {n}" for n in range(55)]
    assert comments[0].author == "ci-bot"
    await client.edit_comment("alice/demo", comments[3].id, "edited", token=Secret(TOKEN))
    assert gitea.comments[("alice/demo", 12)][3]["body"] == "edited"


async def test_a_redirect_is_not_followed_and_names_the_new_place() -> None:
    seen: list[httpx.Request] = []

    def moved(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(301, headers={"Location": "/api/v1/repos/alice/renamed/statuses/x"})

    client = GiteaClient(base_url="https://gitea.test/git/", transport=httpx.MockTransport(moved))
    try:
        with pytest.raises(GiteaRejected, match="moved to /api/v1/repos/alice/renamed"):
            await client.create_status("alice/demo", SHA, PENDING, token=Secret(TOKEN))
    finally:
        await client.aclose()
    (request,) = seen
    assert str(request.url) == f"https://gitea.test/git/api/v1/repos/alice/demo/statuses/{SHA}"
    assert request.headers["authorization"] == f"token {TOKEN}"
    assert json.loads(request.content)["state"] == "pending"


async def test_the_fake_flags_a_request_outside_the_contract() -> None:
    gitea = FakeGitea(token=TOKEN)
    async with serving(gitea) as base_url, httpx.AsyncClient(base_url=base_url) as raw:
        answer = await raw.post(
            f"/api/v1/repos/alice/demo/statuses/{SHA}",
            json={"state": "pending", "colour": "red"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        unknown = await raw.post("/api/v1/repos/alice/demo/status", json={})
    assert (answer.status_code, unknown.status_code) == (422, 422)
    assert any("colour" in v for v in gitea.violations)
    assert any("Authorization" in v for v in gitea.violations)
    assert any("not a documented path" in v for v in gitea.violations)


async def test_credentials_in_the_base_url_never_reach_an_error() -> None:
    client = GiteaClient(base_url="http://bot:url-secret-77@127.0.0.1:9")
    try:
        with pytest.raises(GiteaUnavailable) as caught:
            await client.create_status("alice/demo", SHA, PENDING, token=Secret(TOKEN))
    finally:
        await client.aclose()
    assert "url-secret-77" not in str(caught.value)
    assert "http://127.0.0.1:9/api/v1/repos/alice/demo" in str(caught.value)
