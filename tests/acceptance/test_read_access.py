"""Read tokens (``MESHGATE_READ_TOKENS``): without them the dashboard and the read API are
open; with them a browser signs in once (a cookie), scripts send a bearer token, and the
health checks, webhooks and writes keep their own rules."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

import pytest

from controller.settings import Secret, Settings
from tests.support.config import EXAMPLE
from tests.support.server import running_server

pytestmark = pytest.mark.anyio
READ = "read-token-for-exposed-installs-7e"
API = "api-token-that-also-reads-2b"
SettingsFor = Callable[..., Settings]


async def test_without_read_tokens_everything_reads_openly(settings_for: SettingsFor) -> None:
    settings = settings_for(str(EXAMPLE), poll=3600, api_tokens=(Secret(API),))
    async with running_server(settings) as server:
        for path in ("/", "/runs", "/api/v1/runs", "/metrics", "/config"):
            assert (await server.client.get(path)).status_code == 200, path


async def test_with_read_tokens_pages_ask_for_a_sign_in_and_reads_for_a_token(
    settings_for: SettingsFor,
) -> None:
    settings = settings_for(
        str(EXAMPLE), poll=3600, read_tokens=(Secret(READ),), api_tokens=(Secret(API),)
    )
    async with running_server(settings) as server:
        client = server.client
        page = await client.get("/runs?state=failed")
        assert page.status_code == 303
        assert page.headers["location"] == f"/login?next={quote('/runs?state=failed', safe='')}"
        api = await client.get("/api/v1/runs")
        assert api.status_code == 401
        assert api.json()["error"]["message"] == "a read token is required"
        assert (await client.get("/metrics")).status_code == 401
        for path in ("/healthz", "/readyz", "/static/meshgate.css", "/login"):
            assert (await client.get(path)).status_code == 200, path
        webhook = await client.post("/api/v1/webhooks/gitea", content=b"{}")
        assert webhook.status_code in (400, 401, 415), "webhooks keep their own authentication"

        for token in (READ, API):
            bearer = await client.get("/api/v1/runs", headers={"Authorization": f"Bearer {token}"})
            assert bearer.status_code == 200

        login = await client.get("/login?next=/config")
        assert 'name="next" value="/config"' in login.text.replace("'", '"')
        wrong = await client.post("/login", data={"token": "guess", "next": "/config"})
        assert wrong.status_code == 401
        assert "not valid" in wrong.text
        signed_in = await client.post("/login", data={"token": READ, "next": "/config"})
        assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/config")
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "samesite=strict" in cookie.lower()
        assert READ not in cookie, "the cookie holds an HMAC, not the token"
        assert (await client.get("/config")).status_code == 200
        elsewhere = await client.post("/login", data={"token": READ, "next": "//evil.example/"})
        assert elsewhere.headers["location"] == "/"
        client.cookies.clear()
        assert (await client.get("/config")).status_code == 303
        assert re.search(r"meshgate_read=[0-9a-f]{64}", cookie)
