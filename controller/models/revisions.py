"""Config revisions: every revision of the config repo that meshgate has seen.

A revision is recorded whenever the loader validates it (valid or not), so the API, the
dashboard and ``meshgate/config`` statuses can say which revision is live, which one is the
newest, and why a revision was refused. Values are built by ``controller.storage``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from controller.models.problems import Problem


@dataclass(frozen=True, slots=True)
class ConfigRevision:
    """One revision of one config source, as stored.

    ``source`` identifies where the revision came from (``git:<url>#<branch>`` or
    ``folder:<path>``; never credentials). ``revision`` is the commit sha (or the content hash
    of a folder). ``problems`` holds at most the first few hundred problems found;
    ``problem_count`` is how many there were in total. ``first_seen_at``/``last_seen_at``
    bracket the sightings; ``applied_at`` is when this revision last became the live config
    (``None``: never applied). All datetimes are timezone-aware UTC.
    """

    id: int
    source: str
    revision: str
    valid: bool
    problems: tuple[Problem, ...]
    problem_count: int
    document_count: int
    first_seen_at: datetime
    last_seen_at: datetime
    applied_at: datetime | None

    @property
    def applied(self) -> bool:
        return self.applied_at is not None

    @property
    def problems_truncated(self) -> bool:
        """True when only the first ``len(problems)`` of ``problem_count`` problems were kept."""
        return self.problem_count > len(self.problems)
