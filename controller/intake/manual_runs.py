"""Manual runs: a person (API, later the dashboard) asks for a suite to run now.

A manual run is queued like any other but carries no commit (``trigger_ref`` empty), posts no
commit status and is never superseded. The options are checked against the live config
before anything is stored, so a typo answers 400/404 instead of queuing a run that can only
fail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from controller.errors import BadRequest, Conflict
from controller.models.runs import CONTEXT_RULE, ENDED_STATES, Run, RunRequest, is_valid_context
from controller.models.snapshot import ConfigSnapshot, require_loaded
from controller.storage import Storage

OPTIONS = ("context", "template", "routes", "parameters")


class ManualRuns:
    def __init__(
        self,
        *,
        storage: Storage,
        config: Callable[[], ConfigSnapshot | None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._storage = storage
        self._config = config
        self._clock = clock

    async def start(self, *, workspace: str, suite: str, options: Mapping[str, Any]) -> Run:
        """Queue a run of ``suite``. ``options`` (all optional): ``context`` (reuse that
        warm environment), ``template`` (an EnvironmentTemplate; default: the workspace's
        default), ``routes`` (service → http(s) URL, overriding the template's), ``parameters``
        (an object). Raises ``BadRequest``, ``NotFound`` or ``TemporaryError`` (no config)."""
        snapshot = require_loaded(self._config(), "runs cannot be started")
        request = plan_manual_run(snapshot, workspace=workspace, suite=suite, options=options)
        return await self._storage.queue_run(request, at=self._clock())

    async def rerun(self, run_id: int, *, revision: str) -> Run:
        """Queue a run repeating ``run_id``, which must have ended: with ``revision``
        ``same``, pinned to its config revision (the runner loads that revision from the
        config repo if another one is live); with ``latest``, with the config live when it
        starts. It posts its status where the original did. Raises ``BadRequest``,
        ``NotFound``, ``Conflict`` (still running) or ``TemporaryError`` (no config)."""
        if revision not in ("same", "latest"):
            raise BadRequest(f"config_revision: expected 'same' or 'latest', got {revision!r}")
        snapshot = require_loaded(self._config(), "runs cannot be started")
        original = await self._storage.get_run(run_id)
        if original.state not in ENDED_STATES:
            raise Conflict(f"run {run_id} is {original.state}; re-run it once it has ended")
        return await self._storage.queue_rerun(
            run_id,
            config_revision=None if revision == "same" else snapshot.revision,
            at=self._clock(),
        )


def plan_manual_run(
    snapshot: ConfigSnapshot, *, workspace: str, suite: str, options: Mapping[str, Any]
) -> RunRequest:
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise BadRequest(f"unknown option {unknown[0]!r}; known: {', '.join(OPTIONS)}")
    snapshot.require(workspace, "Suite", suite)
    template = options.get("template")
    if template is not None:
        if not isinstance(template, str):
            raise BadRequest("template: expected the name of an EnvironmentTemplate")
        snapshot.require(workspace, "EnvironmentTemplate", template)
    else:
        template = snapshot.default_template(workspace)
    return RunRequest(
        workspace=workspace,
        suite=suite,
        config_revision=snapshot.revision,
        trigger_type="manual",
        context=_context(options.get("context")),
        template=template,
        parameters=_object(options.get("parameters"), "parameters"),
        routes=_routes(options.get("routes")),
    )


def _context(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not is_valid_context(value):
        raise BadRequest(f"context: expected {CONTEXT_RULE}")
    return value


def _object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadRequest(f"{name}: expected an object")
    return dict(value)


def _routes(value: Any) -> dict[str, str]:
    routes = _object(value, "routes")
    for service, url in routes.items():
        if not isinstance(url, str):
            raise BadRequest(f"routes.{service}: expected an http(s) URL")
        try:
            parts = urlsplit(url)
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadRequest(f"routes.{service}: expected an http(s) URL")
        if "@" in parts.netloc:
            # Stored with the run and shown on its page: no place for credentials.
            raise BadRequest(f"routes.{service}: credentials in the URL are not accepted")
    return routes
