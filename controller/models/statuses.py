"""Commit statuses: where one goes, what meshgate wants it to say, and how posting it went.

A ``StatusTarget`` is a commit in Gitea (integration, ``owner/repo``, sha). The status outbox
keeps one entry per (target, context): the *desired* status, replaced only by one of higher
``rank``, and what was last *posted*. Ranks order the verdicts about one commit and context:
a run's pending ranks below its final state, and both rank below anything a newer run says
(``run_rank``), so a late pending never covers a final state and the newest run wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from controller.models.events import Event
from controller.models.repo_urls import RepoAddress
from controller.models.timestamps import iso_utc

CommitState = Literal["pending", "success", "failure", "error"]
COMMIT_STATES: tuple[CommitState, ...] = get_args(CommitState)
CONFIG_CONTEXT = "meshgate/config"
DESCRIPTION_MAX = 140

_COMMIT_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


@dataclass(frozen=True, slots=True)
class StatusTarget:
    """A commit in Gitea, reached through the Gitea integration ``integration`` of
    ``workspace``; ``repository`` is ``owner/repo``."""

    workspace: str
    integration: str
    repository: str
    sha: str

    def to_dict(self) -> dict[str, str]:
        return {
            "workspace": self.workspace,
            "integration": self.integration,
            "repository": self.repository,
            "sha": self.sha,
        }


@dataclass(frozen=True, slots=True)
class DesiredStatus:
    target: StatusTarget
    context: str
    state: CommitState
    description: str
    target_url: str
    rank: int
    run_id: int | None = None


def run_rank(run_id: int, *, final: bool) -> int:
    return run_id * 4 + (2 if final else 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusPost:
    """One outbox entry: the desired status (``version`` counts its changes) and the last
    one posted (``posted_version``; 0 before the first post). ``dead_at`` is set when posting
    was given up (a permanent refusal, or the retry budget spent), with the reason in
    ``last_error``; a newer desired status revives the entry."""

    id: int
    desired: DesiredStatus
    version: int
    posted_version: int
    posted: tuple[str, str, str] | None
    """(state, description, target_url) as last posted."""
    posted_at: datetime | None
    attempts: int
    last_error: str
    next_attempt_at: datetime
    first_failed_at: datetime | None
    dead_at: datetime | None
    updated_at: datetime

    @property
    def content(self) -> tuple[str, str, str]:
        d = self.desired
        return (d.state, d.description, d.target_url)

    @property
    def delivered(self) -> bool:
        return self.posted_version >= self.version

    def to_dict(self) -> dict[str, Any]:
        d = self.desired
        return {
            "id": self.id,
            **d.target.to_dict(),
            "context": d.context,
            "run": d.run_id,
            "state": d.state,
            "description": d.description,
            "target_url": d.target_url,
            "delivery": "dead" if self.dead_at else "posted" if self.delivered else "pending",
            "posted_state": None if self.posted is None else self.posted[0],
            "posted_at": None if self.posted_at is None else iso_utc(self.posted_at),
            "attempts": self.attempts,
            "last_error": self.last_error or None,
            "next_attempt_at": None
            if self.delivered or self.dead_at
            else iso_utc(self.next_attempt_at),
            "dead_at": None if self.dead_at is None else iso_utc(self.dead_at),
            "updated_at": iso_utc(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class PostOutcome:
    """How one post went: posted (``error`` empty; ``sent`` false when no request was needed
    because Gitea already showed the desired state), or failed with ``error``, to be tried
    again at ``retry_at`` (``None``: given up, dead-lettered)."""

    post: StatusPost
    sent: bool = True
    error: str = ""
    retry_at: datetime | None = None


def integration_host(integration: Mapping[str, Any]) -> str | None:
    """The host (lower case) of an Integration's ``spec.config.url``, what repositories and
    commit statuses are matched by."""
    host = urlsplit(str((integration.get("config") or {}).get("url", ""))).hostname
    return host.lower() if host else None


def is_commit_sha(text: str) -> bool:
    return bool(_COMMIT_SHA.match(text))


def status_target_for(
    event: Event, *, workspace: str, integration: str, gitea_by_host: Mapping[str, str]
) -> StatusTarget | str:
    """Where the verdict about ``event`` goes, or why it cannot go anywhere.

    ``integration`` is the integration the event came through; ``gitea_by_host`` maps the
    host of each Gitea integration of its workspace to that integration's name. A Gitea event
    names its base repository and commit (for a pull request from a fork, the base repository
    with the head commit, which Gitea keeps there under ``refs/pull/N/head``). An Argo CD sync
    names the app's source repository by URL, in any spelling; it maps onto the Gitea
    integration of that host, and the status goes on the synced revision.
    """
    revision = event.revision
    if event.source == "gitea":
        if not is_commit_sha(revision):
            return f"the event names no commit ({revision or 'empty revision'})"
        return StatusTarget(workspace, integration, event.repository, revision)
    address = RepoAddress.parse(event.repo_url) if event.repo_url else None
    if address is None:
        shown = event.repo_url or "none given"
        return f"the app's repository URL ({shown}) is not a Git URL meshgate can map to Gitea"
    name = gitea_by_host.get(address.host)
    if name is None:
        return f"no Gitea integration of this workspace serves {address.host}"
    if not is_commit_sha(revision.lower()):
        return f"the synced revision {revision!r} is not a commit SHA (a Helm chart version?)"
    return StatusTarget(workspace, name, address.path, revision.lower())


def short_text(text: str, limit: int = DESCRIPTION_MAX) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
