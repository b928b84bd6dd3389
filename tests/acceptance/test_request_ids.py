"""Every answer carries ``X-Request-Id``: the caller's when it is short and plain, else a new
one (the id every log line about the request carries)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from controller.settings import Settings
from tests.support.config import EXAMPLE
from tests.support.server import running_server

pytestmark = pytest.mark.anyio
SettingsFor = Callable[..., Settings]


async def test_answers_carry_the_request_id(settings_for: SettingsFor) -> None:
    async with running_server(settings_for(str(EXAMPLE), poll=3600)) as server:
        given = await server.client.get("/healthz", headers={"X-Request-Id": "trace-42.a_b"})
        fresh = await server.client.get("/api/v1/runs")
        odd = await server.client.get("/healthz", headers={"X-Request-Id": "two words"})
        missing = await server.client.get("/api/v1/runs/999999")
    assert given.headers["x-request-id"] == "trace-42.a_b"
    assert re.fullmatch(r"[0-9a-f]{16}", fresh.headers["x-request-id"])
    assert re.fullmatch(r"[0-9a-f]{16}", odd.headers["x-request-id"])
    assert missing.status_code == 404
    assert re.fullmatch(r"[0-9a-f]{16}", missing.headers["x-request-id"])
    assert len({fresh.headers["x-request-id"], odd.headers["x-request-id"]}) == 2
