"""The built wheel is complete: an installed (non-editable) meshgate finds its schemas,
migrations, page templates and the example config (``meshgate demo``) without the source
tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(REPO)],
        check=True,
        timeout=180,
    )  # fmt: skip
    (built,) = out.glob("meshgate-*.whl")
    return built


def test_wheel_contains_schemas_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for schema in (REPO / "schemas").glob("*.json"):
        assert f"controller/_schemas/{schema.name}" in names
    assert any(n.startswith("controller/storage/migrations/versions/") for n in names)
    assert "controller/storage/migrations/env.py" in names
    for page in ("base.html", "run.html", "run_flows.html", "runs.html"):
        assert f"controller/web/templates/{page}" in names
    assert "controller/web/static/meshgate.css" in names
    assert "controller/web/static/live-run.js" in names
    assert "controller/_example/environments/staging.yaml" in names, "what meshgate demo serves"


def test_installed_wheel_validates_without_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
         str(wheel)],
        check=True,
        timeout=180,
    )  # fmt: skip
    environment = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run(
        [sys.executable, "-c", "import controller, sys; print(controller.__file__)"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.startswith(str(target))
    done = subprocess.run(
        [sys.executable, "-m", "controller", "validate", str(REPO / "example-config-repo")],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("valid: ")
