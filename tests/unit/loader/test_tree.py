"""Loading config trees: walking, limits, symlinks and the per-file caches."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from controller.loader import ConfigLoader, blob_id
from controller.loader import tree as tree_module
from tests.unit.loader import samples

HOUR_AGO = time.time() - 3600


@pytest.fixture
def trusting_stat_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust stat data at once: utime() cannot backdate ctime, which the racy check reads."""
    monkeypatch.setattr(tree_module, "_RACY_NS", -(10**12))


def _write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _age(root: Path) -> None:
    """Backdate every file so that the stat cache trusts it (as for a checkout made earlier)."""
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            os.utime(path, (HOUR_AGO, HOUR_AGO))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    _write(root, "integrations/argocd.yaml", samples.INTEGRATION)
    _write(root, "rules/rules.yml", samples.TRIGGER_RULE)
    _write(root, "suites/checkout.yaml", samples.SUITE + "---\n" + samples.FLOW)
    _write(root, "environments/pr.yaml", samples.ENVIRONMENT_TEMPLATE)
    _write(root, "README.md", "not config: ignored")
    _write(root, ".github/workflows/ci.yaml", "not: [config")
    _write(root, ".hidden.yaml", "not: [config")
    _write(root, "suites/.draft.yaml", "not: [config")
    return root


def test_load_tree_loads_yaml_files_in_sorted_order_skipping_hidden(repo: Path) -> None:
    tree = ConfigLoader().load_tree(repo)
    assert tree.problems == ()
    assert tree.files == 4
    assert [(d.origin.path, d.kind) for d in tree.documents] == [
        ("environments/pr.yaml", "EnvironmentTemplate"),
        ("integrations/argocd.yaml", "Integration"),
        ("rules/rules.yml", "TriggerRule"),
        ("suites/checkout.yaml", "Suite"),
        ("suites/checkout.yaml", "Flow"),
    ]
    assert [d.origin.index for d in tree.documents][-2:] == [0, 1]
    assert tree.parsed_files == 4


def test_load_tree_orders_files_by_path_like_git(tmp_path: Path) -> None:
    names = ("b.yaml", "a/z.yaml", "a.yaml", "a/b/c.yaml", "0.yaml", "a-b.yaml")
    for index, relative in enumerate(names):
        _write(tmp_path, relative, samples.FLOW.replace("place-order", f"flow-{index}"))
    tree = ConfigLoader().load_tree(tmp_path)
    assert [d.origin.path for d in tree.documents] == [
        "0.yaml",
        "a-b.yaml",
        "a.yaml",
        "a/b/c.yaml",
        "a/z.yaml",
        "b.yaml",
    ]


def test_load_tree_reports_problems_relative_to_config_root(repo: Path) -> None:
    _write(repo, "config/team/bad.yaml", samples.SUITE.replace("timeout: 15m", "timeout: 15"))
    _write(repo, "config/good.yaml", samples.FLOW)
    tree = ConfigLoader().load_tree(repo, "config")
    assert [d.origin.path for d in tree.documents] == ["good.yaml"]
    ((problem),) = tree.problems
    assert (problem.path, problem.line, problem.column) == ("team/bad.yaml", 17, 12)
    assert str(problem).startswith("team/bad.yaml:17:12: a duration needs a unit")


def test_load_tree_reports_missing_subpath(repo: Path) -> None:
    tree = ConfigLoader().load_tree(repo, "nope/deeper")
    assert [(p.path, p.line, p.code) for p in tree.problems] == [("", 0, "source.missing-path")]
    assert "'nope/deeper' does not exist" in tree.problems[0].message
    assert tree.documents == ()


def test_load_tree_rejects_subpath_that_is_a_file(repo: Path) -> None:
    tree = ConfigLoader().load_tree(repo, "README.md")
    assert [p.code for p in tree.problems] == ["source.missing-path"]


def test_load_tree_rejects_symlink_out_of_repo_and_keeps_loading(
    repo: Path, tmp_path: Path
) -> None:
    outside = _write(tmp_path, "outside/secret.yaml", samples.FLOW)
    (repo / "suites" / "stolen.yaml").symlink_to(outside)
    (repo / "etc").symlink_to(tmp_path / "outside", target_is_directory=True)
    _write(repo, "rules/broken.yaml", "a: [")
    tree = ConfigLoader().load_tree(repo)
    assert [(p.path, p.line, p.column, p.code) for p in tree.problems] == [
        ("etc", 0, 0, "source.symlink-escape"),
        ("rules/broken.yaml", 2, 1, "yaml.syntax"),
        ("suites/stolen.yaml", 0, 0, "source.symlink-escape"),
    ]
    assert "points outside the repository" in tree.problems[0].message
    assert len(tree.documents) == 5


