"""Where config revisions come from: a Git remote or a local folder.

A source only produces a readable tree and, for Git, the commit it holds. Loading and
validation are the same for both kinds, so that ``meshgate validate`` on a folder and the
server following a remote agree on every problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from controller.concurrency import run_blocking
from controller.credentials import redact_url
from controller.gitrepo import GitCheckout, GitMirror


@dataclass(frozen=True, slots=True)
class SourceRevision:
    """A tree ready to load: ``repo_root`` plus the documents folder ``subpath`` inside it.

    ``revision`` is the commit SHA for Git; ``None`` for a folder, whose revision is the
    content hash the loader computes.
    """

    repo_root: Path
    subpath: str
    revision: str | None
    summary: str = ""


class ConfigSource(Protocol):
    kind: Literal["git", "folder"]

    @property
    def identity(self) -> str:
        """A stable, credential-free name of this source (the key of its revision history)."""
        ...

    def describe(self) -> dict[str, Any]: ...

    async def fetch(self) -> SourceRevision:
        """Bring the local tree up to date; raise ``ConfigSourceUnavailable``/``...Error``."""
        ...

    async def fetch_revision(
        self, revision: str, *, own_folder: bool = False
    ) -> SourceRevision | None:
        """An earlier revision's tree, or ``None`` when the source keeps no history;
        ``own_folder``: in a folder of that revision alone (a pinned run reads files from
        it)."""
        ...

    async def fetch_pull_request(self, number: int) -> SourceRevision | None:
        """The head of pull request ``number``, or ``None`` when the source has none."""
        ...


class GitSource:
    kind: Literal["git", "folder"] = "git"

    def __init__(self, *, mirror: GitMirror, url: str, branch: str, subpath: str) -> None:
        self._mirror = mirror
        self._url = redact_url(url)
        self._branch = branch
        self._subpath = subpath

    @property
    def identity(self) -> str:
        suffix = f":{self._subpath}" if self._subpath else ""
        return f"git:{self._url}#{self._branch}{suffix}"

    def describe(self) -> dict[str, Any]:
        return {"kind": "git", "url": self._url, "branch": self._branch, "path": self._subpath}

    async def fetch(self) -> SourceRevision:
        return self._revision(await run_blocking(self._mirror.sync))

    async def fetch_revision(
        self, revision: str, *, own_folder: bool = False
    ) -> SourceRevision | None:
        return self._revision(
            await run_blocking(self._mirror.export, revision, own_folder=own_folder)
        )

    async def fetch_pull_request(self, number: int) -> SourceRevision | None:
        return self._revision(await run_blocking(self._mirror.export_pull_request, number))

    def _revision(self, checkout: GitCheckout) -> SourceRevision:
        return SourceRevision(
            repo_root=checkout.root,
            subpath=self._subpath,
            revision=checkout.revision,
            summary=checkout.summary,
        )


class FolderSource:
    kind: Literal["git", "folder"] = "folder"

    def __init__(self, *, root: Path, subpath: str) -> None:
        self._root = root.resolve()
        self._subpath = subpath

    @property
    def root(self) -> Path:
        return self._root

    @property
    def identity(self) -> str:
        suffix = f":{self._subpath}" if self._subpath else ""
        return f"folder:{self._root}{suffix}"

    def describe(self) -> dict[str, Any]:
        return {"kind": "folder", "path": str(self._root), "subpath": self._subpath}

    async def fetch(self) -> SourceRevision:
        return SourceRevision(repo_root=self._root, subpath=self._subpath, revision=None)

    async def fetch_revision(
        self, revision: str, *, own_folder: bool = False
    ) -> SourceRevision | None:
        return None

    async def fetch_pull_request(self, number: int) -> SourceRevision | None:
        return None
