"""Local mirror of one branch of the config repo: the only module that imports GitPython.

``GitMirror.sync()`` is blocking (call it through ``run_blocking``). It clones once, then
fetches with a forced refspec, hard-resets and cleans, so force-pushes are followed and local
junk never survives. Git never prompts, ignores system/global config, never touches
submodules, and every command is killed after ``timeout`` seconds. Git's failures become
``ConfigSourceUnavailable`` (try again later) or ``ConfigSourceError`` (missing branch, bad
credentials, unknown repository), with credentials scrubbed from every message.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import git

from controller.credentials import redact_url, scrub_credentials
from controller.errors import ConfigSourceError, ConfigSourceUnavailable, MeshgateError

logger = logging.getLogger(__name__)

# Applied to every git process on top of the inherited environment.
_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "",  # empty (not unset): git then skips core.askPass and SSH_ASKPASS too
    "SSH_ASKPASS_REQUIRE": "never",
    "GCM_INTERACTIVE": "never",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}
_CONFIG = (
    "credential.helper=",  # no helper may answer (or prompt) for credentials
    "core.hooksPath=" + os.devnull,
    "core.symlinks=true",  # symlinks are checked out as symlinks, never followed
    "submodule.recurse=false",
    "protocol.ext.allow=never",
    "core.sshCommand=ssh -o BatchMode=yes",  # GIT_SSH_COMMAND in the environment still wins
)
_BRANCH = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)(?!.*\.lock$)[A-Za-z0-9._/-]+(?<![/.])$")
_BRANCH_MISSING = re.compile(
    r"couldn't find remote ref|Remote branch .* not found|Could not find remote branch", re.I
)
_AUTH_FAILED = re.compile(
    r"Authentication failed|could not read (Username|Password)|returned error: 40[13]\b"
    r"|Permission denied \((publickey|password)|HTTP Basic: Access denied",
    re.I,
)
_NO_REPOSITORY = re.compile(
    r"repository '.*' not found|returned error: 404\b|does not appear to be a git repository"
    r"|Unable to find remote helper|protocol '.*' is not supported",
    re.I,
)
_COMMIT_ID = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


@dataclass(frozen=True, slots=True)
class GitCheckout:
    revision: str  # full commit sha
    root: Path  # the working tree
    committed_at: datetime  # committer date, in UTC
    summary: str  # first line of the commit message


class GitMirror:
    """Keeps ``workdir`` at the tip of ``branch`` of ``url``; one sync at a time."""

    def __init__(self, *, url: str, branch: str, workdir: Path, timeout: float = 60.0) -> None:
        self._url = url
        self._branch = branch
        self._workdir = workdir.absolute()
        self._timeout = timeout
        self._lock = threading.Lock()
        self.display_url = redact_url(url)
        if url.startswith("-") or url.lower().startswith(("ext::", "fd::")):
            raise ConfigSourceError(f"unsupported config repository URL {self.display_url!r}")
        if not _BRANCH.match(branch):
            raise ConfigSourceError(f"invalid branch name {branch!r}")
        # Backstop for kill_after_timeout (which needs pgrep or ps to reach git's helpers):
        # curl gives up on a stalled transfer a little after the deadline on its own.
        stalled = f"http.lowSpeedTime={int(timeout) + 5}"
        self._options = [
            arg for c in (*_CONFIG, "http.lowSpeedLimit=1", stalled) for arg in ("-c", c)
        ]
        if url.lower().startswith("file://"):
            self._options += ["-c", "protocol.file.allow=always"]

    def sync(self) -> GitCheckout:
        """Bring the working tree to the remote branch tip and describe that commit."""
        with self._lock:
            if self._reusable():
                self._fetch()
                try:
                    self._run("reset", "--hard", "--quiet", f"refs/remotes/origin/{self._branch}")
                    self._run("clean", "-ffdxq")
                except MeshgateError:
                    logger.warning("local clone of %s is damaged; re-cloning", self.display_url)
                    self._clone()
            else:
                self._clone()
            return self._describe()

    def export(self, revision: str, *, own_folder: bool = False) -> GitCheckout:
        """Materialize an earlier commit (one this mirror has fetched) in a separate folder,
        leaving the branch checkout alone. Used to serve the last known good revision after
        a restart while the branch tip is invalid (one shared folder), and for runs pinned
        to a revision (``own_folder``: one per revision, so that runs of different revisions
        read their own files); raises if the commit is not available."""
        if not _COMMIT_ID.match(revision):
            raise ConfigSourceError(f"invalid commit id {revision!r}")
        with self._lock:
            return self._materialize(revision, f".rev-{revision}" if own_folder else ".restored")

    def export_pull_request(self, number: int) -> GitCheckout:
        """Fetch the head of pull request ``number`` (``refs/pull/<n>/head``, which Gitea
        keeps in the base repository, forks included) and materialize it in a folder of its
        own; the branch checkout is left alone and nothing of it is ever applied."""
        if number < 1:
            raise ConfigSourceError(f"invalid pull request number {number}")
        with self._lock:
            if not self._reusable():
                self._clone()
            local = f"refs/meshgate/pull/{number}"
            self._run(
                "fetch", "--no-tags", "--no-recurse-submodules", "origin",
                f"+refs/pull/{number}/head:{local}",
            )  # fmt: skip
            revision = self._run("rev-parse", "--verify", f"{local}^{{commit}}")
            return self._materialize(revision, f".pull-{number}")

    def _materialize(self, revision: str, suffix: str) -> GitCheckout:
        target = self._workdir.with_name(self._workdir.name + suffix)
        index = target.with_name(target.name + ".index")
        _remove(target)
        target.mkdir(parents=True)
        separate_index = {"GIT_INDEX_FILE": str(index)}
        try:
            self._run("read-tree", revision, work_tree=target, env=separate_index)
            self._run("checkout-index", "--all", "--force", work_tree=target, env=separate_index)
        finally:
            index.unlink(missing_ok=True)
        return self._describe(revision, root=target)

    def _reusable(self) -> bool:
        if not (self._workdir / ".git").is_dir():
            return False
        try:
            origin = self._run("config", "--get", "remote.origin.url")
            self._run("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
            self._run("rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{self._branch}")
        except MeshgateError:
            logger.info("workdir %s is not a usable clone; re-cloning", self._workdir)
            return False
        if origin != self._url:
            logger.info("config repository URL changed; re-cloning %s", self.display_url)
            return False
        return True

    def _fetch(self) -> None:
        refspec = f"+refs/heads/{self._branch}:refs/remotes/origin/{self._branch}"
        self._run("fetch", "--prune", "--no-tags", "--no-recurse-submodules", "origin", refspec)

    def _clone(self) -> None:
        partial = self._workdir.with_name(self._workdir.name + ".partial")
        _remove(partial)
        self._workdir.parent.mkdir(parents=True, exist_ok=True)
        self._run(
            "clone", "--quiet", "--single-branch", "--branch", self._branch, "--no-tags",
            "--no-recurse-submodules", "--template=", "--", self._url, str(partial),
            cwd=self._workdir.parent, in_workdir=False,
        )  # fmt: skip
        _remove(self._workdir)
        partial.rename(self._workdir)
        logger.info("cloned %s (branch %s) into %s", self.display_url, self._branch, self._workdir)

    def _describe(self, commit: str = "HEAD", *, root: Path | None = None) -> GitCheckout:
        # %ct (seconds since the epoch) rather than %cI: a crafted commit can carry a time
        # zone offset that git accepts and datetime does not.
        out = self._run("show", "--no-patch", "--format=%H%x00%ct%x00%B", commit)
        revision, committed, message = out.split("\x00", 2)
        lines = message.strip().splitlines()
        return GitCheckout(
            revision=revision,
            root=root or self._workdir,
            committed_at=datetime.fromtimestamp(int(committed), UTC),
            summary=lines[0].strip() if lines else "",
        )

    def _run(
        self,
        *args: str,
        cwd: Path | None = None,
        in_workdir: bool = True,
        work_tree: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> str:
        command = [str(git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git"), *self._options]
        if in_workdir:
            tree = work_tree or self._workdir
            command += [f"--git-dir={self._workdir / '.git'}", f"--work-tree={tree}"]
        command += args
        try:
            status, stdout, stderr = git.Git(str(cwd or self._workdir)).execute(
                command,
                with_extended_output=True,
                with_exceptions=False,
                kill_after_timeout=self._timeout,
                env={**_ENV, **(env or {})},
            )
        except git.CommandError as exc:  # git itself cannot be started
            not_found = ConfigSourceError(f"cannot run git: {self._scrub(str(exc.status))}")
        else:
            if status == 0:
                return str(stdout)
            shown = [self._scrub(arg) for arg in command]
            cause = git.GitCommandError(shown, status, self._scrub(str(stderr)))
            # Raised outside ``except`` and chained to a scrubbed copy: no unscrubbed text
            # is reachable through __cause__ or __context__.
            raise self._translate(args[0], status, self._scrub(str(stderr))) from cause
        raise not_found from None

    def _translate(self, operation: str, status: int, stderr: str) -> MeshgateError:
        source = self.display_url
        if status == -9 or stderr.startswith("Timeout:"):  # killed by kill_after_timeout
            return ConfigSourceUnavailable(
                f"git {operation} from {source} timed out after {self._timeout:g}s"
            )
        detail = _tail(stderr)
        if _BRANCH_MISSING.search(stderr):
            return ConfigSourceError(f"branch {self._branch!r} not found on {source}")
        if _AUTH_FAILED.search(stderr):
            return ConfigSourceError(f"authentication failed for {source}: {detail}")
        if _NO_REPOSITORY.search(stderr):
            return ConfigSourceError(f"no git repository at {source}: {detail}")
        return ConfigSourceUnavailable(f"git {operation} from {source} failed: {detail}")

    def _scrub(self, text: str) -> str:
        return scrub_credentials(text.replace(self._url, self.display_url), self._url)


def _tail(stderr: str, limit: int = 500) -> str:
    """The informative end of git's stderr on one line."""
    lines = [
        line.strip()
        for line in stderr.splitlines()
        if line.strip() and not line.lstrip().startswith(("hint:", "Cloning into"))
    ]
    text = " | ".join(lines[-4:]) or "no error output"
    return text if len(text) <= limit else "..." + text[-limit:]


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
