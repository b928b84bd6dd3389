"""The JSON shape of live config documents, for the read-only config views.

Documents are copied field by field rather than dumped, so what leaves the process is a
choice: secrets appear only as the reference written in the config repo (``{env: NAME}``,
``{file: /path}``), never as a value, and credentials someone put in a provider URL are cut
off. Defaults of optional fields are filled in, so a reader sees what meshgate will do.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from typing import Any

from controller.credentials import redact_url
from controller.errors import NotFound
from controller.models.documents import KINDS, ConfigDocument, Kind
from controller.models.snapshot import ConfigSnapshot
from controller.models.trigger_rules import branch_filter_of, enabled_of, status_context_of

JsonObject = dict[str, Any]


def workspaces(snapshot: ConfigSnapshot) -> JsonObject:
    return {
        "workspaces": [
            {"name": ws, "documents": {kind: len(snapshot.of_kind(ws, kind)) for kind in KINDS}}
            for ws in snapshot.workspaces()
        ]
    }


def integrations(snapshot: ConfigSnapshot, *, workspace: str) -> JsonObject:
    _require_workspace(snapshot, workspace)
    docs = snapshot.of_kind(workspace, "Integration")
    return {"workspace": workspace, "integrations": [_integration(doc) for doc in docs]}


def integration(snapshot: ConfigSnapshot, *, workspace: str, name: str) -> JsonObject:
    _require_workspace(snapshot, workspace)
    return _integration(snapshot.require(workspace, "Integration", name))


def trigger_rules(snapshot: ConfigSnapshot, *, workspace: str, integration: str) -> JsonObject:
    _require_workspace(snapshot, workspace)
    snapshot.require(workspace, "Integration", integration)
    return {
        "workspace": workspace,
        "integration": integration,
        "trigger_rules": [
            _trigger_rule(doc)
            for doc in _rules_of(snapshot, workspace=workspace, integration=integration)
        ],
    }


def suites(snapshot: ConfigSnapshot, *, workspace: str) -> JsonObject:
    _require_workspace(snapshot, workspace)
    docs = snapshot.of_kind(workspace, "Suite")
    return {"workspace": workspace, "suites": [_suite(snapshot, doc) for doc in docs]}


def suite(snapshot: ConfigSnapshot, *, workspace: str, name: str) -> JsonObject:
    _require_workspace(snapshot, workspace)
    return _suite(snapshot, snapshot.require(workspace, "Suite", name))


def document_file(
    snapshot: ConfigSnapshot | None, *, workspace: str, kind: Kind, name: str
) -> str | None:
    """The file to edit for one document, or where documents of its kind live."""
    found = None if snapshot is None else snapshot.get(workspace, kind, name)
    if found is not None:
        return found.origin.path
    return kind_folder(snapshot, workspace=workspace, kind=kind)


def kind_folder(snapshot: ConfigSnapshot | None, *, workspace: str, kind: Kind) -> str | None:
    """Where documents of ``kind`` live: the folder of the first one, preferring this workspace.

    Folders are a convention of the config repo, not a rule, so this points at an example
    rather than claiming a place; ``None`` when no document of the kind exists.
    """
    if snapshot is None:
        return None
    docs = snapshot.of_kind(workspace, kind) or tuple(
        doc for doc in snapshot.documents if doc.kind == kind
    )
    return _folder_of(docs)


def rules_folder(
    snapshot: ConfigSnapshot | None, *, workspace: str, integration: str
) -> str | None:
    if snapshot is None:
        return None
    return _folder_of(
        tuple(_rules_of(snapshot, workspace=workspace, integration=integration))
    ) or kind_folder(snapshot, workspace=workspace, kind="TriggerRule")


def _folder_of(docs: tuple[ConfigDocument, ...]) -> str | None:
    if not docs:
        return None
    path = min(doc.origin.path for doc in docs)
    folder = posixpath.dirname(path)
    return f"{folder}/" if folder else path


def _require_workspace(snapshot: ConfigSnapshot, workspace: str) -> None:
    if workspace not in snapshot.workspaces():
        raise NotFound(f"workspace {workspace!r} not found")


def _rules_of(
    snapshot: ConfigSnapshot, *, workspace: str, integration: str
) -> Iterator[ConfigDocument]:
    for doc in snapshot.of_kind(workspace, "TriggerRule"):
        if doc.spec.get("integration") == integration:
            yield doc


def _common(doc: ConfigDocument) -> JsonObject:
    return {
        "name": doc.name,
        "workspace": doc.workspace,
        "file": doc.origin.path,
        "labels": dict(doc.labels),
    }


def _integration(doc: ConfigDocument) -> JsonObject:
    return {
        **_common(doc),
        "provider": doc.spec["provider"],
        "config": _without_url_credentials(doc.spec.get("config", {})),
        "secrets": {name: _reference(ref) for name, ref in doc.spec.get("secrets", {}).items()},
    }


def _reference(ref: Any) -> dict[str, str] | None:
    """Rebuilt from the one key a reference may have, so a value can never ride along."""
    if isinstance(ref, Mapping) and len(ref) == 1:
        (kind, target), *_ = ref.items()
        if kind in ("env", "file") and isinstance(target, str):
            return {kind: target}
    return None


def _without_url_credentials(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _without_url_credentials(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_url_credentials(item) for item in value]
    if isinstance(value, str):
        return redact_url(value)
    return value


def _trigger_rule(doc: ConfigDocument) -> JsonObject:
    spec = doc.spec
    environment = spec.get("environment")
    return {
        **_common(doc),
        "description": spec.get("description"),
        "integration": spec["integration"],
        "repository": spec["repository"],
        "branch_filter": branch_filter_of(spec),
        "event_types": list(spec["event_types"]),
        "suite": spec["suite"],
        "environment": None if environment is None else dict(environment),
        "status_context": status_context_of(spec),
        "enabled": enabled_of(spec),
    }


def _suite(snapshot: ConfigSnapshot, doc: ConfigDocument) -> JsonObject:
    spec = doc.spec
    return {
        **_common(doc),
        "description": spec.get("description"),
        "flows": list(_flows(snapshot, doc)),
        "concurrency": spec.get("concurrency"),
        "timeout": spec.get("timeout"),
    }


def _flows(snapshot: ConfigSnapshot, suite: ConfigDocument) -> Iterator[JsonObject]:
    """Each flow the suite runs, in its order; a selector expands to its Flows in file order."""
    flows = sorted(
        snapshot.of_kind(suite.workspace, "Flow"),
        key=lambda flow: (flow.origin.path, flow.origin.index),
    )
    for entry in suite.spec["flows"]:
        if "flow" in entry:
            found = snapshot.get(suite.workspace, "Flow", entry["flow"])
            file = None if found is None else found.origin.path
            yield _flow_entry(name=entry["flow"], source="reference", file=file)
        elif "selector" in entry:
            wanted: Mapping[str, str] = entry["selector"]["match_labels"]
            for flow in flows:
                if all(flow.labels.get(key) == value for key, value in wanted.items()):
                    yield _flow_entry(
                        name=flow.name,
                        source="selector",
                        file=flow.origin.path,
                        match_labels=wanted,
                    )
        else:
            yield _flow_entry(name=entry["name"], source="inline", file=suite.origin.path)


def _flow_entry(
    *, name: str, source: str, file: str | None, match_labels: Mapping[str, str] | None = None
) -> JsonObject:
    labels = None if match_labels is None else dict(match_labels)
    return {"name": name, "source": source, "file": file, "match_labels": labels}
