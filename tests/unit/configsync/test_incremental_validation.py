"""The incremental validator always agrees with a fresh one, edit after edit."""

from __future__ import annotations

import shutil
from pathlib import Path

from controller.configsync.validation import ConfigValidator
from controller.loader import ConfigLoader

EXAMPLE = Path(__file__).resolve().parents[3] / "example-config-repo"

EDITS: list[tuple[str, str, str]] = [
    # (file, old text, new text): each one either keeps or changes a cross-document verdict
    ("flows/checkout-smoke/place-order.flow.yaml", "name: place-order", "name: place-order-v2"),
    ("flows/checkout-smoke/place-order.flow.yaml", "name: place-order-v2", "name: place-order"),
    ("rules/staging-sync.yaml", "suite: checkout-smoke", "suite: checkout-smoke-v2"),
    ("rules/staging-sync.yaml", "suite: checkout-smoke-v2", "suite: checkout-smoke"),
    ("rules/staging-sync.yaml", "meshgate/checkout-smoke-staging", "meshgate/checkout-smoke"),
    ("rules/staging-sync.yaml", "Smoke-test staging", "Smoke tests on staging"),
    ("rules/staging-sync.yaml", "meshgate/checkout-smoke\n", "meshgate/checkout-smoke-staging\n"),
    ("environments/staging.yaml", "default: true", "default: false"),
    ("environments/staging.yaml", "default: false", "default: true"),
    ("integrations/gitea.yaml", "provider: gitea", "provider: argocd"),
    ("integrations/gitea.yaml", "provider: argocd", "provider: gitea"),
    ("rules/gitea.yaml", "Contract tests", "Contract checks"),
    ("rules/gitea.yaml", "enabled: true", "enabled: false"),
]


def test_incremental_validation_matches_a_fresh_validator_after_every_edit(
    tmp_path: Path,
) -> None:
    root = tmp_path / "config"
    shutil.copytree(EXAMPLE, root)
    loader, incremental = ConfigLoader(), ConfigValidator()
    assert incremental.validate(loader.load_tree(root).documents) == ()
    verdicts = []
    for file, old, new in EDITS:
        path = root / file
        text = path.read_text()
        assert old in text, (file, old)
        path.write_text(text.replace(old, new, 1))
        documents = loader.load_tree(root).documents
        expected = ConfigValidator().validate(documents)
        assert incremental.validate(documents) == expected, (file, old, new)
        verdicts.append(bool(expected))
    assert True in verdicts
    assert False in verdicts


def test_incremental_validation_sees_removed_and_restored_files(tmp_path: Path) -> None:
    root = tmp_path / "config"
    shutil.copytree(EXAMPLE, root)
    loader, incremental = ConfigLoader(), ConfigValidator()
    incremental.validate(loader.load_tree(root).documents)
    flow = root / "flows" / "checkout-smoke" / "place-order.flow.yaml"
    kept = flow.read_text()

    flow.unlink()
    missing = incremental.validate(loader.load_tree(root).documents)
    assert [p.code for p in missing] == ["reference.unresolved"]

    flow.write_text(kept)
    assert incremental.validate(loader.load_tree(root).documents) == ()

    copy = root / "flows" / "copy.yaml"
    copy.write_text(kept)
    duplicated = incremental.validate(loader.load_tree(root).documents)
    assert [p.code for p in duplicated] == ["name.duplicate"]
