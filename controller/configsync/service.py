"""ConfigSync: bring the live config up to date with the config repo, safely.

Guarantees:
- An invalid revision is never applied; the last known good snapshot keeps serving, and the
  failed revision with its problems is recorded and shown. After a restart, the revision this
  source last applied (recorded in storage) is served if the tip is invalid.
- A source failure (remote down, branch gone) changes nothing but the reported status.
- Refreshes are serialized: the poll job, the folder watcher and (later) push webhooks may
  ask at once; each request runs after the current one, and an unchanged revision is a no-op.
- The live snapshot is replaced by one reference assignment, so readers never see a mix.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from controller.concurrency import run_blocking
from controller.configsync.sources import ConfigSource, SourceRevision
from controller.configsync.validation import ConfigValidator
from controller.errors import (
    ConfigSourceError,
    ConfigSourceUnavailable,
    MeshgateError,
    StorageError,
    StorageUnavailable,
)
from controller.loader import ConfigLoader
from controller.models.documents import ConfigDocument
from controller.models.problems import Problem
from controller.models.snapshot import ConfigSnapshot
from controller.storage import Storage

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ConfigAttempt:
    """The outcome of loading one revision."""

    revision: str
    summary: str
    at: datetime
    problems: tuple[Problem, ...]
    document_count: int

    @property
    def valid(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class SourceFailure:
    message: str
    at: datetime
    temporary: bool


@dataclass(frozen=True, slots=True)
class ConfigStatus:
    live: ConfigSnapshot | None
    last_attempt: ConfigAttempt | None
    source_failure: SourceFailure | None


PINNED_KEPT = 4


class ConfigSync:
    def __init__(
        self,
        *,
        source: ConfigSource,
        loader: ConfigLoader,
        validator: ConfigValidator,
        storage: Storage,
        clock: Callable[[], datetime] = utc_now,
        on_applied: Callable[[ConfigSnapshot], None] = lambda snapshot: None,
        on_checked: Callable[[ConfigAttempt], Awaitable[None]] | None = None,
    ) -> None:
        """``on_applied`` is called with each snapshot right after it goes live (the
        composition root warms the matcher and settles the heap there); it must not fail.
        ``on_checked`` is awaited with the attempt of each new revision of the source once
        it is recorded (the ``meshgate/config`` commit status); its errors are logged."""
        self._source = source
        self._on_applied = on_applied
        self._on_checked = on_checked
        self._loader = loader
        self._validator = validator
        self._storage = storage
        self._clock = clock
        self._lock = asyncio.Lock()
        self._live: ConfigSnapshot | None = None
        self._live_root: Path | None = None
        self._last_attempt: ConfigAttempt | None = None
        self._source_failure: SourceFailure | None = None
        self._pinned: dict[str, tuple[ConfigSnapshot, Path | None]] = {}

    @property
    def live_root(self) -> Path | None:
        """The folder the live config was loaded from (its config root), where runs read
        the files flows refer to (JSON Schemas). With a Git source this is the clone's work
        tree, which a later fetch may move past the live revision; not guaranteed to hold
        exactly the live revision's files."""
        return self._live_root

    @property
    def source(self) -> ConfigSource:
        return self._source

    @property
    def live(self) -> ConfigSnapshot | None:
        """The config in force, or ``None`` until a first valid revision has loaded."""
        return self._live

    def status(self) -> ConfigStatus:
        return ConfigStatus(self._live, self._last_attempt, self._source_failure)

    async def snapshot_at(self, revision: str) -> tuple[ConfigSnapshot, Path | None] | None:
        """The config of ``revision`` and its root, for a run pinned to it (a re-run with
        its original's revision): the live one, or that commit loaded and validated from
        the source into a folder of its own (the last ``PINNED_KEPT`` are kept). ``None``
        when the source has no such revision (a folder source keeps no history) or it does
        not validate; nothing of it is ever applied."""
        live = self._live
        if live is not None and live.revision == revision:
            return live, self._live_root
        if revision in self._pinned:
            return self._pinned[revision]
        try:
            fetched = await self._source.fetch_revision(revision, own_folder=True)
        except (ConfigSourceUnavailable, ConfigSourceError) as exc:
            log.warning("config revision %s for a pinned run: %s", revision, exc)
            return None
        if fetched is None:
            return None
        attempt, documents = await self._load(fetched)
        if not attempt.valid:
            return None
        loaded = (
            ConfigSnapshot.build(
                revision=attempt.revision, loaded_at=attempt.at, documents=documents
            ),
            _root(fetched),
        )
        self._pinned[revision] = loaded
        while len(self._pinned) > PINNED_KEPT:
            self._pinned.pop(next(iter(self._pinned)))
        return loaded

    async def refresh(self, *, reason: str) -> ConfigAttempt | None:
        """Fetch, load and validate the source's current revision; apply it if valid.

        Returns the attempt for the revision now at the source (possibly the previous one if
        nothing changed), or ``None`` when the source could not be read.
        """
        async with self._lock:
            try:
                fetched = await self._source.fetch()
            except (ConfigSourceUnavailable, ConfigSourceError) as exc:
                self._record_source_failure(exc, reason)
                return None
            self._source_failure = None
            previous = self._last_attempt
            if fetched.revision is not None and previous and previous.revision == fetched.revision:
                return previous
            attempt, documents = await self._load(fetched)
            if previous is not None and previous.revision == attempt.revision:
                return previous
            self._last_attempt = attempt
            if attempt.valid:
                self._apply(attempt, documents, reason, _root(fetched))
            else:
                self._log_rejection(attempt)
            await self._record(attempt)
            if self._live is None and not attempt.valid:
                await self._restore_last_applied(instead_of=attempt.revision)
            await self._checked(attempt)
            return attempt

    async def _load(
        self, fetched: SourceRevision
    ) -> tuple[ConfigAttempt, tuple[ConfigDocument, ...]]:
        tree = await run_blocking(self._loader.load_tree, fetched.repo_root, fetched.subpath)
        semantic = await run_blocking(self._validator.validate, tree.documents)
        attempt = ConfigAttempt(
            revision=fetched.revision or tree.content_hash,
            summary=fetched.summary,
            at=self._clock(),
            problems=tuple(sorted((*tree.problems, *semantic), key=Problem.sort_key)),
            document_count=len(tree.documents),
        )
        return attempt, tree.documents

    def _apply(
        self,
        attempt: ConfigAttempt,
        documents: tuple[ConfigDocument, ...],
        reason: str,
        root: Path,
    ) -> None:
        self._live = ConfigSnapshot.build(
            revision=attempt.revision, loaded_at=attempt.at, documents=documents
        )
        self._live_root = root
        log.info(
            "applied config revision %s (%d documents, %s)",
            attempt.revision,
            attempt.document_count,
            reason,
        )
        self._on_applied(self._live)

    async def _restore_last_applied(self, *, instead_of: str) -> None:
        """Nothing is live (a fresh start) and the tip is invalid: serve the revision this
        source last applied, if the source still has it and it still validates.

        Without this, restarting every replica while a bad commit sits on the branch would
        leave none of them ready.
        """
        try:
            record = await self._storage.last_applied_config_revision(self._source.identity)
            if record is None or record.revision == instead_of:
                return
            fetched = await self._source.fetch_revision(record.revision)
        except (
            StorageUnavailable,
            StorageError,
            ConfigSourceUnavailable,
            ConfigSourceError,
        ) as exc:
            log.warning("cannot restore the last applied config revision: %s", exc)
            return
        if fetched is None:
            return
        restored, documents = await self._load(fetched)
        if not restored.valid:
            log.warning(
                "last applied config revision %s no longer validates (%s); nothing to serve",
                record.revision,
                restored.problems[0],
            )
            return
        self._apply(restored, documents, f"restored: {instead_of} is invalid", _root(fetched))

    def _record_source_failure(self, exc: Exception, reason: str) -> None:
        temporary = isinstance(exc, ConfigSourceUnavailable)
        self._source_failure = SourceFailure(str(exc), self._clock(), temporary)
        keeping = self._live.revision if self._live else "nothing yet"
        log.warning(
            "config source %s failed (%s): %s; serving %s",
            self._source.identity,
            reason,
            exc,
            keeping,
        )

    def _log_rejection(self, attempt: ConfigAttempt) -> None:
        keeping = self._live.revision if self._live else "nothing yet"
        shown = "; ".join(str(problem) for problem in attempt.problems[:5])
        log.warning(
            "config revision %s is invalid (problems: %d), still serving %s: %s",
            attempt.revision,
            len(attempt.problems),
            keeping,
            shown,
        )

    async def _checked(self, attempt: ConfigAttempt) -> None:
        if self._on_checked is None:
            return
        try:
            await self._on_checked(attempt)
        except MeshgateError as exc:
            log.warning("config revision %s: could not report it: %s", attempt.revision, exc)

    async def _record(self, attempt: ConfigAttempt) -> None:
        """Persist the attempt; a storage outage must not stop the config from applying."""
        try:
            await self._storage.record_config_revision(
                source=self._source.identity,
                revision=attempt.revision,
                valid=attempt.valid,
                problems=attempt.problems,
                document_count=attempt.document_count,
                seen_at=attempt.at,
            )
            if attempt.valid:
                await self._storage.mark_config_applied(
                    source=self._source.identity, revision=attempt.revision, applied_at=attempt.at
                )
        except (StorageUnavailable, StorageError) as exc:
            log.warning("could not record config revision %s: %s", attempt.revision, exc)


def _root(fetched: SourceRevision) -> Path:
    return fetched.repo_root / fetched.subpath if fetched.subpath else fetched.repo_root
