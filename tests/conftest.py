"""Shared pytest configuration: async tests run on asyncio through anyio's plugin; under CI
Hypothesis is derandomized so a red build always reproduces."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
