"""GitMirror against a real smart-HTTP Git server on 127.0.0.1."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from controller.errors import ConfigSourceError, ConfigSourceUnavailable, MeshgateError
from controller.gitrepo import GitCheckout, GitMirror
from tests.support.git_server import GitServer, WorkRepo, git_env, run_git


def _mirror(url: str, workdir: Path, *, branch: str = "main", timeout: float = 20.0) -> GitMirror:
    return GitMirror(url=url, branch=branch, workdir=workdir, timeout=timeout)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "data" / "config-repo"


@pytest.fixture
def mirror(git_server: GitServer, workdir: Path) -> GitMirror:
    return _mirror(git_server.url_for("config"), workdir)


def _publish(repo: WorkRepo, files: dict[str, str], message: str = "Update config") -> str:
    for path, text in files.items():
        repo.write(path, text)
    sha = repo.commit(message)
    repo.push()
    return sha


def _git_in(workdir: Path, *args: str) -> str:
    return run_git(*args, cwd=workdir, env=git_env(workdir.parent))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sync_first_call_clones_the_pushed_revision(
    mirror: GitMirror, work_repo: WorkRepo, workdir: Path
) -> None:
    sha = _publish(work_repo, {"suites/smoke.yaml": "kind: Suite\n"}, "Add smoke suite\n\nWhy.")
    work_repo.write("other.yaml", "on another branch\n")
    work_repo.commit("Other branch only")
    work_repo.push(branch="other")

    checkout = mirror.sync()

    expected_time = datetime.fromisoformat(work_repo.git("show", "-s", "--format=%cI", sha))
    assert checkout == GitCheckout(
        revision=sha, root=workdir, committed_at=expected_time, summary="Add smoke suite"
    )
    assert checkout.committed_at.tzinfo is not None
    assert (workdir / "suites/smoke.yaml").read_text() == "kind: Suite\n"
    assert not (workdir / "other.yaml").exists()
    refs = _git_in(workdir, "for-each-ref", "--format=%(refname)").splitlines()
    assert set(refs) - {"refs/remotes/origin/HEAD"} == {
        "refs/heads/main",
        "refs/remotes/origin/main",
    }
    assert not workdir.with_name("config-repo.partial").exists()


def test_sync_picks_up_a_new_commit(mirror: GitMirror, work_repo: WorkRepo, workdir: Path) -> None:
    _publish(work_repo, {"a.yaml": "a: 1\n"})
    mirror.sync()

    sha = _publish(work_repo, {"a.yaml": "a: 2\n", "b.yaml": "b: 1\n"}, "Second")
    checkout = mirror.sync()

    assert checkout.revision == sha
    assert checkout.summary == "Second"
    assert (workdir / "a.yaml").read_text() == "a: 2\n"
    assert (workdir / "b.yaml").read_text() == "b: 1\n"


def test_sync_without_remote_changes_keeps_the_revision(
    mirror: GitMirror, work_repo: WorkRepo
) -> None:
    sha = _publish(work_repo, {"a.yaml": "a: 1\n"})

    assert mirror.sync().revision == sha
    assert mirror.sync().revision == sha


def test_sync_follows_a_force_push(mirror: GitMirror, work_repo: WorkRepo, workdir: Path) -> None:
    _publish(work_repo, {"base.yaml": "base\n"}, "Base")
    old = _publish(work_repo, {"old.yaml": "old\n"}, "Old")
    assert mirror.sync().revision == old

    work_repo.reset_hard("HEAD~1")
    work_repo.write("new.yaml", "new\n")
    new = work_repo.commit("Rewritten")
    work_repo.push(force=True)
    checkout = mirror.sync()

    assert checkout.revision == new
    assert checkout.summary == "Rewritten"
    assert not (workdir / "old.yaml").exists()
    assert (workdir / "new.yaml").read_text() == "new\n"
    assert _git_in(workdir, "rev-parse", "HEAD") == new


def test_sync_wipes_local_modifications_and_untracked_files(
    mirror: GitMirror, work_repo: WorkRepo, workdir: Path
) -> None:
    sha = _publish(work_repo, {"a.yaml": "a: 1\n", ".gitignore": "*.log\n"})
    mirror.sync()
    (workdir / "a.yaml").write_text("tampered\n")
    (workdir / "junk.yaml").write_text("junk\n")
    (workdir / "debug.log").write_text("ignored but still junk\n")
    (workdir / "nested").mkdir()
    run_git("init", "--quiet", cwd=workdir / "nested", env=git_env(workdir.parent))
    (workdir / "staged.yaml").write_text("staged\n")
    _git_in(workdir, "add", "staged.yaml")

    checkout = mirror.sync()

    assert checkout.revision == sha
    assert (workdir / "a.yaml").read_text() == "a: 1\n"
    assert sorted(p.name for p in workdir.iterdir()) == [".git", ".gitignore", "a.yaml"]
    assert _git_in(workdir, "status", "--porcelain", "--ignored") == ""


def test_sync_reclones_when_the_url_changes(
    git_server: GitServer, mirror: GitMirror, work_repo: WorkRepo, workdir: Path, tmp_path: Path
) -> None:
    _publish(work_repo, {"a.yaml": "from config\n"})
    mirror.sync()
    git_server.create_repo("other")
    other = WorkRepo(tmp_path / "other-work", git_server.url_for("other"))
    other_sha = _publish(other, {"b.yaml": "from other\n"}, "Other repo")

    checkout = _mirror(git_server.url_for("other"), workdir).sync()

    assert checkout.revision == other_sha
    assert not (workdir / "a.yaml").exists()
    assert _git_in(workdir, "config", "--get", "remote.origin.url") == git_server.url_for("other")


def _no_git_dir(workdir: Path) -> None:
    shutil.rmtree(workdir / ".git")


def _empty_git_dir(workdir: Path) -> None:  # what an interrupted `git clone` can leave
    shutil.rmtree(workdir / ".git")
    (workdir / ".git").mkdir()


def _missing_objects(workdir: Path) -> None:
    shutil.rmtree(workdir / ".git" / "objects")
    (workdir / ".git" / "objects").mkdir()


def _workdir_is_a_file(workdir: Path) -> None:
    shutil.rmtree(workdir)
    workdir.write_text("not a directory\n")


def _stale_partial_clone(workdir: Path) -> None:
    partial = workdir.with_name(workdir.name + ".partial")
    (partial / ".git").mkdir(parents=True)
    shutil.rmtree(workdir)


@pytest.mark.parametrize(
    "damage",
    [_no_git_dir, _empty_git_dir, _missing_objects, _workdir_is_a_file, _stale_partial_clone],
)
def test_sync_reclones_a_broken_workdir(
    mirror: GitMirror, work_repo: WorkRepo, workdir: Path, damage: Callable[[Path], None]
) -> None:
    _publish(work_repo, {"a.yaml": "a: 1\n"})
    mirror.sync()
    damage(workdir)
    sha = _publish(work_repo, {"a.yaml": "a: 2\n"})

    checkout = mirror.sync()

    assert checkout.revision == sha
    assert (workdir / "a.yaml").read_text() == "a: 2\n"
    assert _git_in(workdir, "fsck", "--no-progress") == ""


def test_sync_is_unavailable_while_the_server_is_down_and_recovers(
    git_server: GitServer, mirror: GitMirror, work_repo: WorkRepo
) -> None:
    _publish(work_repo, {"a.yaml": "a: 1\n"})
    mirror.sync()
    git_server.stop()

    with pytest.raises(ConfigSourceUnavailable, match="Failed to connect") as caught:
        mirror.sync()

    assert caught.value.__cause__ is not None
    git_server.start()
    assert mirror.sync().revision == work_repo.head


def test_sync_is_unavailable_on_a_closed_port(workdir: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/config.git"

    with pytest.raises(ConfigSourceUnavailable, match=r"git clone from http://127\.0\.0\.1:\d+/"):
        _mirror(url, workdir).sync()

    assert not workdir.exists()
    assert not workdir.with_name(workdir.name + ".partial").exists()


def test_sync_is_unavailable_on_http_5xx(
    git_server: GitServer, mirror: GitMirror, work_repo: WorkRepo
) -> None:
    _publish(work_repo, {"a.yaml": "a: 1\n"})
    git_server.fail_status = 503

    with pytest.raises(ConfigSourceUnavailable, match="returned error: 503"):
        mirror.sync()


def test_sync_times_out_on_a_hanging_remote(
    git_server: GitServer, work_repo: WorkRepo, workdir: Path
) -> None:
    _publish(work_repo, {"a.yaml": "a: 1\n"})
    git_server.stall()
    started = time.monotonic()

    with pytest.raises(ConfigSourceUnavailable, match=r"timed out after 1s"):
        _mirror(git_server.url_for("config"), workdir, timeout=1.0).sync()

    assert time.monotonic() - started < 15  # killed by the timeout, not by the server


def test_sync_reports_a_deleted_branch_as_a_config_source_error(
    git_server: GitServer, work_repo: WorkRepo, workdir: Path
) -> None:
    _publish(work_repo, {"a.yaml": "a: 1\n"})
    work_repo.push(branch="release")
    mirror = _mirror(git_server.url_for("config"), workdir, branch="release")
    mirror.sync()
    work_repo.delete_remote_branch("release")

    with pytest.raises(ConfigSourceError) as caught:
        mirror.sync()

    assert str(caught.value) == (
        f"branch 'release' not found on http://127.0.0.1:{git_server.port}/config.git"
    )
    assert (workdir / "a.yaml").exists()  # the last checkout is left alone


def test_sync_reports_a_missing_branch_on_first_clone(
    git_server: GitServer, work_repo: WorkRepo, workdir: Path
) -> None:
    _publish(work_repo, {"a.yaml": "a: 1\n"})

    with pytest.raises(ConfigSourceError, match=r"^branch 'nope' not found on http://127"):
        _mirror(git_server.url_for("config"), workdir, branch="nope").sync()


def test_sync_reports_an_unknown_repository_as_a_config_source_error(
    git_server: GitServer, workdir: Path
) -> None:
    with pytest.raises(ConfigSourceError, match="no git repository at"):
        _mirror(git_server.url_for("missing"), workdir).sync()


@pytest.mark.parametrize("credentials", ["wrong", "none"])
def test_sync_reports_bad_credentials_as_a_config_source_error(
    git_server: GitServer, work_repo: WorkRepo, workdir: Path, credentials: str
) -> None:
    _publish(work_repo, {"a.yaml": "a: 1\n"})
    if credentials == "wrong":
        url = git_server.url_for("config", credentials=("meshgate-bot", "wrong-password"))
    else:  # git would prompt for a user name: it must fail instead
        url = git_server.url_for("config", anonymous=True)

    with pytest.raises(ConfigSourceError, match=r"^authentication failed for http://127"):
        _mirror(url, workdir).sync()


SECRET = "s3cr%t:p@ss/w0rd"
TOKEN = "tok3n-9f8e7d6c5b4a"


@pytest.mark.parametrize(
    "scenario",
    ["wrong-password", "token-as-user", "server-down", "http-503", "branch-gone", "hang"],
)
def test_sync_never_reveals_credentials(
    tmp_path: Path, workdir: Path, scenario: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with GitServer(tmp_path / "server", auth=("bot", SECRET)) as server:
        server.create_repo("config")
        work = WorkRepo(tmp_path / "work", server.url_for("config"))
        _publish(work, {"a.yaml": "a: 1\n"})
        url, timeout = server.url_for("config"), 20.0
        mirror = _mirror(url, workdir)
        mirror.sync()
        if scenario == "wrong-password":
            url = server.url_for("config", credentials=("bot", SECRET + "x"))
        elif scenario == "token-as-user":
            url = url.replace(quote("bot", safe="") + ":" + quote(SECRET, safe=""), TOKEN)
        elif scenario == "server-down":
            server.stop()
        elif scenario == "http-503":
            server.fail_status = 503
        elif scenario == "branch-gone":
            work.push(branch="release")
            _mirror(url, workdir, branch="release").sync()
            work.delete_remote_branch("release")
            mirror = _mirror(url, workdir, branch="release")
        elif scenario == "hang":
            server.stall()
            timeout = 1.0
        if scenario in ("wrong-password", "token-as-user", "hang"):
            mirror = _mirror(url, workdir, timeout=timeout)

        with pytest.raises(MeshgateError) as caught:
            mirror.sync()

    exc = caught.value
    texts = [
        str(exc),
        repr(exc),
        str(exc.__cause__),
        repr(exc.__cause__),
        repr(getattr(exc.__cause__, "args", None)),
        "".join(traceback.format_exception(exc)),
        caplog.text,
    ]
    for secret in (SECRET, quote(SECRET, safe=""), TOKEN, "w0rd"):
        for text in texts:
            assert secret not in text
    assert exc.__cause__ is not None
    assert exc.__context__ is None or exc.__context__ is exc.__cause__


def test_sync_checks_out_symlinks_as_symlinks(
    mirror: GitMirror, work_repo: WorkRepo, workdir: Path
) -> None:
    work_repo.write("real.yaml", "real\n")
    work_repo.symlink("inside.yaml", "real.yaml")
    work_repo.symlink("escape.yaml", "../../../../etc/passwd")
    work_repo.symlink("absolute.yaml", "/etc/passwd")
    work_repo.commit("Symlinks")
    work_repo.push()

    mirror.sync()

    for name, target in [
        ("inside.yaml", "real.yaml"),
        ("escape.yaml", "../../../../etc/passwd"),
        ("absolute.yaml", "/etc/passwd"),
    ]:
        assert (workdir / name).is_symlink()
        assert os.readlink(workdir / name) == target


def test_sync_does_not_fetch_submodules(
    git_server: GitServer, mirror: GitMirror, work_repo: WorkRepo, workdir: Path, tmp_path: Path
) -> None:
    git_server.create_repo("sub")
    sub = WorkRepo(tmp_path / "sub-work", git_server.url_for("sub"))
    sub_sha = _publish(sub, {"secret.yaml": "from submodule\n"})
    submodule_url = git_server.url_for("sub")
    work_repo.write(
        ".gitmodules", f'[submodule "vendor"]\n\tpath = vendor\n\turl = {submodule_url}\n'
    )
    work_repo.git("add", ".gitmodules")
    work_repo.git("update-index", "--add", "--cacheinfo", f"160000,{sub_sha},vendor")
    (work_repo.path / "vendor").mkdir()  # an unpopulated submodule, as after a plain clone
    sha = _publish(work_repo, {"a.yaml": "a: 1\n"}, "With submodule")
    before = len(git_server.requests)

    assert mirror.sync().revision == sha
    _publish(work_repo, {"a.yaml": "a: 2\n"})
    mirror.sync()

    assert not any(r.path.startswith("/sub.git") for r in git_server.requests[before:])
    assert not (workdir / "vendor" / "secret.yaml").exists()
    assert _git_in(workdir, "ls-files", "--stage", "vendor").startswith(f"160000 {sub_sha}")


def test_sync_reads_a_file_url(tmp_path: Path, workdir: Path) -> None:
    server = GitServer(tmp_path / "server")  # never started: only its bare repo is used
    bare = server.create_repo("config")
    work = WorkRepo(tmp_path / "work", bare.as_uri())
    sha = _publish(work, {"a.yaml": "a: 1\n"})

    assert _mirror(bare.as_uri(), workdir).sync().revision == sha


@pytest.mark.parametrize("branch", ["-b", "a..b", "main.lock", "with space", "a//b", "x/", ""])
def test_mirror_rejects_an_unusable_branch_name(workdir: Path, branch: str) -> None:
    with pytest.raises(ConfigSourceError, match="invalid branch name"):
        _mirror("http://127.0.0.1:9/config.git", workdir, branch=branch)


@pytest.mark.parametrize("url", ["--upload-pack=touch /tmp/x", "ext::sh -c touch% /tmp/x"])
def test_mirror_rejects_an_unsafe_url(workdir: Path, url: str) -> None:
    with pytest.raises(ConfigSourceError, match="unsupported config repository URL"):
        _mirror(url, workdir)


def test_export_materializes_an_earlier_commit_beside_the_checkout(
    git_server: GitServer, work_repo: WorkRepo, tmp_path: Path
) -> None:
    work_repo.write("a.yaml", "first\n")
    first = work_repo.commit("first")
    work_repo.remove("a.yaml")
    work_repo.write("b.yaml", "second\n")
    work_repo.commit("second")
    work_repo.push()
    mirror = _mirror(git_server.url_for("config"), tmp_path / "clone")
    mirror.sync()

    exported = mirror.export(first)

    assert exported.revision == first
    assert exported.summary == "first"
    assert (exported.root / "a.yaml").read_text() == "first\n"
    assert not (exported.root / "b.yaml").exists()
    assert (tmp_path / "clone" / "b.yaml").read_text() == "second\n"
    assert mirror.sync().revision == work_repo.head


def test_export_of_an_unknown_commit_fails_cleanly(
    git_server: GitServer, work_repo: WorkRepo, tmp_path: Path
) -> None:
    work_repo.write("a.yaml", "x\n")
    work_repo.commit("only")
    work_repo.push()
    mirror = _mirror(git_server.url_for("config"), tmp_path / "clone")
    mirror.sync()
    with pytest.raises(ConfigSourceUnavailable, match="read-tree"):
        mirror.export("0" * 40)
    with pytest.raises(ConfigSourceError, match="invalid commit id"):
        mirror.export("HEAD~1; rm -rf /")


def test_sync_survives_a_commit_with_an_impossible_time_zone(
    mirror: GitMirror, work_repo: WorkRepo
) -> None:
    work_repo.write("a.yaml", "x\n")
    work_repo.commit("normal")
    tree = work_repo.git("rev-parse", "HEAD^{tree}")
    parent = work_repo.head
    raw = (
        f"tree {tree}\nparent {parent}\n"
        "author Mallory <m@example.invalid> 1700000000 +9999\n"
        "committer Mallory <m@example.invalid> 1700000000 +9999\n\nodd zone\n"
    )
    (work_repo.path.parent / "commit.txt").write_text(raw)
    crafted = work_repo.git(
        "hash-object",
        "-t",
        "commit",
        "-w",
        "--literally",
        str(work_repo.path.parent / "commit.txt"),
    )
    work_repo.git("reset", "--quiet", "--hard", crafted)
    work_repo.push()

    checkout = mirror.sync()

    assert checkout.revision == crafted
    assert checkout.committed_at == datetime.fromtimestamp(1_700_000_000, UTC)
    assert checkout.summary == "odd zone"
