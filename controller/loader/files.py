"""One config file: bytes in, schema-valid documents and problems out."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from controller.loader.schemas import SchemaSet, default_schemas
from controller.loader.yaml_source import read_yaml
from controller.models.documents import ConfigDocument
from controller.models.problems import Problem

MIB: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class LoaderLimits:
    """Caps that keep a hostile or broken config repo from exhausting the controller."""

    max_file_size: int = MIB
    max_depth: int = 64
    max_documents: int = 1000
    max_files: int = 10_000


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """What one file contributes: its valid documents (in file order) and its problems."""

    documents: tuple[ConfigDocument, ...]
    problems: tuple[Problem, ...]


def blob_id(data: bytes) -> str:
    """The id Git gives ``data`` as a blob, so a file's cache key matches ``git hash-object``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def load_text(
    text: str,
    path: str = "config.yaml",
    schemas: SchemaSet | None = None,
    limits: LoaderLimits = LoaderLimits(),
) -> LoadedFile:
    """Parse and validate one file's text; ``path`` is relative to the config root."""
    schemas = schemas if schemas is not None else default_schemas()
    parsed = read_yaml(text, path, max_depth=limits.max_depth, max_documents=limits.max_documents)
    documents: list[ConfigDocument] = []
    problems = list(parsed.problems)
    for document in parsed.documents:
        config, found = schemas.check(document, path)
        if config is not None:
            documents.append(config)
        problems.extend(found)
    return LoadedFile(tuple(documents), tuple(sorted(problems, key=Problem.sort_key)))


def load_bytes(data: bytes, path: str, schemas: SchemaSet, limits: LoaderLimits) -> LoadedFile:
    """Like ``load_text`` for raw file content, which must be UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return LoadedFile((), (_encoding_problem(data, error, path),))
    return load_text(text, path, schemas, limits)


def _encoding_problem(data: bytes, error: UnicodeDecodeError, path: str) -> Problem:
    start = error.start
    line_start = data.rfind(b"\n", 0, start) + 1
    line = data.count(b"\n", 0, start) + 1
    column = len(data[line_start:start].decode("utf-8", "replace")) + 1
    message = f"file is not valid UTF-8 (byte 0x{data[start]:02x}); save it as UTF-8"
    return Problem(path, line, column, message, "file.encoding")
