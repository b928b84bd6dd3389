"""Suite runs: what the matcher (or a person) asked to run, and where that request stands.

A ``RunRequest`` is a run about to be queued; storage turns it into a ``Run`` with an id. This
issue's runs only ever reach ``queued`` or ``superseded``; the runner moves them on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from controller.models.environments import pull_request_key
from controller.models.statuses import StatusTarget
from controller.models.timestamps import iso_utc

RunState = Literal["queued", "running", "passed", "failed", "error", "superseded", "cancelled"]
RUN_STATES: tuple[RunState, ...] = get_args(RunState)
ENDED_STATES: tuple[RunState, ...] = ("passed", "failed", "error", "superseded", "cancelled")
"""A run in these states will not change any more."""

TriggerType = Literal["argocd", "webhook", "manual"]
TRIGGER_TYPES: tuple[TriggerType, ...] = get_args(TriggerType)

CONTEXT_MAX = 200
CONTEXT_RULE = f"1 to {CONTEXT_MAX} printable characters without spaces"


def is_valid_context(text: str) -> bool:
    """Whether ``text`` can name an environment context (it ends up in Application and
    namespace names, URLs and log lines)."""
    return 0 < len(text) <= CONTEXT_MAX and all(c.isprintable() and not c.isspace() for c in text)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRequest:
    """A run to queue.

    - ``rule``: the trigger rule that matched (``""`` for a manual run).
    - ``trigger_type``: ``argocd`` (a sync), ``webhook`` (a Gitea push or pull request) or
      ``manual``; ``trigger_ref`` the commit it tests (``""`` for a manual run).
    - ``context``: the environment context (``None``: a fresh environment per run);
      ``template`` the EnvironmentTemplate (``None``: the workspace has no default).
    - ``status_context``: the Gitea commit-status context (``None`` for manual runs, which
      post no status).
    - ``lane``: runs in one lane do the same job for successive revisions, so a newer run
      supersedes the older ones still queued (the rule's context, else the app, branch or
      pull request). ``None`` (manual runs) never supersedes and is never superseded.
    - ``parameters`` / ``routes``: a manual run's suite parameters and explicit
      service → URL routes.
    - ``status_target``: the commit in Gitea its status goes to (``None``: no status, and
      ``status_problem`` says why when a status was wanted but the event could not be mapped).
    """

    workspace: str
    suite: str
    config_revision: str
    trigger_type: TriggerType
    rule: str = ""
    integration: str = ""
    trigger_ref: str = ""
    repository: str = ""
    branch: str = ""
    pr_number: int | None = None
    context: str | None = None
    template: str | None = None
    status_context: str | None = None
    lane: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    routes: Mapping[str, str] = field(default_factory=dict)
    status_target: StatusTarget | None = None
    status_problem: str = ""
    rerun_of: int | None = None
    config_pinned: bool = False
    """Run with ``config_revision`` even when another revision is live (a re-run asked
    for the same revision); otherwise a run uses the config live when it starts."""

    @property
    def pull_request(self) -> str | None:
        """The Gitea pull request this run serves (``pull_request_key``), when known: the
        PR's own repository for a Gitea event, the repository its status goes to for an
        Argo CD sync of a preview. Closing that PR closes the run's environment."""
        if self.pr_number is None:
            return None
        if self.status_target is not None:
            return pull_request_key(self.status_target.repository, self.pr_number)
        if self.trigger_type == "webhook" and self.repository:
            return pull_request_key(self.repository, self.pr_number)
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """A run and where it stands. ``delivery`` is the id of the delivery that caused it
    (``None`` for a manual run); ``superseded_by`` the run that replaced it; ``attempt`` how
    many times it was claimed (a run interrupted by a crash or shutdown is claimed again);
    ``message`` why it ended as it did (or why it went back to the queue)."""

    id: int
    request: RunRequest
    delivery: int | None
    state: RunState
    created_at: datetime
    updated_at: datetime
    superseded_by: int | None = None
    attempt: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The API form: the request's fields at top level, times in ISO 8601 UTC."""
        request = self.request
        return {
            "id": self.id,
            "state": self.state,
            "workspace": request.workspace,
            "suite": request.suite,
            "rule": request.rule or None,
            "integration": request.integration or None,
            "trigger_type": request.trigger_type,
            "trigger_ref": request.trigger_ref or None,
            "repository": request.repository or None,
            "branch": request.branch or None,
            "pr_number": request.pr_number,
            "context": request.context,
            "template": request.template,
            "status_context": request.status_context,
            "status_target": None
            if request.status_target is None
            else request.status_target.to_dict(),
            "status_problem": request.status_problem or None,
            "rerun_of": request.rerun_of,
            "config_pinned": request.config_pinned,
            "config_revision": request.config_revision,
            "delivery": self.delivery,
            "superseded_by": self.superseded_by,
            "parameters": dict(request.parameters),
            "routes": dict(request.routes),
            "attempt": self.attempt,
            "message": self.message,
            "created_at": iso_utc(self.created_at),
            "updated_at": iso_utc(self.updated_at),
            "started_at": None if self.started_at is None else iso_utc(self.started_at),
            "finished_at": None if self.finished_at is None else iso_utc(self.finished_at),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RunAttempt:
    """One claim of a run: ``owner`` is the replica (``host:pid:id``) that held it.
    ``outcome`` is ``None`` while it runs, then ``finished`` (``note``: the state it ended
    in), ``interrupted`` (its runner stopped renewing the lease: the replica died) or
    ``released`` (given back to the queue; ``note`` says why)."""

    attempt: int
    owner: str
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "owner": self.owner,
            "started_at": iso_utc(self.started_at),
            "ended_at": None if self.ended_at is None else iso_utc(self.ended_at),
            "outcome": self.outcome,
            "note": self.note,
        }
