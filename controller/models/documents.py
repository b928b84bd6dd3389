"""Config documents as loaded from the config repo (DESIGN.md §2.1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from controller.models.problems import Problem, json_pointer

API_VERSION: Final = "meshgate.dev/v1alpha1"
DEFAULT_WORKSPACE: Final = "default"

Kind = Literal["Integration", "TriggerRule", "Suite", "Flow", "EnvironmentTemplate"]
KINDS: Final[tuple[Kind, ...]] = (
    "Integration",
    "TriggerRule",
    "Suite",
    "Flow",
    "EnvironmentTemplate",
)

PathParts = tuple[str | int, ...]


class Locator(Protocol):
    """Finds the source position of a node inside one document."""

    def locate(self, parts: PathParts) -> tuple[int, int]:
        """Return (line, column), 1-based, of the deepest existing node along ``parts``."""
        ...

    def locate_key(self, parts: PathParts) -> tuple[int, int]:
        """Like ``locate``, but a mapping entry is located at its key, not at its value."""
        ...


@dataclass(frozen=True, slots=True)
class DocumentKey:
    workspace: str
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.workspace}/{self.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class DocumentOrigin:
    """Where a document came from: file (relative to the config root) and index in it."""

    path: str
    index: int
    locator: Locator = field(repr=False, compare=False)

    def problem(
        self, parts: PathParts, message: str, code: str, *, at_key: bool = False
    ) -> Problem:
        """A problem at ``parts``; ``at_key`` points at the mapping key instead of its value
        (for "unknown key" and "missing key" messages)."""
        line, column = (self.locator.locate_key if at_key else self.locator.locate)(parts)
        return Problem(
            path=self.path,
            line=line,
            column=column,
            message=message,
            code=code,
            pointer=json_pointer(parts),
            document=self.index,
        )


@dataclass(frozen=True, slots=True)
class ConfigDocument:
    """One schema-valid document. ``spec`` is plain JSON-compatible data; treat it as read-only."""

    kind: Kind
    name: str
    workspace: str
    labels: Mapping[str, str]
    spec: Mapping[str, Any]
    origin: DocumentOrigin

    @property
    def key(self) -> DocumentKey:
        return DocumentKey(self.workspace, self.kind, self.name)

    def problem(self, parts: PathParts, message: str, code: str) -> Problem:
        """A problem located at ``parts`` below ``spec`` (e.g. ``("suite",)``)."""
        return self.origin.problem(("spec", *parts), message, code)
