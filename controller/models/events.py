"""Normalized webhook events (DESIGN.md §3, "Intake").

Gitea and Argo CD deliveries are turned into one ``Event`` by ``controller.intake``; the
matcher, the dedupe key, the templating root ``event.*`` and the delivery record all read this
value, never the provider payload.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal, get_args

EventSource = Literal["argocd", "gitea"]
EVENT_SOURCES: tuple[EventSource, ...] = get_args(EventSource)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One webhook delivery, normalized.

    Common fields:

    - ``source``: ``"argocd"`` or ``"gitea"``.
    - ``type``: ``"sync"`` (Argo CD), ``"push"``, ``"pull_request"``, ``"create"``,
      ``"delete"`` (Gitea), or ``"unknown"`` for any other Gitea event (the reason names it).
    - ``repository``: the Argo CD Application name, or the Gitea ``owner/repo`` of the *base*
      repository (for a PR from a fork, the repository the PR targets).
    - ``revision``: the commit the event is about (Gitea: ``after`` of a push, the PR head
      sha; Argo CD: the synced revision, which for Helm sources may be a chart version rather
      than a sha). ``""`` when there is none (deleted ref, test delivery).
    - ``previous_revision``: what a pushed branch pointed at before (Gitea ``before``; ``""``
      for a new branch); for an Argo CD sync, the app's previous synced revision as storage
      recorded it (the body does not say). It tells a redeploy of an old revision (a
      rollback: A → B → A) from a replay or repeat of the first, which looks the same.
    - ``repo_url``: recorded only, never fetched (Gitea: ``repository.clone_url``; Argo CD:
      the body's ``repository``).
    - ``delivery_id``: the provider's delivery id (Gitea ``X-Gitea-Delivery``); ``""`` when
      the provider sends none (Argo CD).
    - ``trigger``: whether the event may start runs at all (rules still have to match);
      ``ignored_reason`` says why not when ``trigger`` is false, and is ``""`` otherwise.

    Gitea fields (``""``/``None`` for Argo CD unless its body carries them):

    - ``action``: the pull request action (``opened``, ``synchronized``, ``closed``...).
    - ``ref``: the full ref (``refs/heads/main``, ``refs/tags/v1``) of a push, create or delete.
    - ``branch``: the short branch name; for a pull request the *base* branch.
    - ``head_branch``: the pull request's head branch (``refs/pull/<n>/head`` once the branch
      is deleted).
    - ``pr_number``: the pull request index (Argo CD: the optional ``pr_number`` field, else
      the ``-pr-<n>`` suffix of the app name).
    - ``sender``: the login of the user who caused the event.

    Argo CD fields (``""``/``()`` for Gitea):

    - ``app_sync_status`` / ``app_health``: ``status`` and ``health`` of the body.
    - ``revisions``: every revision of a multi-source app, in source order (``revision`` is
      then the first non-empty one).
    - ``namespace``: the optional ``namespace`` field (where the app deploys).
    """

    source: EventSource
    type: str
    trigger: bool
    ignored_reason: str = ""
    action: str = ""
    repository: str = ""
    ref: str = ""
    branch: str = ""
    head_branch: str = ""
    revision: str = ""
    previous_revision: str = ""
    revisions: tuple[str, ...] = ()
    pr_number: int | None = None
    repo_url: str = ""
    app_health: str = ""
    app_sync_status: str = ""
    namespace: str = ""
    delivery_id: str = ""
    sender: str = ""

    def __post_init__(self) -> None:
        if self.trigger == bool(self.ignored_reason):
            raise ValueError("an Event has an ignored_reason exactly when it does not trigger")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``revisions`` as a list); ``from_dict`` reverses it."""
        data = {name: getattr(self, name) for name in _FIELD_NAMES}
        data["revisions"] = list(self.revisions)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        """Rebuild a stored event; keys missing from older records take their defaults."""
        values = dict(data)
        values["revisions"] = tuple(values.get("revisions", ()))
        return cls(**values)


# dataclasses.fields() is slow, and to_dict runs for every delivery.
_FIELD_NAMES = tuple(field.name for field in fields(Event))
