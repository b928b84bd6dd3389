"""Explain: what a payload would do against a config, with no side effects.

"Why did my trigger not fire?" is answered by evaluating the payload exactly as a delivery
would be (same normalizers, same matcher), but without authentication (a file or an API body
carries no signature), without storing anything and without queuing runs. Unlike a stored
delivery, every rule of the integration is listed, not only a capped number of misses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller.errors import BadRequest, NotFound
from controller.intake.argocd_events import normalize_argocd
from controller.intake.gitea_events import normalize_gitea
from controller.matcher.service import Matcher
from controller.models.documents import ConfigDocument
from controller.models.events import EVENT_SOURCES, Event
from controller.models.matching import MatchReport
from controller.models.runs import RunRequest
from controller.models.snapshot import ConfigSnapshot


@dataclass(frozen=True, slots=True)
class IntegrationVerdict:
    workspace: str
    integration: str
    report: MatchReport
    runs: tuple[RunRequest, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.report.to_dict(),
            "integration": f"{self.workspace}/{self.integration}",
            "would_queue": [_planned(run) for run in self.runs],
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    config_revision: str
    event: Event
    verdicts: tuple[IntegrationVerdict, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "config_revision": self.config_revision,
            "event": self.event.to_dict(),
            "integrations": [verdict.to_dict() for verdict in self.verdicts],
        }


def explain(
    *,
    snapshot: ConfigSnapshot,
    matcher: Matcher,
    source: str,
    body: bytes,
    gitea_event: str = "",
    workspace: str | None = None,
    integration: str | None = None,
    rule: str | None = None,
) -> Explanation:
    """Normalize ``body`` as a ``source`` delivery and match it against every integration of
    that provider (or the one named). ``gitea_event`` is the ``X-Gitea-Event`` header value;
    when empty it is inferred from the payload's shape.

    Raises ``InvalidPayload`` (a ``BadRequest``) for a body the webhook would refuse,
    ``BadRequest`` for an unknown source or event, ``NotFound`` when no integration fits.
    """
    event = normalize(source=source, body=body, gitea_event=gitea_event)
    integrations = _integrations(snapshot, source, workspace, integration)
    verdicts = []
    for doc in integrations:
        match = matcher.match(
            event, snapshot=snapshot, integration=doc, only_rule=rule, listed_misses=None
        )
        verdicts.append(IntegrationVerdict(doc.workspace, doc.name, match.report, match.runs))
    return Explanation(snapshot.revision, event, tuple(verdicts))


def normalize(*, source: str, body: bytes, gitea_event: str) -> Event:
    if source == "argocd":
        return normalize_argocd(body)
    if source != "gitea":
        raise BadRequest(f"source must be one of: {', '.join(EVENT_SOURCES)}; got {source!r}")
    event_name = gitea_event or infer_gitea_event(body)
    headers = {"X-Gitea-Event": event_name, "Content-Type": "application/json"}
    return normalize_gitea(headers, body)


def infer_gitea_event(body: bytes) -> str:
    """The Gitea event a payload belongs to, told from its keys, for payloads saved without
    their headers. Raises ``BadRequest`` when the shape says nothing."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        payload = None
    if isinstance(payload, Mapping):
        if "pull_request" in payload:
            return "pull_request"
        if "ref" in payload and ("commits" in payload or "after" in payload):
            return "push"
        if "ref_type" in payload:
            raise BadRequest("a create or delete payload: name the event (create or delete)")
    raise BadRequest("cannot tell which Gitea event this payload is; name it (push, ...)")


def _integrations(
    snapshot: ConfigSnapshot, provider: str, workspace: str | None, name: str | None
) -> list[ConfigDocument]:
    found = snapshot.integrations(provider, name=name, workspace=workspace)
    if not found:
        what = f"{provider} integration" + (f" named {name!r}" if name else "")
        where = f" in workspace {workspace!r}" if workspace else ""
        raise NotFound(f"no {what}{where} in config revision {snapshot.revision}")
    return found


def _planned(run: RunRequest) -> dict[str, Any]:
    return {
        "rule": run.rule,
        "suite": run.suite,
        "trigger_type": run.trigger_type,
        "trigger_ref": run.trigger_ref,
        "context": run.context,
        "template": run.template,
        "status_context": run.status_context,
    }
