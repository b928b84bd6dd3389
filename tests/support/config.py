"""Config snapshots for tests: the example config repo, or one built from YAML text."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from controller.configsync.validation import ConfigValidator
from controller.loader import ConfigLoader, load_text
from controller.models.snapshot import ConfigSnapshot

EXAMPLE = Path(__file__).resolve().parents[2] / "example-config-repo"
LOADED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def example_snapshot(revision: str = "example") -> ConfigSnapshot:
    """The example config repo, loaded and validated like the server does."""
    tree = ConfigLoader().load_tree(EXAMPLE)
    assert tree.problems == ()
    assert not ConfigValidator().validate(tree.documents)
    return ConfigSnapshot.build(revision=revision, loaded_at=LOADED_AT, documents=tree.documents)


def snapshot_of(text: str, revision: str = "text") -> ConfigSnapshot:
    """``text`` (YAML documents) as a snapshot; it must load without problems."""
    loaded = load_text(text, "config.yaml")
    assert loaded.problems == (), [problem.to_dict() for problem in loaded.problems]
    return ConfigSnapshot.build(revision=revision, loaded_at=LOADED_AT, documents=loaded.documents)
