"""Settings: read once from the environment and flags (flags win) into one frozen object.

This is the only module that reads ``os.environ`` — and it does not even do that itself:
the composition root passes the environment mapping in, which keeps tests hermetic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from controller.credentials import redact_url
from controller.errors import SettingsError
from controller.models.durations import parse_duration

DEFAULT_PORT = 5016
SourceKind = Literal["git", "folder"]

_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")


class Secret:
    """A string that never shows itself in ``repr``/``str`` (logs, tracebacks, API dumps)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def source_kind_of(location: str) -> SourceKind:
    """A URL (``https://``, ``ssh://``, ``file://``, ``git@host:path``) is Git; anything else
    is a local folder read as-is (revision = content hash, reloaded on change)."""
    if "://" in location or _SCP_LIKE.match(location):
        return "git"
    return "folder"


@dataclass(frozen=True, slots=True, repr=False)
class Settings:
    config_repo: str = "./example-config-repo"
    config_branch: str = "main"
    config_path: str = ""
    poll_interval: timedelta = timedelta(seconds=30)
    data_dir: Path = Path(".meshgate")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    public_url: str = ""
    api_tokens: tuple[Secret, ...] = ()
    read_tokens: tuple[Secret, ...] = ()
    """When set, the dashboard and the read API need one of these (or an API token)."""
    log_level: str = "info"
    log_format: str = "text"
    """``text`` (lines for people) or ``json`` (one JSON object per line)."""
    runner_concurrency: int = 4
    """Runs executed at once by this process; 0 runs none (an intake-only replica)."""
    status_concurrency: int = 8
    """Commit-status requests to Gitea in flight at once; 0 posts none."""
    status_retry_for: timedelta = timedelta(hours=6)
    """How long a status post is retried through a Gitea outage before it is dead-lettered."""
    status_max_backoff: timedelta = timedelta(minutes=5)
    """The longest wait between two attempts of one status post."""
    run_queue_timeout: timedelta = timedelta(hours=1)
    """A run that posts a status and waits longer than this in the queue ends ``error``."""
    environment_budget: int = 20
    """Live (not ``static``) environments per workspace at once; 0 for no limit."""
    environment_sweep_interval: timedelta = timedelta(seconds=30)
    """How often environments past their TTL are looked for (also right after a release)."""
    orphan_sweep_interval: timedelta = timedelta(minutes=5)
    orphan_grace: timedelta = timedelta(minutes=10)
    """An Application labelled as meshgate's with no environment is deleted once it is
    older than this (a provisioning in flight on another replica is never an orphan)."""
    lease: timedelta = timedelta(seconds=60)
    """How long a claim on work (a run, an environment's provisioning or teardown, a status
    post: at least 30s) holds without being renewed; renewed every quarter of it. When a
    replica dies, another one takes its work over after this."""
    run_attempts: int = 3
    """Claims of one run in all: a run interrupted this many times (its replica died) ends
    ``error`` instead of starting again."""
    shutdown_grace: timedelta = timedelta(seconds=30)
    """On SIGTERM, how long runs in progress may take to finish before they are handed
    back to the queue (for another replica, or the next start)."""

    @property
    def config_source_kind(self) -> SourceKind:
        return source_kind_of(self.config_repo)

    @property
    def effective_database_url(self) -> str:
        """The SQLAlchemy URL in use: the setting, else SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'meshgate.db').resolve()}"

    @property
    def effective_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "localhost" if self.host in ("127.0.0.1", "0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    def __repr__(self) -> str:
        return f"Settings({self.describe()})"

    def describe(self) -> dict[str, Any]:
        """Settings as shown to people: credentials removed from URLs, tokens counted only."""
        return {
            "config_repo": redact_url(self.config_repo),
            "config_source": self.config_source_kind,
            "config_branch": self.config_branch,
            "config_path": self.config_path,
            "poll_interval_seconds": self.poll_interval.total_seconds(),
            "data_dir": str(self.data_dir),
            "database": redact_url(self.effective_database_url),
            "listen": f"{self.host}:{self.port}",
            "public_url": self.effective_public_url,
            "api_tokens": len(self.api_tokens),
            "read_tokens": len(self.read_tokens),
            "runner_concurrency": self.runner_concurrency,
            "status_concurrency": self.status_concurrency,
            "status_retry_for_seconds": self.status_retry_for.total_seconds(),
            "status_max_backoff_seconds": self.status_max_backoff.total_seconds(),
            "run_queue_timeout_seconds": self.run_queue_timeout.total_seconds(),
            "environment_budget": self.environment_budget,
            "environment_sweep_interval_seconds": self.environment_sweep_interval.total_seconds(),
            "orphan_sweep_interval_seconds": self.orphan_sweep_interval.total_seconds(),
            "orphan_grace_seconds": self.orphan_grace.total_seconds(),
            "lease_seconds": self.lease.total_seconds(),
            "run_attempts": self.run_attempts,
            "shutdown_grace_seconds": self.shutdown_grace.total_seconds(),
        }


_ENVIRONMENT = {
    "config_repo": "MESHGATE_CONFIG_REPO",
    "config_branch": "MESHGATE_CONFIG_BRANCH",
    "config_path": "MESHGATE_CONFIG_PATH",
    "poll_interval": "MESHGATE_POLL_INTERVAL",
    "data_dir": "MESHGATE_DATA_DIR",
    "database_url": "MESHGATE_DATABASE_URL",
    "host": "MESHGATE_HOST",
    "port": "MESHGATE_PORT",
    "public_url": "MESHGATE_PUBLIC_URL",
    "api_tokens": "MESHGATE_API_TOKENS",
    "read_tokens": "MESHGATE_READ_TOKENS",
    "log_level": "MESHGATE_LOG_LEVEL",
    "log_format": "MESHGATE_LOG_FORMAT",
    "runner_concurrency": "MESHGATE_RUNNER_CONCURRENCY",
    "status_concurrency": "MESHGATE_STATUS_CONCURRENCY",
    "status_retry_for": "MESHGATE_STATUS_RETRY_FOR",
    "status_max_backoff": "MESHGATE_STATUS_MAX_BACKOFF",
    "run_queue_timeout": "MESHGATE_RUN_QUEUE_TIMEOUT",
    "environment_budget": "MESHGATE_ENVIRONMENT_BUDGET",
    "environment_sweep_interval": "MESHGATE_ENVIRONMENT_SWEEP_INTERVAL",
    "orphan_sweep_interval": "MESHGATE_ORPHAN_SWEEP_INTERVAL",
    "orphan_grace": "MESHGATE_ORPHAN_GRACE",
    "lease": "MESHGATE_LEASE",
    "run_attempts": "MESHGATE_RUN_ATTEMPTS",
    "shutdown_grace": "MESHGATE_SHUTDOWN_GRACE",
}


def load_settings(
    environ: Mapping[str, str], overrides: Mapping[str, str | None] | None = None
) -> Settings:
    """Build settings from ``environ``; non-None ``overrides`` (CLI flags) take precedence.

    Raises ``SettingsError`` naming the variable when a value cannot be used.
    """
    raw: dict[str, str] = {}
    for name, variable in _ENVIRONMENT.items():
        value = environ.get(variable)
        if value is not None and value.strip() != "":
            raw[name] = value.strip()
    for name, value in (overrides or {}).items():
        if name not in _ENVIRONMENT:
            raise SettingsError(f"unknown setting {name!r}")
        if value is not None:
            raw[name] = value
    return _convert(raw)


def _convert(raw: Mapping[str, str]) -> Settings:
    values: dict[str, Any] = {}
    for name, text in raw.items():
        variable = _ENVIRONMENT[name]
        try:
            values[name] = _CONVERTERS.get(name, str)(text)
        except ValueError as exc:
            raise SettingsError(f"{variable}: {exc}") from exc
    return Settings(**values)


def _concurrency(text: str) -> int:
    return _count(text, 0, 256)


def _count(text: str, low: int, high: int) -> int:
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{value} is out of range {low}-{high}")
    return value


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range 0-65535")
    return port


def _interval(text: str) -> timedelta:
    value = parse_duration(text)
    if value < timedelta(seconds=1):
        raise ValueError(f"interval {text!r} is below the minimum of 1s")
    return value


def _lease(text: str) -> timedelta:
    value = parse_duration(text)
    if value < timedelta(seconds=2):
        raise ValueError(f"lease {text!r} is below the minimum of 2s")
    return value


def _positive_duration(text: str) -> timedelta:
    value = parse_duration(text)
    if value <= timedelta(0):
        raise ValueError(f"{text!r} must be longer than 0s")
    return value


def _tokens(text: str) -> tuple[Secret, ...]:
    return tuple(Secret(t.strip()) for t in text.split(",") if t.strip())


def _log_format(text: str) -> str:
    chosen = text.lower()
    if chosen not in ("text", "json"):
        raise ValueError(f"unknown log format {text!r} (text or json)")
    return chosen


def _log_level(text: str) -> str:
    level = text.lower()
    if level not in ("critical", "error", "warning", "info", "debug"):
        raise ValueError(f"unknown log level {text!r}")
    return level


_CONVERTERS: dict[str, Any] = {
    "runner_concurrency": _concurrency,
    "status_concurrency": _concurrency,
    "status_retry_for": _positive_duration,
    "status_max_backoff": _positive_duration,
    "run_queue_timeout": _positive_duration,
    "environment_budget": lambda t: _count(t, 0, 100_000),
    "environment_sweep_interval": _interval,
    "orphan_sweep_interval": _interval,
    "orphan_grace": parse_duration,
    "lease": _lease,
    "run_attempts": lambda t: _count(t, 1, 100),
    "shutdown_grace": parse_duration,
    "poll_interval": _interval,
    "data_dir": Path,
    "port": _port,
    "api_tokens": _tokens,
    "read_tokens": _tokens,
    "log_level": _log_level,
    "log_format": _log_format,
    "config_path": lambda t: t.strip("/"),
}
