"""Read-only views of the live config (DESIGN.md §4); writes answer 405 naming the file to edit.

The config repo is the only way to change meshgate, so a write here is a mistake worth
explaining rather than a bare 405: the answer says a pull request on the config repo is the
way and names the file holding the document. The repo itself is named only as the setting
``MESHGATE_CONFIG_REPO``; its URL may carry credentials and is never shown.

Starlette answers methods a route does not list with its own 405 and no body, so every route
lists the write methods and answers them here. Every answer carries ``config_revision``, so a
reader can tell which revision of the config it saw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from controller.errors import NotFound
from controller.models.snapshot import ConfigSnapshot, require_loaded
from controller.web import config_presenter as present
from controller.web.errors import error_response

WRITE_METHODS: Final = ("POST", "PUT", "PATCH", "DELETE")
PREFIX: Final = "/api/v1/workspaces"

Params = Mapping[str, str]
Reader = Callable[[ConfigSnapshot, Params], dict[str, Any]]
EditLocator = Callable[[ConfigSnapshot | None, Params], str | None]


def config_view_routes(*, config: Callable[[], ConfigSnapshot | None]) -> list[Route]:
    def route(path: str, *, read: Reader, edit: EditLocator) -> Route:
        return _view_route(path=f"{PREFIX}{path}", config=config, read=read, edit=edit)

    return [
        route("", read=lambda s, p: present.workspaces(s), edit=lambda s, p: None),
        route(
            "/{ws}/integrations",
            read=lambda s, p: present.integrations(s, workspace=p["ws"]),
            edit=lambda s, p: present.kind_folder(s, workspace=p["ws"], kind="Integration"),
        ),
        route(
            "/{ws}/integrations/{name}",
            read=lambda s, p: present.integration(s, workspace=p["ws"], name=p["name"]),
            edit=lambda s, p: present.document_file(
                s, workspace=p["ws"], kind="Integration", name=p["name"]
            ),
        ),
        route(
            "/{ws}/integrations/{name}/trigger-rules",
            read=lambda s, p: present.trigger_rules(s, workspace=p["ws"], integration=p["name"]),
            edit=lambda s, p: present.rules_folder(s, workspace=p["ws"], integration=p["name"]),
        ),
        route(
            "/{ws}/suites",
            read=lambda s, p: present.suites(s, workspace=p["ws"]),
            edit=lambda s, p: present.kind_folder(s, workspace=p["ws"], kind="Suite"),
        ),
        route(
            "/{ws}/suites/{name}",
            read=lambda s, p: present.suite(s, workspace=p["ws"], name=p["name"]),
            edit=lambda s, p: present.document_file(
                s, workspace=p["ws"], kind="Suite", name=p["name"]
            ),
        ),
    ]


def _view_route(
    *,
    path: str,
    config: Callable[[], ConfigSnapshot | None],
    read: Reader,
    edit: EditLocator,
) -> Route:
    async def endpoint(request: Request) -> Response:
        snapshot = config()
        params = request.path_params
        if request.method in WRITE_METHODS:
            return _refuse_write(snapshot=snapshot, edit=edit(snapshot, params))
        loaded = require_loaded(snapshot)
        try:
            body = read(loaded, params)
        except NotFound as exc:
            return error_response(
                404, type(exc).__name__, str(exc), config_revision=loaded.revision
            )
        return JSONResponse({"config_revision": loaded.revision, **body})

    return Route(path, endpoint, methods=["GET", *WRITE_METHODS])


def _refuse_write(*, snapshot: ConfigSnapshot | None, edit: str | None) -> Response:
    where = f"edit {edit}" if edit is not None else "add a document"
    response = error_response(
        405,
        "MethodNotAllowed",
        "the config is read-only here: it is changed by a pull request on the config repo "
        f"(the repository in MESHGATE_CONFIG_REPO; {where} there)",
        edit=edit,
        config_revision=None if snapshot is None else snapshot.revision,
    )
    response.headers["Allow"] = "GET"
    return response
