"""Pytest fixtures for the loopback Git server.

Use from a test module with ``pytest_plugins = ["tests.support.fixtures"]`` (or from the root
``tests/conftest.py``); import constants and classes from ``tests.support.git_server``, never
from this module (pytest must import it first to rewrite its asserts). ``git_server`` requires
HTTP basic auth (``GIT_USER``/``GIT_PASSWORD``); ``url_for`` embeds those credentials unless
told otherwise. ``work_repo`` is an empty working
repo whose ``origin`` is the served bare repo ``config.git`` (created empty, branch ``main``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.git_server import GIT_PASSWORD, GIT_USER, GitServer, WorkRepo


@pytest.fixture
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    with GitServer(tmp_path_factory.mktemp("git-server"), auth=(GIT_USER, GIT_PASSWORD)) as server:
        yield server


@pytest.fixture
def work_repo(git_server: GitServer, tmp_path_factory: pytest.TempPathFactory) -> WorkRepo:
    git_server.create_repo("config")
    return WorkRepo(tmp_path_factory.mktemp("work-repo") / "config", git_server.url_for("config"))
