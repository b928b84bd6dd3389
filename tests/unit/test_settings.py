from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from controller.credentials import redact_url
from controller.errors import SettingsError
from controller.settings import Secret, load_settings, source_kind_of


def test_settings_defaults_run_without_setup() -> None:
    settings = load_settings({})
    assert settings.config_repo == "./example-config-repo"
    assert settings.config_source_kind == "folder"
    assert settings.port == 5016
    assert settings.host == "127.0.0.1"
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.effective_database_url.endswith("/.meshgate/meshgate.db")
    assert settings.effective_public_url == "http://localhost:5016"


def test_settings_environment_is_read() -> None:
    settings = load_settings(
        {
            "MESHGATE_CONFIG_REPO": "https://gitea.example/shop/config.git",
            "MESHGATE_CONFIG_BRANCH": "prod",
            "MESHGATE_CONFIG_PATH": "/meshgate/",
            "MESHGATE_POLL_INTERVAL": "1m30s",
            "MESHGATE_DATA_DIR": "/var/lib/meshgate",
            "MESHGATE_PORT": "8080",
            "MESHGATE_API_TOKENS": "a, b,,",
        }
    )
    assert settings.config_source_kind == "git"
    assert settings.config_branch == "prod"
    assert settings.config_path == "meshgate"
    assert settings.poll_interval == timedelta(seconds=90)
    assert settings.data_dir == Path("/var/lib/meshgate")
    assert settings.port == 8080
    assert settings.api_tokens == (Secret("a"), Secret("b"))


def test_settings_flags_win_over_environment() -> None:
    settings = load_settings({"MESHGATE_PORT": "8080"}, {"port": "9090", "host": None})
    assert settings.port == 9090
    assert settings.host == "127.0.0.1"


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("MESHGATE_PORT", "http", "MESHGATE_PORT"),
        ("MESHGATE_PORT", "70000", "out of range"),
        ("MESHGATE_POLL_INTERVAL", "30", "use a number with a unit"),
        ("MESHGATE_POLL_INTERVAL", "10ms", "below the minimum"),
        ("MESHGATE_LOG_LEVEL", "loud", "unknown log level"),
        ("MESHGATE_RUNNER_CONCURRENCY", "many", "MESHGATE_RUNNER_CONCURRENCY"),
        ("MESHGATE_RUNNER_CONCURRENCY", "-1", "out of range 0-256"),
        ("MESHGATE_ENVIRONMENT_BUDGET", "-1", "out of range 0-100000"),
        ("MESHGATE_ENVIRONMENT_SWEEP_INTERVAL", "100ms", "below the minimum"),
        ("MESHGATE_ORPHAN_GRACE", "soon", "MESHGATE_ORPHAN_GRACE"),
    ],
)
def test_settings_bad_values_name_the_variable(variable: str, value: str, fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment) as caught:
        load_settings({variable: value})
    assert variable in str(caught.value)


def test_settings_tokens_and_credentials_never_show() -> None:
    settings = load_settings(
        {
            "MESHGATE_API_TOKENS": "s3cr3t-token",
            "MESHGATE_CONFIG_REPO": "https://bot:hunter2@gitea.example/shop/config.git",
            "MESHGATE_DATABASE_URL": "postgresql+psycopg://app:pw123@db/meshgate",
        }
    )
    shown = repr(settings) + str(settings.describe())
    for secret in ("s3cr3t-token", "hunter2", "pw123"):
        assert secret not in shown


@pytest.mark.parametrize(
    ("location", "kind"),
    [
        ("https://gitea.example/shop/config.git", "git"),
        ("ssh://git@gitea.example:2222/shop/config.git", "git"),
        ("git@gitea.example:shop/config.git", "git"),
        ("file:///srv/git/config.git", "git"),
        ("./example-config-repo", "folder"),
        ("/srv/config", "folder"),
    ],
)
def test_settings_source_kind_follows_location(location: str, kind: str) -> None:
    assert source_kind_of(location) == kind


def test_redact_url_keeps_host_and_port() -> None:
    assert redact_url("https://u:p@host:3000/x.git") == "https://host:3000/x.git"
    assert redact_url("https://host/x.git") == "https://host/x.git"


def test_settings_runner_concurrency_defaults_to_four_and_zero_turns_it_off() -> None:
    assert load_settings({}).runner_concurrency == 4
    assert load_settings({"MESHGATE_RUNNER_CONCURRENCY": "0"}).runner_concurrency == 0


def test_settings_status_posting_defaults_and_overrides() -> None:
    defaults = load_settings({})
    assert (defaults.status_concurrency, defaults.status_retry_for) == (8, timedelta(hours=6))
    assert defaults.run_queue_timeout == timedelta(hours=1)
    tuned = load_settings(
        {
            "MESHGATE_STATUS_CONCURRENCY": "32",
            "MESHGATE_STATUS_RETRY_FOR": "30m",
            "MESHGATE_STATUS_MAX_BACKOFF": "2s",
            "MESHGATE_RUN_QUEUE_TIMEOUT": "2h",
        }
    )
    assert (tuned.status_concurrency, tuned.status_retry_for) == (32, timedelta(minutes=30))
    assert (tuned.status_max_backoff, tuned.run_queue_timeout) == (
        timedelta(seconds=2),
        timedelta(hours=2),
    )


def test_settings_status_durations_need_a_unit_and_a_length() -> None:
    with pytest.raises(SettingsError, match="MESHGATE_STATUS_RETRY_FOR"):
        load_settings({"MESHGATE_STATUS_RETRY_FOR": "60"})
    with pytest.raises(SettingsError, match="MESHGATE_RUN_QUEUE_TIMEOUT"):
        load_settings({"MESHGATE_RUN_QUEUE_TIMEOUT": "0s"})


def test_settings_environment_sweeps_defaults_and_overrides() -> None:
    defaults = load_settings({})
    assert (defaults.environment_budget, defaults.environment_sweep_interval) == (
        20,
        timedelta(seconds=30),
    )
    assert (defaults.orphan_sweep_interval, defaults.orphan_grace) == (
        timedelta(minutes=5),
        timedelta(minutes=10),
    )
    tuned = load_settings(
        {
            "MESHGATE_ENVIRONMENT_BUDGET": "0",
            "MESHGATE_ENVIRONMENT_SWEEP_INTERVAL": "5s",
            "MESHGATE_ORPHAN_SWEEP_INTERVAL": "1m",
            "MESHGATE_ORPHAN_GRACE": "0s",
        }
    )
    assert (tuned.environment_budget, tuned.environment_sweep_interval) == (
        0,
        timedelta(seconds=5),
    )
    assert (tuned.orphan_sweep_interval, tuned.orphan_grace) == (timedelta(minutes=1), timedelta(0))


def test_settings_leases_attempts_and_shutdown_grace_defaults_and_overrides() -> None:
    defaults = load_settings({})
    assert (defaults.lease, defaults.run_attempts, defaults.shutdown_grace) == (
        timedelta(seconds=60),
        3,
        timedelta(seconds=30),
    )
    tuned = load_settings(
        {"MESHGATE_LEASE": "3s", "MESHGATE_RUN_ATTEMPTS": "1", "MESHGATE_SHUTDOWN_GRACE": "0s"}
    )
    assert (tuned.lease, tuned.run_attempts, tuned.shutdown_grace) == (
        timedelta(seconds=3),
        1,
        timedelta(0),
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [("MESHGATE_LEASE", "1s"), ("MESHGATE_RUN_ATTEMPTS", "0"), ("MESHGATE_SHUTDOWN_GRACE", "x")],
)
def test_settings_leases_refuse_unusable_values(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings({variable: value})
