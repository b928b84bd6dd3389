"""Validation problems: what is wrong, and exactly where.

Every check in meshgate (YAML syntax, JSON Schema, semantics, Git source) reports through
``Problem`` so that the CLI, the API and the database all show the same ``file:line:column``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a config revision.

    ``path`` is relative to the config root (POSIX separators); ``""`` means the problem
    concerns the revision as a whole (an unreachable remote, a symlink escaping the repo).
    ``line`` and ``column`` are 1-based; 0 means unknown. ``pointer`` is an RFC 6901 JSON
    pointer into document number ``document`` (0-based) of the file.
    """

    path: str
    line: int
    column: int
    message: str
    code: str
    pointer: str = ""
    document: int | None = None

    def __str__(self) -> str:
        return self.render(self.path or "<config>")

    def render(self, shown_path: str) -> str:
        """``file:line:column: message (at /pointer)``, with the file shown as ``shown_path``
        (the CLI prefixes the folder it was given so editors can jump to the line)."""
        where = shown_path
        if self.line:
            where = f"{where}:{self.line}:{self.column}"
        text = f"{where}: {self.message}"
        if self.pointer:
            text += f" (at {self.pointer})"
        return text

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "line": self.line,
            "column": self.column,
            "pointer": self.pointer,
            "document": self.document,
            "code": self.code,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        return cls(
            path=data["file"],
            line=data["line"],
            column=data["column"],
            message=data["message"],
            code=data["code"],
            pointer=data.get("pointer", ""),
            document=data.get("document"),
        )


def json_pointer(parts: tuple[str | int, ...]) -> str:
    """Render path parts as an RFC 6901 pointer (``("spec", "steps", 0)`` → ``/spec/steps/0``)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
