"""Reviews of config-repo pull requests: the ``meshgate/config`` status on the head commit
and one comment listing every problem and what the change would do.

A Gitea ``pull_request`` delivery (``opened``, ``reopened``, ``synchronized``) whose base is
the followed branch of the config repo starts a review in the background: the head
(``refs/pull/<n>/head``) is fetched into a folder of its own, loaded and validated by the
same code as ``meshgate validate``, and compared with the running config. Nothing of it is
applied. Reviews of one pull request run one at a time, so two quick pushes cannot create
two comments. The status and the comment go through the outboxes (durable, retried through
Gitea outages, ordered: a later push's comment is never overwritten by an earlier one's).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller.concurrency import run_blocking
from controller.configsync.diff import ConfigDiff, diff_documents
from controller.configsync.review_comment import render_review
from controller.configsync.service import ConfigSync
from controller.configsync.validation import ConfigValidator
from controller.errors import MeshgateError
from controller.loader import ConfigLoader
from controller.models.comments import DesiredComment
from controller.models.deliveries import RecordedDelivery
from controller.models.problems import Problem
from controller.models.repo_urls import RepoAddress
from controller.statuses.config_statuses import ConfigStatuses, config_description
from controller.storage import Storage

log = logging.getLogger(__name__)

REVIEW_ACTIONS = frozenset({"opened", "reopened", "synchronized"})


@dataclass(frozen=True, slots=True)
class Review:
    number: int
    revision: str
    problems: tuple[Problem, ...]
    diff: ConfigDiff


class ConfigReview:
    def __init__(
        self,
        *,
        sync: ConfigSync,
        loader: ConfigLoader,
        validator: ConfigValidator,
        statuses: ConfigStatuses,
        storage: Storage,
        repo_url: str,
        branch: str,
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
        on_desired: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``on_desired`` is told when a comment is due (the poster writes it)."""
        self._sync = sync
        self._loader = loader
        self._validator = validator
        self._statuses = statuses
        self._storage = storage
        self._address = RepoAddress.parse(repo_url)
        self._branch = branch
        self._spawn = spawn
        self._on_desired = on_desired
        self._clock = clock
        self._locks: dict[int, asyncio.Lock] = {}

    def is_config_pull_request(self, recorded: RecordedDelivery) -> bool:
        event = recorded.delivery.event
        return (
            self._address is not None
            and event.source == "gitea"
            and event.type == "pull_request"
            and event.action in REVIEW_ACTIONS
            and event.pr_number is not None
            and event.branch == self._branch
            and RepoAddress.parse(event.repo_url) == self._address
        )

    def __call__(self, recorded: RecordedDelivery) -> None:
        if self.is_config_pull_request(recorded):
            event = recorded.delivery.event
            assert event.pr_number is not None
            log.info("config repo pull request #%d: reviewing", event.pr_number)
            self._spawn(self.review(event.pr_number, repository=event.repository))

    async def review(self, number: int, *, repository: str) -> Review | None:
        """Review the current head of pull request ``number`` of ``repository`` (the
        config repo's ``owner/repo``); ``None`` when it cannot be fetched (logged)."""
        lock = self._locks.setdefault(number, asyncio.Lock())
        async with lock:
            try:
                return await self._review(number, repository)
            except MeshgateError as exc:
                log.warning("config repo pull request #%d not reviewed: %s", number, exc)
                return None

    async def _review(self, number: int, repository: str) -> Review | None:
        fetched = await self._sync.source.fetch_pull_request(number)
        if fetched is None or fetched.revision is None:
            return None
        tree = await run_blocking(self._loader.load_tree, fetched.repo_root, fetched.subpath)
        semantic = await run_blocking(self._validator.validate, tree.documents)
        problems = tuple(sorted((*tree.problems, *semantic), key=Problem.sort_key))
        live = self._sync.live
        diff = diff_documents(live.documents if live else (), tree.documents)
        target = await self._statuses.post(
            sha=fetched.revision,
            repository=repository,
            state="failure" if problems else "success",
            description=config_description(problems, len(tree.documents), verdict="valid"),
        )
        if target is not None:
            body = render_review(
                revision=fetched.revision,
                problems=problems,
                document_count=len(tree.documents),
                diff=diff,
                live_revision=live.revision if live else None,
            )
            now = self._clock()
            comment = DesiredComment(
                workspace=target.workspace,
                integration=target.integration,
                repository=repository,
                number=number,
                body=body,
                rank=int(now.timestamp() * 1_000_000),
            )
            await self._storage.desire_comment(comment, now=now)
            self._on_desired()
        return Review(number, fetched.revision, problems, diff)
