"""A config folder on disk, loaded and validated exactly as the server does it: for
``meshgate validate``, ``explain`` and ``run``, which work without a server."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from controller.configsync.validation import ConfigValidator
from controller.errors import SettingsError
from controller.loader import ConfigLoader, LoadedTree
from controller.models.problems import Problem
from controller.models.snapshot import ConfigSnapshot


@dataclass(frozen=True, slots=True)
class FolderConfig:
    root: Path
    """The config root (the folder, or its ``config_path`` subfolder)."""
    tree: LoadedTree
    problems: tuple[Problem, ...]
    """Every problem, loader and validator alike, in file order."""


def load_folder(folder: Path, config_path: str = "") -> FolderConfig:
    subpath = config_path.strip("/")
    tree = ConfigLoader().load_tree(folder, subpath)
    semantic = ConfigValidator().validate(tree.documents)
    problems = tuple(sorted((*tree.problems, *semantic), key=Problem.sort_key))
    return FolderConfig(folder / subpath if subpath else folder, tree, problems)


def folder_snapshot(folder: Path, config_path: str = "") -> tuple[ConfigSnapshot, Path]:
    """The folder's config as a snapshot, and its config root; raises ``SettingsError``
    when the folder is missing or its config has problems."""
    if not folder.is_dir():
        raise SettingsError(f"config folder {folder} does not exist")
    loaded = load_folder(folder, config_path)
    if loaded.problems:
        count = len(loaded.problems)
        first = loaded.problems[0].render(_display(loaded.root, loaded.problems[0].path))
        raise SettingsError(
            f"the config in {folder} has {count} problem{'s' if count != 1 else ''} "
            f"(first: {first}); see: meshgate validate {folder}"
        )
    snapshot = ConfigSnapshot.build(
        revision=loaded.tree.content_hash,
        loaded_at=datetime.now(UTC),
        documents=loaded.tree.documents,
    )
    return snapshot, loaded.root


def write_report(out: TextIO, loaded: FolderConfig, *, as_json: bool = False) -> None:
    """``meshgate validate``'s output: every problem as ``file:line:column: message`` and a
    summary line, or one JSON document."""
    root, tree, problems = loaded.root, loaded.tree, loaded.problems
    summary = f"{len(tree.documents)} documents in {tree.files} files"
    if as_json:
        report = {
            "valid": not problems,
            "root": str(root),
            "files": tree.files,
            "documents": len(tree.documents),
            "problems": [{**p.to_dict(), "file": _display(root, p.path)} for p in problems],
        }
        json.dump(report, out, indent=2)
        out.write("\n")
        return
    for problem in problems:
        out.write(problem.render(_display(root, problem.path)) + "\n")
    if problems:
        out.write(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {summary}\n")
    else:
        out.write(f"valid: {summary}\n")


def _display(root: Path, relative: str) -> str:
    return str(root / relative) if relative else str(root)