def test_load_tree_rejects_relative_symlink_climbing_out(repo: Path, tmp_path: Path) -> None:
    _write(tmp_path, "other/x.yaml", samples.FLOW)
    (repo / "sneaky.yaml").symlink_to("../other/x.yaml")
    tree = ConfigLoader().load_tree(repo)
    assert [(p.path, p.code) for p in tree.problems] == [("sneaky.yaml", "source.symlink-escape")]
    assert "'../other/x.yaml'" in tree.problems[0].message


def test_load_tree_rejects_config_path_leaving_the_repo(repo: Path, tmp_path: Path) -> None:
    _write(tmp_path, "elsewhere/x.yaml", samples.FLOW)
    (repo / "config").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    tree = ConfigLoader().load_tree(repo, "config")
    assert [p.code for p in tree.problems] == ["source.symlink-escape"]
    assert tree.documents == ()


def test_load_tree_follows_symlinks_inside_repo(repo: Path) -> None:
    (repo / "linked.yaml").symlink_to(repo / "environments" / "pr.yaml")
    (repo / ".common").mkdir()
    (repo / "integrations").rename(repo / ".common" / "integrations")
    (repo / "shared").symlink_to(".common/integrations", target_is_directory=True)
    tree = ConfigLoader().load_tree(repo)
    assert tree.problems == ()
    paths = [d.origin.path for d in tree.documents]
    assert "linked.yaml" in paths
    assert "shared/argocd.yaml" in paths


def test_load_tree_walks_each_real_folder_once(tmp_path: Path) -> None:
    depth = 20
    for level in range(depth):
        (tmp_path / f"d{level}").mkdir()
    for level in range(depth - 1):
        for name in ("a", "b"):
            (tmp_path / f"d{level}" / name).symlink_to(tmp_path / f"d{level + 1}")
    _write(tmp_path, f"d{depth - 1}/x.yaml", samples.FLOW)
    tree = ConfigLoader().load_tree(tmp_path)
    assert tree.files == 1
    assert {p.code for p in tree.problems} == {"source.symlink-loop"}


def test_load_tree_does_not_follow_symlink_loops(repo: Path) -> None:
    (repo / "suites" / "again").symlink_to("..", target_is_directory=True)
    (repo / "self").symlink_to(".", target_is_directory=True)
    tree = ConfigLoader().load_tree(repo)
    assert sorted((p.path, p.code) for p in tree.problems) == [
        ("self", "source.symlink-loop"),
        ("suites/again", "source.symlink-loop"),
    ]
    assert len(tree.documents) == 5


