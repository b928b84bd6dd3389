"""Checks across documents: unique names, references that resolve, one default template.

All lookups go through one index built per validation, so the cost is linear in the number
of documents (a 10,000-document repo re-validates in milliseconds).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from controller.models.documents import ConfigDocument, Kind
from controller.models.problems import Problem

Index = Mapping[tuple[str, str], Mapping[str, ConfigDocument]]

EVENT_TYPES_BY_PROVIDER: Mapping[str, frozenset[str]] = {
    "argocd": frozenset({"sync"}),
    "gitea": frozenset({"push", "pull_request"}),
}


def build_index(documents: Sequence[ConfigDocument]) -> tuple[Index, list[Problem]]:
    """Index documents by (workspace, kind) → name; later duplicates are reported, not kept."""
    index: dict[tuple[str, str], dict[str, ConfigDocument]] = {}
    problems: list[Problem] = []
    for doc in documents:
        by_name = index.setdefault((doc.workspace, doc.kind), {})
        first = by_name.get(doc.name)
        if first is None:
            by_name[doc.name] = doc
            continue
        line, column = first.origin.locator.locate(("metadata", "name"))
        problems.append(
            doc.origin.problem(
                ("metadata", "name"),
                f"duplicate {doc.kind} name {doc.name!r} in workspace {doc.workspace!r} "
                f"(first defined at {first.origin.path}:{line}:{column})",
                "name.duplicate",
            )
        )
    return index, problems


def check_references(index: Index) -> Iterator[Problem]:
    for (workspace, kind), by_name in index.items():
        for doc in by_name.values():
            if kind == "TriggerRule":
                yield from _check_rule(index, workspace, doc)
            elif kind == "EnvironmentTemplate":
                yield from _check_template(index, workspace, doc)
            elif kind == "Suite":
                yield from _check_suite(index, workspace, doc)
    yield from _check_single_default(index)


def _lookup(index: Index, workspace: str, kind: Kind, name: Any) -> ConfigDocument | None:
    if not isinstance(name, str):
        return None
    return index.get((workspace, kind), {}).get(name)


def _missing(
    doc: ConfigDocument, parts: tuple[str | int, ...], kind: Kind, name: str, index: Index
) -> Problem:
    known = sorted(index.get((doc.workspace, kind), {}))
    hint = f"; known: {', '.join(known[:10])}" if known else f"; there is no {kind} there yet"
    return doc.problem(
        parts,
        f"{kind} {name!r} not found in workspace {doc.workspace!r}{hint}",
        "reference.unresolved",
    )


def _check_rule(index: Index, workspace: str, rule: ConfigDocument) -> Iterator[Problem]:
    spec = rule.spec
    integration = _lookup(index, workspace, "Integration", spec["integration"])
    if integration is None:
        yield _missing(rule, ("integration",), "Integration", spec["integration"], index)
    else:
        provider = integration.spec["provider"]
        allowed = EVENT_TYPES_BY_PROVIDER[provider]
        for position, event_type in enumerate(spec["event_types"]):
            if event_type not in allowed:
                yield rule.problem(
                    ("event_types", position),
                    f"event type {event_type!r} is never sent by {provider} integration "
                    f"{integration.name!r} (it sends: {', '.join(sorted(allowed))})",
                    "rule.event-type",
                )
    if _lookup(index, workspace, "Suite", spec["suite"]) is None:
        yield _missing(rule, ("suite",), "Suite", spec["suite"], index)
    template = spec.get("environment", {}).get("template")
    if template is not None and _lookup(index, workspace, "EnvironmentTemplate", template) is None:
        yield _missing(rule, ("environment", "template"), "EnvironmentTemplate", template, index)


def _check_template(index: Index, workspace: str, doc: ConfigDocument) -> Iterator[Problem]:
    name = doc.spec.get("integration")
    if name is None:
        return
    integration = _lookup(index, workspace, "Integration", name)
    if integration is None:
        yield _missing(doc, ("integration",), "Integration", name, index)
    elif doc.spec.get("provisioner") == "argocd" and integration.spec["provider"] != "argocd":
        yield doc.problem(
            ("integration",),
            f"provisioner argocd needs an argocd integration; {name!r} is "
            f"{integration.spec['provider']}",
            "reference.provider",
        )


def _check_suite(index: Index, workspace: str, suite: ConfigDocument) -> Iterator[Problem]:
    flows = index.get((workspace, "Flow"), {})
    for position, entry in enumerate(suite.spec["flows"]):
        if "flow" in entry and entry["flow"] not in flows:
            yield _missing(suite, ("flows", position, "flow"), "Flow", entry["flow"], index)
        selector = entry.get("selector")
        if selector is not None:
            wanted = selector.get("match_labels", {})
            if not any(_labels_match(flow.labels, wanted) for flow in flows.values()):
                yield suite.problem(
                    ("flows", position, "selector"),
                    f"selector {wanted} matches no Flow in workspace {workspace!r}",
                    "reference.empty-selector",
                )


def _labels_match(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in wanted.items())


def _check_single_default(index: Index) -> Iterator[Problem]:
    for (workspace, kind), by_name in index.items():
        if kind != "EnvironmentTemplate":
            continue
        defaults = [doc for doc in by_name.values() if doc.spec.get("default") is True]
        for extra in defaults[1:]:
            yield extra.problem(
                ("default",),
                f"workspace {workspace!r} already has a default EnvironmentTemplate "
                f"({defaults[0].name!r} in {defaults[0].origin.path}); only one may be default",
                "template.duplicate-default",
            )
