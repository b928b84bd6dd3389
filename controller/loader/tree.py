"""Loading a whole config tree, re-parsing only the files that changed.

Two caches make a one-file change cheap. The stat cache maps a path to the stat fields it had
(mtime, ctime, size, inode) and the Git blob id of its content, so an unchanged file is not
even read. The result cache maps (path, blob id) to the file's documents and problems, so a
file whose content is unchanged is not parsed again and keeps its ``ConfigDocument`` objects
(downstream validators memoize on them). Both keep only what the latest load used.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from controller.loader.files import MIB, LoadedFile, LoaderLimits, blob_id, load_bytes
from controller.loader.schemas import SchemaSet, default_schemas
from controller.models.documents import ConfigDocument
from controller.models.problems import Problem

_SUFFIXES: Final = (".yaml", ".yml")
# A file modified this close to the scan could change again within the filesystem's timestamp
# granularity without its stat changing (Git's "racily clean" entries): do not trust its stat.
_RACY_NS: Final = 2_000_000_000

_StatKey = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class LoadedTree:
    """A loaded config tree. ``content_hash`` identifies the revision of a plain folder."""

    documents: tuple[ConfigDocument, ...]
    problems: tuple[Problem, ...]
    files: int
    content_hash: str
    parsed_files: int
    read_files: int = 0


@dataclass(slots=True)
class _Scan:
    """State of one ``load_tree`` call."""

    repo_real: str
    started_ns: int
    problems: list[Problem] = field(default_factory=list)
    hashed: list[tuple[str, str]] = field(default_factory=list)
    loaded: list[LoadedFile] = field(default_factory=list)
    files: int = 0
    parsed: int = 0
    read: int = 0


class ConfigLoader:
    """Loads config trees; keep one instance to benefit from its caches.

    ``load_tree`` is synchronous and CPU-bound: run it off the event loop. Calls are
    serialized by a lock, so one instance may be shared between threads.
    """

    def __init__(
        self,
        *,
        max_file_size: int = MIB,
        max_depth: int = 64,
        max_documents: int = 1000,
        max_files: int = 10_000,
        schemas: SchemaSet | None = None,
    ) -> None:
        self.limits = LoaderLimits(max_file_size, max_depth, max_documents, max_files)
        self._schemas = schemas if schemas is not None else default_schemas()
        self._lock = threading.Lock()
        self._stats: dict[str, tuple[_StatKey, str]] = {}
        self._results: dict[tuple[str, str], LoadedFile] = {}

    def load_tree(self, repo_root: Path, subpath: str = "") -> LoadedTree:
        """Load every ``*.yaml``/``*.yml`` under ``repo_root/subpath`` (the config root)."""
        with self._lock:
            return self._load_tree(repo_root, subpath)

    def _load_tree(self, repo_root: Path, subpath: str) -> LoadedTree:
        scan = _Scan(os.path.realpath(repo_root), time.time_ns())
        old_stats, old_results = self._stats, self._results
        self._stats, self._results = {}, {}
        config_root = repo_root / subpath if subpath else repo_root
        if self._check_root(config_root, subpath, scan):
            for relative, path, info in self._walk(config_root, scan):
                self._load_file(relative, path, info, scan, old_stats, old_results)
        scan.hashed.sort()
        digest = hashlib.sha256()
        for relative, token in scan.hashed:
            digest.update(f"{relative}\0{token}\n".encode())
        return LoadedTree(
            documents=tuple(doc for loaded in scan.loaded for doc in loaded.documents),
            problems=tuple(sorted(scan.problems, key=Problem.sort_key)),
            files=scan.files,
            content_hash=digest.hexdigest(),
            parsed_files=scan.parsed,
            read_files=scan.read,
        )

    def _check_root(self, config_root: Path, subpath: str, scan: _Scan) -> bool:
        shown = subpath or "."
        if not config_root.exists():
            message = f"config path {shown!r} does not exist in the repository"
            scan.problems.append(Problem("", 0, 0, message, "source.missing-path"))
            return False
        if not _inside(os.path.realpath(config_root), scan.repo_real):
            message = f"config path {shown!r} resolves outside the repository; revision rejected"
            scan.problems.append(Problem("", 0, 0, message, "source.symlink-escape"))
            return False
        if not config_root.is_dir():
            message = f"config path {shown!r} is not a directory"
            scan.problems.append(Problem("", 0, 0, message, "source.missing-path"))
            return False
        return True

    def _walk(self, config_root: Path, scan: _Scan) -> list[tuple[str, str, os.stat_result]]:
        """YAML files under the root, ordered by relative path as ``git ls-files`` lists them.

        Symlinks are followed when their target stays inside the repository.
        """
        found: list[tuple[str, str, os.stat_result]] = []
        root = str(config_root)
        root_real = os.path.realpath(root)
        # Every real folder is walked once, however many symlinks lead to it: loops end, and
        # links fanning out to shared folders cannot make the walk exponential.
        visited = {root_real}
        pending: list[tuple[str, str, str]] = [(root, "", root_real)]  # (path, prefix, real)
        while pending:
            directory, prefix, directory_real = pending.pop()
            try:
                with os.scandir(directory) as iterator:
                    entries = sorted(iterator, key=lambda entry: entry.name)
            except OSError as error:
                scan.problems.append(_unreadable(prefix.rstrip("/"), error))
                continue
            subdirectories: list[tuple[str, str, str]] = []
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if not _encodable(entry.name):
                    _report_bad_name(prefix, entry.name, scan)
                    continue
                relative = prefix + entry.name
                info = self._entry_stat(entry, relative, scan)
                if info is None:
                    continue
                if stat.S_ISDIR(info.st_mode):
                    if entry.is_symlink():
                        real = os.path.realpath(entry.path)
                    else:
                        real = os.path.join(directory_real, entry.name)
                    if real in visited:
                        message = (
                            "symbolic link leads to a folder that is already loaded; not followed"
                        )
                        scan.problems.append(
                            Problem(relative, 0, 0, message, "source.symlink-loop")
                        )
                    else:
                        visited.add(real)
                        subdirectories.append((entry.path, relative + "/", real))
                elif stat.S_ISREG(info.st_mode) and entry.name.endswith(_SUFFIXES):
                    if scan.files >= self.limits.max_files:
                        message = f"more than {self.limits.max_files} YAML files; stopped loading"
                        scan.problems.append(Problem("", 0, 0, message, "source.too-many-files"))
                        return sorted(found, key=lambda item: item[0])
                    scan.files += 1
                    found.append((relative, entry.path, info))
            pending.extend(subdirectories)
        found.sort(key=lambda item: item[0])
        return found

    def _entry_stat(
        self, entry: os.DirEntry[str], relative: str, scan: _Scan
    ) -> os.stat_result | None:
        """The entry's stat, following a symlink only when its target stays in the repo."""
        try:
            if not entry.is_symlink():
                return entry.stat(follow_symlinks=False)
            target = os.path.realpath(entry.path)
            if not _inside(target, scan.repo_real):
                link = os.readlink(entry.path)
                message = (
                    f"symbolic link points outside the repository (to {link!r}); "
                    "the whole revision is rejected"
                )
                scan.problems.append(Problem(relative, 0, 0, message, "source.symlink-escape"))
                scan.hashed.append((relative, "symlink-escape"))
                return None
            return os.stat(entry.path)
        except OSError as error:
            if entry.name.endswith(_SUFFIXES):
                scan.problems.append(_unreadable(relative, error))
            return None

    def _load_file(
        self,
        relative: str,
        path: str,
        info: os.stat_result,
        scan: _Scan,
        old_stats: dict[str, tuple[_StatKey, str]],
        old_results: dict[tuple[str, str], LoadedFile],
    ) -> None:
        limit = self.limits.max_file_size
        if info.st_size > limit:
            scan.problems.append(_too_large(relative, info.st_size, limit))
            scan.hashed.append((relative, f"too-large:{info.st_size}"))
            return
        key: _StatKey = (info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino)
        known = old_stats.get(path)
        blob = known[1] if known is not None and known[0] == key else None
        result = old_results.get((relative, blob)) if blob is not None else None
        if result is None or blob is None:
            try:
                with open(path, "rb") as handle:
                    data = handle.read(limit + 1)
            except OSError as error:
                scan.problems.append(_unreadable(relative, error))
                return
            scan.read += 1
            if len(data) > limit:
                scan.problems.append(_too_large(relative, len(data), limit))
                scan.hashed.append((relative, f"too-large:{len(data)}"))
                return
            blob = blob_id(data)
            result = old_results.get((relative, blob))
            if result is None:
                result = load_bytes(data, relative, self._schemas, self.limits)
                scan.parsed += 1
        if max(info.st_mtime_ns, info.st_ctime_ns) < scan.started_ns - _RACY_NS:
            self._stats[path] = (key, blob)
        self._results[(relative, blob)] = result
        scan.hashed.append((relative, blob))
        scan.loaded.append(result)
        scan.problems.extend(result.problems)


def _encodable(name: str) -> bool:
    """False for names that are not UTF-8 on disk (Python hands those over with surrogates)."""
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True


def _report_bad_name(prefix: str, name: str, scan: _Scan) -> None:
    shown = prefix + name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    message = "file name is not valid UTF-8; rename it (the whole revision is rejected)"
    scan.problems.append(Problem(shown, 0, 0, message, "file.name-encoding"))
    scan.hashed.append((shown, "bad-name"))


def _inside(real: str, repo_real: str) -> bool:
    return real == repo_real or real.startswith(repo_real.rstrip(os.sep) + os.sep)


def _too_large(relative: str, size: int, limit: int) -> Problem:
    message = f"file is {_size(size)}; the limit is {_size(limit)}"
    return Problem(relative, 0, 0, message, "file.too-large")


def _unreadable(relative: str, error: OSError) -> Problem:
    return Problem(relative, 0, 0, f"cannot read: {error.strerror or error}", "file.unreadable")


def _size(count: int) -> str:
    if count >= MIB:
        return f"{count / MIB:.1f} MiB"
    if count >= 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count} bytes"