def test_load_tree_rejects_oversized_file_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.write(b"# padding\n" * (1024 * 1024 // 10 + 1))
    _write(tmp_path, "ok.yaml", samples.FLOW)
    tree = ConfigLoader().load_tree(tmp_path)
    assert [(p.path, p.line, p.code) for p in tree.problems] == [("big.yaml", 0, "file.too-large")]
    assert tree.problems[0].message == "file is 1.0 MiB; the limit is 1.0 MiB"
    assert tree.read_files == 1
    assert len(tree.documents) == 1


def test_load_tree_applies_configured_size_limit(tmp_path: Path) -> None:
    _write(tmp_path, "ok.yaml", samples.FLOW)
    tree = ConfigLoader(max_file_size=100).load_tree(tmp_path)
    assert [p.message for p in tree.problems] == [
        f"file is {len(samples.FLOW)} bytes; the limit is 100 bytes"
    ]


def test_load_tree_reports_non_utf8_file_with_position(tmp_path: Path) -> None:
    (tmp_path / "latin1.yaml").write_bytes("metadata:\n  name: caf\xe9\n".encode("latin-1"))
    (tmp_path / "utf16.yaml").write_bytes("a: 1\n".encode("utf-16"))
    tree = ConfigLoader().load_tree(tmp_path)
    assert [(p.path, p.line, p.column, p.code) for p in tree.problems] == [
        ("latin1.yaml", 2, 12, "file.encoding"),
        ("utf16.yaml", 1, 1, "file.encoding"),
    ]
    assert tree.problems[0].message == "file is not valid UTF-8 (byte 0xe9); save it as UTF-8"


def test_load_tree_accepts_utf8_byte_order_mark(tmp_path: Path) -> None:
    (tmp_path / "bom.yaml").write_bytes(b"\xef\xbb\xbf" + samples.FLOW.encode())
    tree = ConfigLoader().load_tree(tmp_path)
    assert tree.problems == ()
    assert len(tree.documents) == 1


def test_load_tree_limits_file_count(tmp_path: Path) -> None:
    for index in range(5):
        _write(tmp_path, f"f{index}.yaml", "")
    tree = ConfigLoader(max_files=3).load_tree(tmp_path)
    assert tree.files == 3
    assert [(p.path, p.code) for p in tree.problems] == [("", "source.too-many-files")]


def test_load_tree_limits_documents_per_file(tmp_path: Path) -> None:
    _write(tmp_path, "many.yaml", "---\n".join([samples.FLOW] * 3))
    tree = ConfigLoader(max_documents=2).load_tree(tmp_path)
    assert len(tree.documents) == 2
    assert [(p.path, p.code, p.document) for p in tree.problems] == [
        ("many.yaml", "file.too-many-documents", 2)
    ]


def test_load_tree_second_load_of_unchanged_tree_reads_and_parses_nothing(
    repo: Path, trusting_stat_cache: None
) -> None:
    _age(repo)
    loader = ConfigLoader()
    first = loader.load_tree(repo)
    second = loader.load_tree(repo)
    assert (second.parsed_files, second.read_files) == (0, 0)
    assert second.documents == first.documents
    assert all(a is b for a, b in zip(first.documents, second.documents, strict=True))
    assert second.content_hash == first.content_hash


def test_load_tree_recent_files_are_rehashed_but_not_reparsed(repo: Path) -> None:
    loader = ConfigLoader()
    loader.load_tree(repo)
    second = loader.load_tree(repo)
    assert (second.parsed_files, second.read_files) == (0, 4)


def test_load_tree_one_changed_file_is_parsed_alone(repo: Path, trusting_stat_cache: None) -> None:
    _age(repo)
    loader = ConfigLoader()
    first = loader.load_tree(repo)
    _write(repo, "rules/rules.yml", samples.TRIGGER_RULE.replace("enabled: true", "enabled: no"))
    second = loader.load_tree(repo)
    assert (second.parsed_files, second.read_files) == (1, 1)
    changed = [
        (a.origin.path, a is b) for a, b in zip(first.documents, second.documents, strict=True)
    ]
    assert changed == [
        ("environments/pr.yaml", True),
        ("integrations/argocd.yaml", True),
        ("rules/rules.yml", False),
        ("suites/checkout.yaml", True),
        ("suites/checkout.yaml", True),
    ]
    assert second.documents[2].spec["enabled"] is False
    assert second.content_hash != first.content_hash


def test_load_tree_detects_same_size_rewrite_with_restored_mtime(
    repo: Path, trusting_stat_cache: None
) -> None:
    _age(repo)
    loader = ConfigLoader()
    loader.load_tree(repo)
    path = repo / "rules" / "rules.yml"
    path.write_text(samples.TRIGGER_RULE.replace("enabled: true", "enabled: TRUE"))
    os.utime(path, (HOUR_AGO, HOUR_AGO))
    tree = loader.load_tree(repo)
    assert tree.parsed_files == 1


def test_load_tree_cache_keeps_only_latest_load(repo: Path) -> None:
    loader = ConfigLoader()
    loader.load_tree(repo)
    moved = repo / "environments" / "pr.yaml"
    text = moved.read_text()
    moved.unlink()
    assert loader.load_tree(repo).parsed_files == 0
    moved.write_text(text)
    assert loader.load_tree(repo).parsed_files == 1


def test_load_tree_content_hash_is_sha256_of_paths_and_blob_ids(repo: Path) -> None:
    tree = ConfigLoader().load_tree(repo)
    files = sorted(
        (path.relative_to(repo).as_posix(), blob_id(path.read_bytes()))
        for path in repo.rglob("*")
        if path.suffix in (".yaml", ".yml") and not any(p.startswith(".") for p in path.parts)
    )
    digest = hashlib.sha256()
    for relative, blob in files:
        digest.update(f"{relative}\0{blob}\n".encode())
    assert tree.content_hash == digest.hexdigest()
    assert ConfigLoader().load_tree(repo).content_hash == tree.content_hash


def test_load_tree_content_hash_changes_on_rename(repo: Path) -> None:
    before = ConfigLoader().load_tree(repo).content_hash
    (repo / "rules" / "rules.yml").rename(repo / "rules" / "renamed.yml")
    assert ConfigLoader().load_tree(repo).content_hash != before


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_blob_id_matches_git_hash_object(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.yaml", samples.SUITE)
    result = subprocess.run(
        ["git", "hash-object", str(path)], capture_output=True, text=True, check=True
    )
    assert blob_id(path.read_bytes()) == result.stdout.strip()


def test_load_tree_reports_a_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    _write(tmp_path, "ok.yaml", samples.FLOW)
    fd = os.open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.yaml"), os.O_CREAT | os.O_WRONLY)
    os.close(fd)
    tree = ConfigLoader().load_tree(tmp_path)
    assert [(p.path, p.code) for p in tree.problems] == [("caf\ufffd.yaml", "file.name-encoding")]
    assert len(tree.documents) == 1
    assert len(tree.content_hash) == 64
