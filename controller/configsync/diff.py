"""What a config change would do: documents added, removed and changed, and the trigger
rules that would match differently.

Documents are compared by (workspace, kind, name) and by content (labels and spec), not by
file or position: moving a document between files changes nothing. A rule "matches
differently" when anything that decides which events start it, or what it then starts,
differs: integration, repository, branch filter, event types, enabled, suite, environment
and status context (defaults applied, so spelling out a default is no change).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from controller.models.documents import ConfigDocument, DocumentKey
from controller.models.trigger_rules import branch_filter_of, enabled_of, status_context_of

ChangeKind = Literal["added", "removed", "changed"]
RULE_FIELDS = ("integration", "repository", "branch_filter", "event_types", "enabled", "suite",
               "environment", "status_context")  # fmt: skip


@dataclass(frozen=True, slots=True)
class DocumentChange:
    key: DocumentKey
    change: ChangeKind
    path: str
    """The file it is in (the head's for added and changed documents, else the base's)."""
    fields: tuple[str, ...] = ()
    """For a change: which top-level ``spec`` fields (or ``labels``) differ."""


@dataclass(frozen=True, slots=True)
class RuleChange:
    workspace: str
    name: str
    change: ChangeKind
    details: tuple[str, ...]
    """``repository: 'shop/*' → 'shop/user-service'``; for a new rule, what it matches."""


@dataclass(frozen=True, slots=True)
class ConfigDiff:
    documents: tuple[DocumentChange, ...]
    rules: tuple[RuleChange, ...]

    @property
    def empty(self) -> bool:
        return not self.documents


def diff_documents(base: Iterable[ConfigDocument], head: Iterable[ConfigDocument]) -> ConfigDiff:
    old = {doc.key: doc for doc in base}
    new = {doc.key: doc for doc in head}
    documents: list[DocumentChange] = []
    rules: list[RuleChange] = []
    for key in sorted(old.keys() | new.keys(), key=lambda k: (k.workspace, k.kind, k.name)):
        before, after = old.get(key), new.get(key)
        if before is None and after is not None:
            documents.append(DocumentChange(key, "added", after.origin.path))
            if key.kind == "TriggerRule":
                rules.append(RuleChange(key.workspace, key.name, "added", _describe(after)))
        elif after is None and before is not None:
            documents.append(DocumentChange(key, "removed", before.origin.path))
            if key.kind == "TriggerRule":
                suite = before.spec.get("suite", "?")
                rules.append(
                    RuleChange(key.workspace, key.name, "removed", (f"no longer runs {suite}",))
                )
        elif before is not None and after is not None:
            fields = _changed_fields(before, after)
            if fields:
                documents.append(DocumentChange(key, "changed", after.origin.path, fields))
            if key.kind == "TriggerRule":
                details = _rule_differences(before.spec, after.spec)
                if details:
                    rules.append(RuleChange(key.workspace, key.name, "changed", details))
    return ConfigDiff(tuple(documents), tuple(rules))


def _changed_fields(before: ConfigDocument, after: ConfigDocument) -> tuple[str, ...]:
    changed = [
        name
        for name in sorted(before.spec.keys() | after.spec.keys())
        if before.spec.get(name) != after.spec.get(name)
    ]
    if dict(before.labels) != dict(after.labels):
        changed.append("labels")
    return tuple(changed)


def _matching(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "integration": spec.get("integration"),
        "repository": spec.get("repository"),
        "branch_filter": branch_filter_of(spec),
        "event_types": sorted(spec.get("event_types", [])),
        "enabled": enabled_of(spec),
        "suite": spec.get("suite"),
        "environment": spec.get("environment"),
        "status_context": status_context_of(spec),
    }


def _rule_differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    old, new = _matching(before), _matching(after)
    return tuple(
        f"{name}: {_show(old[name])} → {_show(new[name])}"
        for name in RULE_FIELDS
        if old[name] != new[name]
    )


def _describe(rule: ConfigDocument) -> tuple[str, ...]:
    spec = _matching(rule.spec)
    state = "" if spec["enabled"] else " (disabled)"
    return (
        f"{'/'.join(spec['event_types'])} on {_show(spec['repository'])} "
        f"(branches {_show(spec['branch_filter'])}) of {spec['integration']} → runs "
        f"{spec['suite']}, status {spec['status_context']}{state}",
    )


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return str(value)
