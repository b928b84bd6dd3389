"""``meshgate/config`` on the config repo's commits: valid, or the first problems with
``file:line``.

The config repo is reached through the Gitea integration of the live config whose host is
the config repo's host (the first by workspace and name if several are). Its statuses go
through the same outbox as runs' statuses. Successive checks of one commit describe the same
content, so ranks are times: a later check of a commit replaces an earlier one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from controller.models.problems import Problem
from controller.models.repo_urls import RepoAddress
from controller.models.snapshot import ConfigSnapshot
from controller.models.statuses import (
    CONFIG_CONTEXT,
    DesiredStatus,
    StatusTarget,
    integration_host,
    is_commit_sha,
    short_text,
)
from controller.storage import Storage

log = logging.getLogger(__name__)


def config_repo_target(
    snapshot: ConfigSnapshot | None, repo_url: str, sha: str
) -> StatusTarget | str:
    """Where ``meshgate/config`` for commit ``sha`` of the config repo goes, or why nowhere."""
    address = RepoAddress.parse(repo_url)
    if address is None:
        return "the config repository is not a Git URL meshgate can map to Gitea"
    if snapshot is None:
        return "no valid config is loaded yet, so no Gitea integration is known"
    for doc in snapshot.integrations("gitea"):
        if integration_host(doc.spec) == address.host:
            return StatusTarget(doc.workspace, doc.name, address.path, sha)
    return f"no Gitea integration of the live config serves {address.host}"


def config_description(problems: Sequence[Problem], document_count: int, *, verdict: str) -> str:
    """``valid: 23 documents``; ``3 problems; first: rules/a.yaml:4:3: ...``."""
    if not problems:
        return short_text(f"{verdict}: {document_count} documents")
    count = len(problems)
    noun = "problem" if count == 1 else "problems"
    return short_text(f"{count} {noun}; first: {problems[0]}")


class ConfigStatuses:
    """Posts ``meshgate/config`` for each revision of the followed branch that is checked."""

    def __init__(
        self,
        *,
        storage: Storage,
        config: Callable[[], ConfigSnapshot | None],
        repo_url: str,
        public_url: str,
        on_desired: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._storage = storage
        self._config = config
        self._repo_url = repo_url
        self._public_url = public_url.rstrip("/")
        self._on_desired = on_desired
        self._clock = clock

    async def revision_checked(
        self, *, revision: str, problems: Sequence[Problem], document_count: int
    ) -> None:
        """Record the status of ``revision``; nothing without a config repo URL (a local
        folder, whose revision is a content hash, not a commit)."""
        if not self._repo_url or not is_commit_sha(revision):
            return
        verdict = "valid, applied" if not problems else "invalid, not applied"
        await self.post(
            sha=revision,
            repository=None,
            state="success" if not problems else "failure",
            description=config_description(problems, document_count, verdict=verdict),
        )

    async def post(
        self, *, sha: str, repository: str | None, state: str, description: str
    ) -> StatusTarget | None:
        """Desire ``meshgate/config`` on ``sha`` (of ``repository``, default the config
        repo); the target, or ``None`` when there is none (logged)."""
        target = config_repo_target(self._config(), self._repo_url, sha)
        if isinstance(target, str):
            log.info("no meshgate/config status on %s: %s", sha[:12], target)
            return None
        if repository is not None:
            target = StatusTarget(target.workspace, target.integration, repository, sha)
        now = self._clock()
        status = DesiredStatus(
            target=target,
            context=CONFIG_CONTEXT,
            state=state,  # type: ignore[arg-type]
            description=description,
            target_url=f"{self._public_url}/api/v1/config/status",
            rank=int(now.timestamp() * 1_000_000),
        )
        await self._storage.desire_statuses([status], now=now)
        self._on_desired()
        return target
