"""What cross-document checks read from a document, as one hashable value.

``reference_checks`` and ``status_contexts`` look only at these fields; ``ConfigValidator``
compares them to know whether an edit can change a cross-document verdict at all. Editing a
step of a flow, a description or a URL leaves them equal, so re-validating a 10,000-document
repo after such an edit costs a few milliseconds. Keep this in sync with what those checks
read: a field they use but this function omits would let a stale "valid" verdict stand.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any

from controller.models.documents import ConfigDocument


def cross_facts(doc: ConfigDocument) -> Hashable:
    spec = doc.spec
    facts: Any
    if doc.kind == "Flow":
        facts = sorted(doc.labels.items())
    elif doc.kind == "Suite":
        facts = [(entry.get("flow"), _canonical(entry.get("selector"))) for entry in spec["flows"]]
    elif doc.kind == "Integration":
        facts = spec["provider"]
    elif doc.kind == "EnvironmentTemplate":
        facts = (spec.get("integration"), spec.get("provisioner"), spec.get("default"))
    else:
        facts = _canonical({key: value for key, value in spec.items() if key != "description"})
    return (doc.workspace, doc.kind, doc.name, _freeze(facts))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _freeze(value: Any) -> Hashable:
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    if isinstance(value, tuple):
        return tuple(_freeze(item) for item in value)
    return value  # type: ignore[no-any-return]
