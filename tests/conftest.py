"""Shared pytest configuration: async tests run on asyncio through anyio's plugin; under CI
Hypothesis is derandomized so a red build always reproduces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

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
