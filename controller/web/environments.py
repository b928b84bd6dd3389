"""``GET /api/v1/workspaces/{ws}/environments``: the workspace's test environments.

Each with its context, template, state, times (created, ready, last used, expires) and the
runs holding it; ``?active=true`` leaves out the deleted and failed ones.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from controller.storage import Storage
from controller.web.params import PAGE_MAX, int_param, text_param


def environment_routes(*, storage: Storage) -> list[Route]:
    async def listing(request: Request) -> Response:
        limit = int_param(request, "limit", default=100, low=1, high=PAGE_MAX) or 100
        active = text_param(request, "active", choices=("true", "false")) == "true"
        found = await storage.list_environments(
            workspace=request.path_params["ws"], active_only=active, limit=limit
        )
        return JSONResponse({"environments": [env.to_dict() for env in found]})

    return [Route("/api/v1/workspaces/{ws}/environments", listing, methods=["GET"])]
