"""Shared pytest configuration: async tests run on asyncio through anyio's plugin; under CI
Hypothesis is derandomized so a red build always reproduces."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import settings

from controller.settings import Settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

pytest_plugins = ["tests.support.fixtures"]

SHARED = Path(__file__).resolve().parents[2] / "shared"


def pytest_configure(config: pytest.Config) -> None:
    """The Gitea and Argo CD fixtures live in the team's ``shared/`` folder beside the repo."""
    if not (SHARED / "fixtures").is_dir():
        pytest.exit(
            f"the tests need the team's shared folder at {SHARED} (fixtures of real Gitea and "
            "Argo CD traffic); check it out beside this repository",
            returncode=2,
        )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings for a server on ``config_repo`` with its data in this test's tmp dir."""

    def build(config_repo: str, *, poll: float = 1.0, **extra: object) -> Settings:
        """The runner and the status poster are off unless a test asks for them
        (``runner_concurrency=N``, ``status_concurrency=N``): the example config routes to
        cluster host names and posts to its Gitea, and tests reach loopback only."""
        extra.setdefault("runner_concurrency", 0)
        extra.setdefault("status_concurrency", 0)
        return Settings(
            config_repo=config_repo,
            poll_interval=timedelta(seconds=poll),
            data_dir=tmp_path / "data",
            **extra,  # type: ignore[arg-type]
        )

    return build
