"""ConfigSnapshot: the immutable, indexed view of one valid config revision.

Later services (matcher, runner, API) read the live config only through a snapshot. Sync
replaces the whole object in one assignment, so a reader holding a snapshot sees one
consistent revision for as long as it keeps the reference — never half of two.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from controller.errors import NotFound, TemporaryError
from controller.models.documents import KINDS, ConfigDocument, Kind


@dataclass(frozen=True, slots=True)
class ConfigSnapshot:
    revision: str
    loaded_at: datetime
    documents: tuple[ConfigDocument, ...]
    _index: Mapping[tuple[str, str], Mapping[str, ConfigDocument]] = field(repr=False)
    _workspaces: tuple[str, ...] = field(repr=False, default=())

    @classmethod
    def build(
        cls, *, revision: str, loaded_at: datetime, documents: Iterable[ConfigDocument]
    ) -> ConfigSnapshot:
        """Index ``documents``; names must already be unique per (workspace, kind)."""
        docs = tuple(documents)
        index: dict[tuple[str, str], dict[str, ConfigDocument]] = {}
        for doc in docs:
            index.setdefault((doc.workspace, doc.kind), {})[doc.name] = doc
        frozen = {
            key: MappingProxyType(dict(sorted(by_name.items()))) for key, by_name in index.items()
        }
        workspaces = tuple(sorted({workspace for workspace, _ in frozen}))
        return cls(revision, loaded_at, docs, MappingProxyType(frozen), workspaces)

    def get(self, workspace: str, kind: Kind, name: str) -> ConfigDocument | None:
        return self._index.get((workspace, kind), {}).get(name)

    def require(self, workspace: str, kind: Kind, name: str) -> ConfigDocument:
        found = self.get(workspace, kind, name)
        if found is None:
            raise NotFound(f"{kind} {name!r} not found in workspace {workspace!r}")
        return found

    def of_kind(self, workspace: str, kind: Kind) -> tuple[ConfigDocument, ...]:
        """Documents of one kind in one workspace, sorted by name."""
        return tuple(self._index.get((workspace, kind), {}).values())

    def default_template(self, workspace: str) -> str | None:
        """The workspace's default EnvironmentTemplate (``spec.default: true``; validation
        allows one), or ``None``."""
        for doc in self.of_kind(workspace, "EnvironmentTemplate"):
            if doc.spec.get("default", False):
                return doc.name
        return None

    def integrations(
        self, provider: str, *, name: str | None = None, workspace: str | None = None
    ) -> list[ConfigDocument]:
        """Integrations of ``provider``, in every workspace (or ``workspace``), optionally
        only the one called ``name``."""
        workspaces = self._workspaces if workspace is None else (workspace,)
        return [
            doc
            for ws in workspaces
            for doc in self.of_kind(ws, "Integration")
            if doc.spec["provider"] == provider and name in (None, doc.name)
        ]

    def workspaces(self) -> tuple[str, ...]:
        return self._workspaces

    def counts(self) -> dict[str, int]:
        """Number of documents per kind, every kind listed."""
        by_kind = Counter(doc.kind for doc in self.documents)
        return {kind: by_kind.get(kind, 0) for kind in KINDS}


def require_loaded(snapshot: ConfigSnapshot | None, consequence: str = "") -> ConfigSnapshot:
    """``snapshot``, or ``TemporaryError`` (HTTP 503) while no valid config is loaded yet;
    ``consequence`` completes the message ("runs cannot be started")."""
    if snapshot is None:
        message = "no valid config is loaded yet"
        raise TemporaryError(f"{message}; {consequence}" if consequence else message)
    return snapshot
