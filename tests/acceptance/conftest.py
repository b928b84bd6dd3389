from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from controller.settings import Settings


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
