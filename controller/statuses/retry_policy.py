"""How often and how long posts to Gitea are retried (gitea.md §4), for statuses and
comments alike."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from controller.clients.gitea import GiteaServerError, GiteaUnavailable
from controller.errors import PermanentError


@dataclass(frozen=True, slots=True)
class PosterSettings:
    concurrency: int = 8
    first_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=5)
    retry_for: timedelta = timedelta(hours=6)
    server_error_attempts: int = 3
    lease: timedelta = timedelta(seconds=60)
    idle: timedelta = timedelta(seconds=10)
    collect_batch: int = 500


def retry_time(
    settings: PosterSettings,
    attempts: int,
    first_failed_at: datetime | None,
    exc: Exception,
    now: datetime,
) -> datetime | None:
    """When to try again after ``exc`` (``attempts`` failed before it), or ``None``: give
    up. Permanent refusals are not retried; a 500 (also Gitea's answer for a commit it does
    not have) ``server_error_attempts`` times in all; anything else with exponential backoff
    and ±20 % jitter, at least as late as ``Retry-After``, for ``retry_for``."""
    if isinstance(exc, PermanentError):
        return None
    attempts += 1
    if isinstance(exc, GiteaServerError) and attempts >= settings.server_error_attempts:
        return None
    first_failed = first_failed_at or now
    if now - first_failed >= settings.retry_for:
        return None
    delay = settings.first_delay.total_seconds() * 2 ** (attempts - 1)
    delay = min(delay, settings.max_delay.total_seconds()) * random.uniform(0.8, 1.2)
    if isinstance(exc, GiteaUnavailable) and exc.retry_after is not None:
        delay = max(delay, min(exc.retry_after, settings.retry_for.total_seconds()))
    return now + timedelta(seconds=delay)
