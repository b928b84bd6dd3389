"""The status poster: turns run changes into desired statuses and posts them to Gitea, and
writes the pull-request comments of the comment outbox (with the same retry policy).

One pass (``drain``) first collects the runs whose state changed (``status_dirty``) into
the outbox, then keeps up to ``concurrency`` posts in flight, claiming more as slots free,
until nothing is due. Between passes it sleeps until the earliest retry is due, a wake-up
(``wake()``: a run was queued or finished, a config revision was checked) or the idle
interval, whichever comes first.

What a post does with its outcome (gitea.md §4):

- the entry already shows what is desired (identical state, description and link): nothing
  is sent;
- 201: recorded as posted; a change that arrived meanwhile is posted next;
- network errors, 429, 502/503/504: retried with exponential backoff and jitter, at least as
  late as ``Retry-After``, for ``retry_for`` after the first failure; then dead-lettered;
- 500: retried ``server_error_attempts`` times in all (Gitea answers 500 for a commit it does
  not have, which no retry will fix);
- 400/401/403/404/422, a Gitea integration gone from the config, an unreadable token:
  dead-lettered at once with the reason (the token is never part of it).

A dead entry stays visible through the API; a newer desired status revives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from controller.clients.gitea import StatusBody
from controller.errors import PermanentError, StorageUnavailable, TemporaryError
from controller.metrics import Metrics
from controller.models.statuses import PostOutcome, StatusPost
from controller.statuses.access import GiteaAccess
from controller.statuses.comment_writer import CommentWriter
from controller.statuses.retry_policy import PosterSettings, retry_time
from controller.statuses.run_statuses import desired_for_run
from controller.storage import Storage

log = logging.getLogger(__name__)

# A pass just ended, so whatever is due now was claimed meanwhile by someone else, or arrived
# with a wake-up; a short pause keeps the loop from spinning on entries it cannot have.
MIN_WAIT_SECONDS = 0.05


class StatusPoster:
    def __init__(
        self,
        *,
        storage: Storage,
        access: GiteaAccess,
        public_url: str,
        owner: str,
        settings: PosterSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics or Metrics()
        self._storage = storage
        self._access = access
        self._public_url = public_url
        self._owner = owner
        self._settings = settings or PosterSettings()
        self._clock = clock
        self._wake = asyncio.Event()
        self._closing = False
        self._comments = CommentWriter(
            storage=storage, access=access, owner=owner, settings=self._settings, clock=clock
        )

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        """Drain, then sleep until something is due, until ``aclose``. A failing pass is
        logged and retried after the idle interval: the poster never stops on its own."""
        idle = self._settings.idle.total_seconds()
        while not self._closing:
            try:
                await self.drain()
                wait = await self._seconds_until_due(idle)
            except StorageUnavailable as exc:
                log.warning("status poster: storage unavailable (%s); retrying", exc)
                wait = idle
            except Exception:
                log.exception("status poster: a pass failed; retrying in %.0fs", idle)
                wait = idle
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def aclose(self) -> None:
        """Stop the loop and close the Gitea clients (cancel ``run_forever`` first)."""
        self._closing = True
        self._wake.set()
        await self._access.aclose()

    async def drain(self) -> None:
        """Collect changed runs, then post everything due now; a wake-up during the pass
        collects again, so runs that end meanwhile are posted in the same pass.

        Claims and outcomes go to storage in batches, so the database is not what limits
        the throughput: entries are claimed a slot-set ahead (a post waits in ``buffer``
        until a slot frees, which keeps every slot busy), and the outcomes of the posts that
        ended meanwhile are recorded in the claiming transaction. A post whose outcome is
        not recorded yet when the process dies is sent again by the next claim: Gitea shows
        the same state twice, the latest on top.
        """
        self._wake.clear()
        await self.collect()
        slots = self._settings.concurrency
        in_flight: set[asyncio.Task[PostOutcome]] = set()
        buffer: deque[StatusPost] = deque()
        ended: list[PostOutcome] = []
        exhausted = False
        while True:
            if self._wake.is_set():  # runs changed meanwhile: their statuses join this pass
                self._wake.clear()
                await self.collect()
                exhausted = False
            if not exhausted and len(buffer) <= slots // 2:
                want = slots - len(buffer)
                now = self._clock()
                recording, ended = ended, []
                posts = await self._storage.claim_status_posts(
                    owner=self._owner,
                    now=now,
                    lease_until=now + self._settings.lease,
                    limit=want,
                    recording=recording,
                )
                exhausted = len(posts) < want
                buffer.extend(posts)
            while buffer and len(in_flight) < slots:
                post = buffer.popleft()
                in_flight.add(asyncio.create_task(self._post(post), name=f"status-{post.id}"))
            if not in_flight:
                await self._record(ended)
                await self._comments.write_due()
                return
            done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            ended.extend(task.result() for task in done)
            if exhausted and not in_flight and not buffer:
                exhausted = False  # look once more: entries may have come due meanwhile

    async def _record(self, ended: list[PostOutcome]) -> None:
        if ended:
            outcomes = list(ended)
            ended.clear()
            for outcome in outcomes:
                self._metrics.status_posted(outcome=_outcome_label(outcome))
            await self._storage.record_status_outcomes(
                outcomes, owner=self._owner, now=self._clock()
            )

    async def collect(self) -> int:
        """Record the desired status of every run that changed; the number of runs."""
        total = 0
        while True:
            changes = await self._storage.run_status_changes(limit=self._settings.collect_batch)
            if not changes:
                return total
            desired = [
                status
                for change in changes
                if (
                    status := desired_for_run(
                        change.run,
                        public_url=self._public_url,
                        superseded_by_ref=change.superseded_by_ref,
                    )
                )
                is not None
            ]
            await self._storage.desire_statuses(
                desired, now=self._clock(), runs_seen=[change.run for change in changes]
            )
            total += len(changes)
            if len(changes) < self._settings.collect_batch:
                return total

    async def _post(self, post: StatusPost) -> PostOutcome:
        if post.posted == post.content:
            return PostOutcome(post, sent=False)
        desired = post.desired
        try:
            client, token = self._access.client_for(
                desired.target.workspace, desired.target.integration
            )
            body = StatusBody(
                desired.state, desired.context, desired.description, desired.target_url
            )
            await client.create_status(
                desired.target.repository, desired.target.sha, body, token=token
            )
        except (TemporaryError, PermanentError) as exc:
            return self._failed(post, exc)
        except Exception as exc:  # a bug must not leave the entry leased until it expires
            log.exception("posting commit status %s failed unexpectedly", post.id)
            return self._failed(post, TemporaryError(f"internal error: {type(exc).__name__}"))
        return PostOutcome(post, sent=True)

    def _failed(self, post: StatusPost, exc: Exception) -> PostOutcome:
        now = self._clock()
        retry_at = retry_time(self._settings, post.attempts, post.first_failed_at, exc, now)
        reason = str(exc)
        if retry_at is None:
            log.warning(
                "commit status %s on %s@%s given up: %s",
                post.desired.context,
                post.desired.target.repository,
                post.desired.target.sha[:12],
                reason,
            )
        return PostOutcome(post, error=reason or type(exc).__name__, retry_at=retry_at)

    async def _seconds_until_due(self, idle: float) -> float:
        now = self._clock()
        earliest = await self._storage.next_status_attempt(now=now)
        if earliest is None:
            return idle
        return min(max((earliest - now).total_seconds(), MIN_WAIT_SECONDS), idle)


def _outcome_label(outcome: PostOutcome) -> str:
    """``posted``, ``unchanged`` (Gitea already showed it), ``retrying`` or ``dead``."""
    if not outcome.error:
        return "posted" if outcome.sent else "unchanged"
    return "retrying" if outcome.retry_at is not None else "dead"
