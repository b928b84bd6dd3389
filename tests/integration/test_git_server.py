"""Self-test of the loopback smart-HTTP Git server and the WorkRepo helper."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from tests.support.git_server import GIT_PASSWORD, GIT_USER, GitServer, WorkRepo, git_env, run_git


def _git(tmp_path: Path, *args: str) -> str:
    home = tmp_path / "client-home"
    home.mkdir(exist_ok=True)
    return run_git(*args, cwd=tmp_path, env=git_env(home))


def _connect(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


def test_git_server_push_then_clone_round_trip(
    git_server: GitServer, work_repo: WorkRepo, tmp_path: Path
) -> None:
    work_repo.write("suites/smoke.yaml", "kind: Suite\n")
    sha = work_repo.commit("Add smoke suite")
    work_repo.push()

    _git(tmp_path, "clone", "--quiet", git_server.url_for("config"), "clone")

    assert (tmp_path / "clone/suites/smoke.yaml").read_text() == "kind: Suite\n"
    assert _git(tmp_path / "clone", "rev-parse", "HEAD") == sha
    assert {r.user for r in git_server.requests if r.status == 200} == {GIT_USER}


def test_git_server_streams_large_chunked_push(
    git_server: GitServer, work_repo: WorkRepo, tmp_path: Path
) -> None:
    # Bigger than http.postBuffer (1 MiB): git sends the pack with chunked transfer encoding.
    work_repo.write("blob.txt", os.urandom(3 * 1024 * 1024).hex())
    sha = work_repo.commit("Large blob")
    work_repo.push()

    assert _git(tmp_path, "ls-remote", git_server.url_for("config"), "refs/heads/main") == (
        f"{sha}\trefs/heads/main"
    )


@pytest.mark.parametrize(
    "credentials", [None, (GIT_USER, "not-the-password"), ("someone", GIT_PASSWORD)]
)
def test_git_server_rejects_missing_or_wrong_credentials(
    git_server: GitServer, work_repo: WorkRepo, tmp_path: Path, credentials: tuple[str, str] | None
) -> None:
    url = git_server.url_for("config", credentials=credentials, anonymous=credentials is None)

    with pytest.raises(RuntimeError, match=r"Authentication failed|could not read Username"):
        _git(tmp_path, "ls-remote", url)

    assert [r.status for r in git_server.requests] in ([401], [401, 401])
    assert all(r.user is None for r in git_server.requests)


def test_git_server_stop_refuses_connections_and_start_reuses_port(
    git_server: GitServer, work_repo: WorkRepo, tmp_path: Path
) -> None:
    work_repo.commit("Initial")
    work_repo.push()
    port = git_server.port

    git_server.stop()

    assert not git_server.running
    with pytest.raises(ConnectionRefusedError):
        _connect(port)
    with pytest.raises(RuntimeError, match="Failed to connect"):
        _git(tmp_path, "ls-remote", git_server.url_for("config"))

    git_server.start()

    assert git_server.port == port
    assert work_repo.head in _git(tmp_path, "ls-remote", git_server.url_for("config"))


def test_git_server_fail_status_answers_every_request(
    git_server: GitServer, work_repo: WorkRepo, tmp_path: Path
) -> None:
    git_server.fail_status = 503

    with pytest.raises(RuntimeError, match="returned error: 503"):
        _git(tmp_path, "ls-remote", git_server.url_for("config"))


def test_git_server_stop_leaves_no_threads(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    with GitServer(tmp_path / "server") as server:
        server.create_repo("config")
        _git(tmp_path, "ls-remote", server.url_for("config"))
        assert any(t.name == "git-server" for t in threading.enumerate())

    assert set(threading.enumerate()) <= before


def test_work_repo_delete_remote_branch_removes_it(
    git_server: GitServer, work_repo: WorkRepo, tmp_path: Path
) -> None:
    work_repo.commit("Initial")
    work_repo.push()
    work_repo.push(branch="feature")
    url = git_server.url_for("config")
    assert "refs/heads/feature" in _git(tmp_path, "ls-remote", url)

    work_repo.delete_remote_branch("feature")

    assert _git(tmp_path, "ls-remote", "--heads", url) == f"{work_repo.head}\trefs/heads/main"


def test_work_repo_commits_with_fixed_identity_and_increasing_dates(work_repo: WorkRepo) -> None:
    work_repo.commit("One")
    work_repo.commit("Two")

    newer, older = work_repo.git("log", "-2", "--format=%an <%ae> %ct").splitlines()
    assert newer.startswith("Meshgate Test <test@meshgate.invalid>")
    assert int(newer.split()[-1]) > int(older.split()[-1])
