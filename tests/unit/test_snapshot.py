from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controller.errors import NotFound
from controller.loader import load_text
from controller.models.snapshot import ConfigSnapshot


def flow(name: str, workspace: str) -> str:
    return f"""\
apiVersion: meshgate.dev/v1alpha1
kind: Flow
metadata: {{name: {name}, workspace: {workspace}}}
spec:
  steps:
    - name: get
      request: {{service: user-service, path: /}}
"""


DOCUMENTS = "---\n".join([flow("zeta", "shop"), flow("alpha", "shop"), flow("alpha", "default")])


def snapshot() -> ConfigSnapshot:
    loaded = load_text(DOCUMENTS, "flows.yaml")
    assert loaded.problems == ()
    return ConfigSnapshot.build(
        revision="abc", loaded_at=datetime(2026, 1, 1, tzinfo=UTC), documents=loaded.documents
    )


def test_snapshot_lookups_by_workspace_kind_and_name() -> None:
    config = snapshot()
    found = config.get("shop", "Flow", "alpha")
    assert found is not None
    assert found.workspace == "shop"
    assert config.get("default", "Flow", "alpha") is not config.get("shop", "Flow", "alpha")
    assert config.get("shop", "Suite", "alpha") is None
    assert [doc.name for doc in config.of_kind("shop", "Flow")] == ["alpha", "zeta"]
    assert config.of_kind("nowhere", "Flow") == ()


def test_snapshot_require_raises_not_found_with_the_names() -> None:
    with pytest.raises(NotFound, match="Suite 'smoke' not found in workspace 'shop'"):
        snapshot().require("shop", "Suite", "smoke")


def test_snapshot_counts_and_workspaces() -> None:
    config = snapshot()
    assert config.workspaces() == ("default", "shop")
    assert config.counts() == {
        "Integration": 0,
        "TriggerRule": 0,
        "Suite": 0,
        "Flow": 3,
        "EnvironmentTemplate": 0,
    }


def test_snapshot_index_is_read_only() -> None:
    config = snapshot()
    with pytest.raises(TypeError):
        config._index[("shop", "Flow")]["new"] = config.documents[0]  # type: ignore[index]
