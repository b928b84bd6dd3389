from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from controller.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "example-config-repo"


def copy_example(destination: Path) -> Path:
    """The example config repo's documents, copied so a test can change them."""
    shutil.copytree(EXAMPLE, destination, dirs_exist_ok=True)
    return destination


@pytest.fixture
def settings_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    def build(config_repo: str, *, poll: float = 1.0, **extra: object) -> Settings:
        return Settings(
            config_repo=config_repo,
            poll_interval=timedelta(seconds=poll),
            data_dir=tmp_path / "data",
            **extra,  # type: ignore[arg-type]
        )

    return build
