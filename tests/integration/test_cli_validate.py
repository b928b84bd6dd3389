"""``meshgate validate`` as users run it: on the example repo and on every broken fixture."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from controller.cli import main

REPO = Path(__file__).resolve().parents[2]
BROKEN = REPO / "tests" / "fixtures" / "broken"
CASES = sorted(path.name for path in BROKEN.iterdir() if path.is_dir())


def test_validate_example_repo_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(REPO / "example-config-repo")]) == 0
    assert capsys.readouterr().out == "valid: 14 documents in 12 files\n"


@pytest.mark.parametrize("case", CASES)
def test_validate_broken_fixture_prints_file_line_column_and_exits_one(
    case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = BROKEN / case
    assert main(["validate", str(root)]) == 1
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1].startswith(("1 problem in ", f"{len(printed) - 1} problems in "))
    for line in (root / "expected.txt").read_text().splitlines():
        _, prefix = line.split(" ", 1)
        assert any(out.startswith(f"{root}/{prefix}") for out in printed), (prefix, printed)


def test_validate_json_format_carries_pointer_and_code(capsys: pytest.CaptureFixture[str]) -> None:
    root = BROKEN / "unknown-key"
    assert main(["validate", str(root), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert report["problems"] == [
        {
            "file": f"{root}/flow.yaml",
            "line": 12,
            "column": 9,
            "pointer": "/spec/steps/0/request/timout",
            "document": 0,
            "code": "schema.unknown-key",
            "message": "unknown key 'timout'; did you mean 'timeout'?",
        }
    ]


def test_validate_missing_folder_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_validate_oversized_file_and_escaping_symlink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "huge.yaml").write_text("# filler\n" * 200_000)
    (tmp_path / "outside.yaml").symlink_to("/etc/hostname")
    assert main(["validate", str(tmp_path)]) == 1
    printed = capsys.readouterr().out
    assert f"{tmp_path}/huge.yaml: file is 1.7 MiB; the limit is 1.0 MiB" in printed
    assert f"{tmp_path}/outside.yaml: symbolic link points outside the repository" in printed


@pytest.mark.parametrize(
    "command",
    [[str(Path(sys.executable).parent / "meshgate")], [sys.executable, "-m", "controller"]],
    ids=["console-script", "python-m"],
)
def test_validate_installed_commands_report_relative_paths(command: list[str]) -> None:
    done = subprocess.run(
        [*command, "validate", "tests/fixtures/broken/bad-enum"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout.startswith("tests/fixtures/broken/bad-enum/rule.yaml:8:23: 'pullrequest'")
