"""What meshgate is doing besides runs: deliveries with "matched / not matched, because"
(``/deliveries``, ``/deliveries/{id}``), environments with their TTL countdowns and the
runs holding them (``/environments``), and the config's applied and latest revisions with
their problems (``/config``). The same values as the JSON API, laid out for people."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from controller.configsync.service import ConfigSync
from controller.models.events import EVENT_SOURCES
from controller.models.snapshot import ConfigSnapshot
from controller.storage import Storage
from controller.web.config_status import config_status_document
from controller.web.deliveries import summary
from controller.web.pages.rendering import Pages
from controller.web.params import ID_MAX, int_param, older_page, path_id, text_param

PAGE = 50


def operations_routes(
    *,
    storage: Storage,
    pages: Pages,
    sync: ConfigSync,
    poll_interval_seconds: float,
) -> list[Route]:
    async def deliveries(request: Request) -> Response:
        source = text_param(request, "source", choices=EVENT_SOURCES)
        workspace = text_param(request, "workspace")
        found = await storage.recent_deliveries(
            limit=PAGE,
            before=int_param(request, "before", default=None, low=1, high=ID_MAX),
            source=source,
            workspace=workspace,
        )
        older = older_page(
            "/deliveries", {"source": source, "workspace": workspace}, found, page=PAGE
        )
        return pages.render(
            request,
            "deliveries.html",
            deliveries=[summary(d) for d in found],
            source=source,
            sources=EVENT_SOURCES,
            older=older,
        )

    async def delivery(request: Request) -> Response:
        found = await storage.get_delivery(path_id(request, "delivery"))
        runs = await storage.list_runs(delivery=found.id, limit=1000)
        return pages.render(
            request,
            "delivery.html",
            delivery=summary(found),
            event=found.event.to_dict(),
            match=None if found.match is None else found.match.to_dict(),
            runs=[run.to_dict() for run in reversed(runs)],
        )

    async def environments(request: Request) -> Response:
        workspaces = _workspaces(sync.live)
        shown = text_param(request, "workspace")
        listed: list[dict[str, Any]] = []
        for workspace in [shown] if shown else workspaces:
            envs = await storage.list_environments(workspace=workspace, limit=100)
            listed.extend(env.to_dict() for env in envs)
        return pages.render(
            request,
            "environments.html",
            environments=listed,
            workspaces=workspaces,
            shown=shown,
        )

    async def config(request: Request) -> Response:
        document = config_status_document(sync, poll_interval_seconds)
        return pages.render(request, "config.html", status=document)

    return [
        Route("/deliveries", deliveries, methods=["GET"]),
        Route("/deliveries/{id:int}", delivery, methods=["GET"]),
        Route("/environments", environments, methods=["GET"]),
        Route("/config", config, methods=["GET"]),
    ]


def _workspaces(snapshot: ConfigSnapshot | None) -> list[str]:
    return list(snapshot.workspaces()) if snapshot is not None else []
