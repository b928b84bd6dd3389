"""``GET /api/v1/openapi.json`` is a valid OpenAPI 3.1 document that describes exactly the
app's JSON routes and methods: a route added without its description fails here."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import pytest
from openapi_spec_validator import validate
from starlette.routing import Mount, Route

from controller.settings import Settings
from tests.support.config import EXAMPLE
from tests.support.server import running_server

pytestmark = pytest.mark.anyio
SettingsFor = Callable[..., Settings]
PAGES = ("/", "/runs", "/deliveries", "/environments", "/config")


def _json_routes(routes: Sequence[object]) -> set[tuple[str, str]]:
    described = set()
    for route in routes:
        if isinstance(route, Mount) or not isinstance(route, Route):
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        if not (path.startswith("/api/") or path in ("/healthz", "/readyz")):
            continue
        for method in route.methods or ():
            if method != "HEAD":
                described.add((path, method.lower()))
    return described


async def test_the_openapi_document_is_valid_and_matches_the_routes(
    settings_for: SettingsFor,
) -> None:
    async with running_server(settings_for(str(EXAMPLE), poll=3600)) as server:
        answer = await server.client.get("/api/v1/openapi.json")
        routes = list(server.controller.app.routes)
    assert answer.status_code == 200
    document = answer.json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    documented = {
        (path, method)
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }
    served = _json_routes(routes)
    assert served - documented == set(), "routes without a description"
    assert documented - served == set(), "descriptions of routes that do not exist"
    assert not any(path in PAGES for path, _ in documented), "pages are HTML, not API"
