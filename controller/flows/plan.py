"""What a suite run will run: the suite's flows resolved from the config, one entry per
parameter row, in the order the suite lists them (report order is file order, never
completion order).

A ``flows`` entry is a Flow document by name, every Flow document whose labels match a
selector (in file order), or a flow written inline in the suite. A flow reached twice is run
once, where it first appears.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.errors import NotFound
from controller.models.documents import ConfigDocument
from controller.models.snapshot import ConfigSnapshot


@dataclass(frozen=True, slots=True)
class FlowPlan:
    """One flow run: the flow's spec, its parameter row (if any) and where it is written."""

    name: str
    spec: Mapping[str, Any]
    file: str
    document: ConfigDocument
    path: tuple[str | int, ...]
    """Where the flow's spec sits in ``document`` (``("spec",)`` or ``("spec", "flows", 0)``)."""
    row: str | None = None
    row_vars: Mapping[str, Any] | None = None
    _lines: dict[tuple[str | int, ...], int | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def label(self) -> str:
        return self.name if self.row is None else f"{self.name}[{self.row}]"

    def line_of(self, *parts: str | int) -> int | None:
        """The line of ``parts`` below the flow's spec, e.g. ``("steps", 2)``; looked up
        once per plan and place (every step result asks)."""
        key = (*self.path, *parts)
        if key not in self._lines:
            try:
                self._lines[key], _ = self.document.origin.locator.locate(key)
            except (KeyError, IndexError, TypeError, ValueError):
                self._lines[key] = None
        return self._lines[key]


@dataclass(frozen=True, slots=True)
class SuitePlan:
    suite: ConfigDocument
    flows: tuple[FlowPlan, ...]

    @property
    def spec(self) -> Mapping[str, Any]:
        return self.suite.spec

    @property
    def junit_granularity(self) -> str:
        """``report.junit.granularity``: ``step`` (default) or ``flow``."""
        report = self.spec.get("report") or {}
        return str((report.get("junit") or {}).get("granularity", "step"))


def plan_suite(snapshot: ConfigSnapshot, workspace: str, suite_name: str) -> SuitePlan:
    """Resolve suite ``suite_name`` of ``workspace``; raises ``NotFound``."""
    suite = snapshot.require(workspace, "Suite", suite_name)
    flows: list[FlowPlan] = []
    seen: set[str] = set()
    for index, entry in enumerate(suite.spec.get("flows", [])):
        for plan in _entry(snapshot, suite, index, entry):
            if plan.name not in seen:
                seen.add(plan.name)
                flows.extend(_rows(plan))
    return SuitePlan(suite, tuple(flows))


def _entry(
    snapshot: ConfigSnapshot, suite: ConfigDocument, index: int, entry: Mapping[str, Any]
) -> list[FlowPlan]:
    if "flow" in entry:
        doc = snapshot.get(suite.workspace, "Flow", entry["flow"])
        if doc is None:
            raise NotFound(
                f"suite {suite.name!r} names Flow {entry['flow']!r}, which does not exist"
            )
        return [_document_plan(doc)]
    if "selector" in entry:
        wanted = entry["selector"]["match_labels"]
        matching = [
            doc
            for doc in snapshot.of_kind(suite.workspace, "Flow")
            if all(doc.labels.get(key) == value for key, value in wanted.items())
        ]
        matching.sort(key=lambda doc: (doc.origin.path, doc.origin.index))
        return [_document_plan(doc) for doc in matching]
    return [
        FlowPlan(
            name=entry["name"],
            spec=entry,
            file=suite.origin.path,
            document=suite,
            path=("spec", "flows", index),
        )
    ]


def _document_plan(doc: ConfigDocument) -> FlowPlan:
    return FlowPlan(
        name=doc.name, spec=doc.spec, file=doc.origin.path, document=doc, path=("spec",)
    )


def _rows(plan: FlowPlan) -> list[FlowPlan]:
    rows = plan.spec.get("parameters") or []
    if not rows:
        return [plan]
    return [
        FlowPlan(
            name=plan.name,
            spec=plan.spec,
            file=plan.file,
            document=plan.document,
            path=plan.path,
            row=row["id"],
            row_vars=row.get("vars") or {},
        )
        for row in rows
    ]
