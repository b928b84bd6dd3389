"""Test environments: one per (workspace, context) at a time, leased by the runs using it.

States: ``provisioning`` (one run provisions; the others wait), ``ready``, ``expiring``
(past its TTL with no lease: about to be torn down, and still revived by a run that comes
first), ``deleting``, then ``deleted``; or ``failed`` when provisioning failed. The first
four hold the (workspace, context) slot; ``deleted`` and ``failed`` free it. The TTL counts
from the moment the last lease is released; a leased environment never expires. One past
its TTL that the sweeper has not claimed yet is still deployed and is reused by the next run
of its context; once claimed (``deleting``), runs wait for the teardown and provision anew.

A closed pull request asks for its environments to go (``close_requested_at``): they expire
the moment no run holds them, whatever their TTL. A run that still comes for that context
uses it meanwhile; once it is torn down, the next run provisions a fresh one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from controller.models.timestamps import iso_utc

EnvironmentState = Literal["provisioning", "ready", "expiring", "deleting", "deleted", "failed"]
ENVIRONMENT_STATES: tuple[EnvironmentState, ...] = get_args(EnvironmentState)
ACTIVE_STATES: tuple[EnvironmentState, ...] = ("provisioning", "ready", "expiring", "deleting")
Role = Literal["provision", "ready", "wait", "full"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvironmentRequest:
    """What a run needs: an environment of ``template`` for ``context`` in ``workspace``."""

    workspace: str
    context: str
    template: str
    provisioner: str
    ttl_seconds: int
    integration: str | None = None
    """The Argo CD integration that provisions (and later tears down) its Application."""
    budget: int | None = None
    """At most this many live environments (not ``static``) in the workspace."""
    pull_request: str | None = None
    """The pull request the run serves (``pull_request_key``): its close closes this."""


def pull_request_key(repository: str, number: int) -> str:
    """How environments name the pull request they serve: ``owner/repo#N`` in Gitea."""
    return f"{repository}#{number}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Environment:
    id: int
    workspace: str
    context: str
    template: str
    provisioner: str
    state: EnvironmentState
    ttl_seconds: int
    routing: Mapping[str, str] = field(default_factory=dict)
    application: str | None = None
    integration: str | None = None
    project: str | None = None
    message: str = ""
    created_at: datetime
    ready_at: datetime | None = None
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    deleted_at: datetime | None = None
    pull_request: str | None = None
    close_requested_at: datetime | None = None
    teardown_attempts: int = 0
    worker_until: datetime | None = None
    """Until when its provisioning or teardown is claimed (``None``: nobody works on it)."""
    leases: tuple[int, ...] = ()
    """The runs holding it."""

    def to_dict(self) -> dict[str, Any]:
        def when(value: datetime | None) -> str | None:
            return None if value is None else iso_utc(value)

        return {
            "id": self.id,
            "workspace": self.workspace,
            "context": self.context,
            "template": self.template,
            "provisioner": self.provisioner,
            "state": self.state,
            "ttl_minutes": self.ttl_seconds / 60,
            "routing": dict(self.routing),
            "application": self.application,
            "integration": self.integration,
            "project": self.project,
            "message": self.message or None,
            "created_at": when(self.created_at),
            "ready_at": when(self.ready_at),
            "last_used_at": when(self.last_used_at),
            "expires_at": when(self.expires_at),
            "deleted_at": when(self.deleted_at),
            "pull_request": self.pull_request,
            "close_requested_at": when(self.close_requested_at),
            "teardown_attempts": self.teardown_attempts,
            "runs": list(self.leases),
        }


@dataclass(frozen=True, slots=True)
class Acquired:
    """The outcome of asking for an environment: ``provision`` (this run provisions it),
    ``ready`` (use it now), ``wait`` (another run provisions it, or the previous one of
    the context is being torn down: ask again) or ``full`` (the workspace's budget of live
    environments is used up: no environment, ask again; ``live`` says how many there are)."""

    environment: Environment | None
    role: Role
    live: int = 0
