"""Every broken config repo under ``tests/fixtures/broken`` gives exactly the expected problems.

Each case is a tiny config repo; ``EXPECTED`` lists the problems its load must report, as
``file:line:column: message`` prefixes and codes. The oversized file and the symlink leaving
the repo are built in ``tmp_path`` instead of being committed.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from controller.loader import ConfigLoader
from controller.models.problems import Problem
from tests.unit.loader import samples

BROKEN = Path(__file__).resolve().parents[2] / "fixtures" / "broken"

LOADER_STAGES = ("yaml.", "schema.", "envelope.", "file.", "source.")


def _expected(case: str) -> list[tuple[str, str]]:
    """(prefix, code) of the loader-stage problems listed in the case's ``expected.txt``."""
    lines = (BROKEN / case / "expected.txt").read_text().splitlines()
    pairs = [tuple(line.split(" ", 1)) for line in lines if line.strip()]
    return [(prefix, code) for code, prefix in pairs if code.startswith(LOADER_STAGES)]


CASES = sorted(path.name for path in BROKEN.iterdir() if path.is_dir())


def _assert_problems(problems: tuple[Problem, ...], expected: list[tuple[str, str]]) -> None:
    assert len(problems) == len(expected), [str(p) for p in problems]
    for problem, (prefix, code) in zip(problems, expected, strict=True):
        assert str(problem).startswith(prefix), str(problem)
        assert problem.code == code


def test_broken_fixtures_each_list_their_expected_problems() -> None:
    for case in CASES:
        assert (BROKEN / case / "expected.txt").read_text().strip(), case


@pytest.mark.parametrize("case", [case for case in CASES if case != "alias-bomb"])
def test_broken_fixture_reports_expected_loader_problems(case: str) -> None:
    expected = _expected(case)
    tree = ConfigLoader().load_tree(BROKEN / case)
    _assert_problems(tree.problems, expected)
    if expected:
        assert tree.documents == ()


def test_broken_fixture_alias_bomb_is_rejected_at_the_first_anchor_without_expansion() -> None:
    started = time.perf_counter()
    tree = ConfigLoader().load_tree(BROKEN / "alias-bomb")
    assert time.perf_counter() - started < 1.0
    assert str(tree.problems[0]).startswith(
        "bomb.yaml:1:4: anchors and aliases are not allowed (they expand content; "
        "write the value out)"
    )
    assert {p.code for p in tree.problems} == {"yaml.alias"}
    assert len(tree.problems) == 9 + 8 * 9
    assert tree.documents == ()


def test_broken_fixture_oversized_file(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(samples.SUITE)
    with (tmp_path / "huge.yaml").open("w") as handle:
        handle.write(samples.SUITE)
        handle.write("# filler line to pass the size cap\n" * 30_000)
    tree = ConfigLoader().load_tree(tmp_path)
    _assert_problems(
        tree.problems, [("huge.yaml: file is 1.0 MiB; the limit is", "file.too-large")]
    )
    assert [d.origin.path for d in tree.documents] == ["ok.yaml"]


def test_broken_fixture_symlink_out_of_repo(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "suite.yaml").write_text(samples.SUITE)
    (tmp_path / "passwd").write_text("root:x:0:0\n")
    (repo / "flows.yaml").symlink_to(tmp_path / "passwd")
    tree = ConfigLoader().load_tree(repo)
    _assert_problems(
        tree.problems,
        [("flows.yaml: symbolic link points outside the repository", "source.symlink-escape")],
    )
    assert tree.problems[0].line == 0
