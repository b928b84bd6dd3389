"""Test environments: one per (workspace, context) at a time, leased by the runs using it.

States: ``provisioning`` (one run provisions; the others wait), ``ready``, ``expiring``
(past its TTL with no lease: about to be torn down, and still revived by a run that comes
first), ``deleting``, then ``deleted``; or ``failed`` when provisioning failed. The first
four hold the (workspace, context) slot; ``deleted`` and ``failed`` free it. The TTL counts
from the moment the last lease is released; a leased environment never expires. One past
its TTL that the sweeper has not claimed yet is still deployed and is reused by the next run
of its context; once claimed (``deleting``), runs wait for the teardown and provision anew.
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
Role = Literal["provision", "ready", "wait"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvironmentRequest:
    """What a run needs: an environment of ``template`` for ``context`` in ``workspace``."""

    workspace: str
    context: str
    template: str
    provisioner: str
    ttl_seconds: int


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
    message: str = ""
    created_at: datetime
    ready_at: datetime | None = None
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    deleted_at: datetime | None = None
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
            "message": self.message or None,
            "created_at": when(self.created_at),
            "ready_at": when(self.ready_at),
            "last_used_at": when(self.last_used_at),
            "expires_at": when(self.expires_at),
            "deleted_at": when(self.deleted_at),
            "runs": list(self.leases),
        }


@dataclass(frozen=True, slots=True)
class Acquired:
    """The outcome of asking for an environment: ``provision`` (this run provisions it),
    ``ready`` (use it now) or ``wait`` (another run provisions it, or the previous one of
    the context is being torn down: ask again)."""

    environment: Environment
    role: Role
