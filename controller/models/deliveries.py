"""Webhook deliveries: every request intake accepted, recorded once.

A provider may deliver the same event more than once: Gitea's "replay" button sends the same
body under a new delivery id, and Argo CD notifications carry no id at all and are repeated
when the notification controller restarts or retries. Two keys catch both cases (the storage
enforces each with a unique constraint):

- ``(source, delivery_id)``: the same delivery received twice (provider retry);
- ``(workspace, semantic_key)``: the same triggering event received again under another
  delivery id, or under none (``semantic_key`` below).

Values are built by ``controller.storage``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from controller.models.events import Event
from controller.models.matching import MatchReport
from controller.models.runs import Run

_SEPARATOR = "\x1f"  # ASCII unit separator: cannot occur in any of the joined fields


def semantic_key(event: Event, *, follows: str = "") -> str | None:
    """What makes two triggering events "the same event", as a fixed-width string.

    The SHA-256 (hex) of source, repository, revision, type, action, ref, pull request number
    and previous revision joined with ``\\x1f``: a replay of the same body yields the same key,
    while the same commit pushed to another branch or tag (``ref``), opened as another pull
    request (``pr_number``), or pushed again after the branch moved away from it
    (``previous_revision``: a rollback) does not. ``follows`` chains an Argo CD sync to the
    key of the app's sync before it (storage supplies it: the body does not say), so every
    redeploy in A → B → A → B has a key of its own. Hashed so the unique index stays small
    whatever the lengths of provider-supplied names.

    ``None`` when the event does not trigger: ignored events cannot start runs, so there is
    nothing to protect against running twice, and their identifying fields are often empty
    (a test delivery or a deleted ref has no revision) — keying them would make unrelated
    ignored deliveries collide and all but the first would go unrecorded.
    """
    if not event.trigger:
        return None
    parts = (
        event.source,
        event.repository,
        event.revision,
        event.type,
        event.action,
        event.ref,
        "" if event.pr_number is None else str(event.pr_number),
        event.previous_revision,
        follows,
    )
    joined = _SEPARATOR.join(parts).encode("utf-8", "surrogateescape")
    return hashlib.sha256(joined).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """One recorded webhook delivery.

    - ``delivery_id``: the provider's id (Gitea ``X-Gitea-Delivery``); ``""`` when it sent none.
    - ``semantic_key``: ``semantic_key(event)``; ``None`` for an event that does not trigger.
    - ``integration``: the integration the delivery authenticated against (``""``: unknown).
    - ``workspace``: the workspace of that integration.
    - ``body``: the request body exactly as received, decoded as UTF-8 with
      ``surrogateescape`` so that any bytes survive (``raw_body`` gives them back). Headers,
      which carry the signature or token, are never stored.
    - ``received_at``: timezone-aware UTC.
    - ``match``: the decisions taken for it against config revision ``config_revision``
      (``None`` and ``""`` when it was recorded without matching).
    """

    id: int
    source: str
    delivery_id: str
    semantic_key: str | None
    integration: str
    workspace: str
    event: Event
    body: str
    received_at: datetime
    config_revision: str = ""
    match: MatchReport | None = None

    @property
    def raw_body(self) -> bytes:
        """The body bytes as received."""
        return self.body.encode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class RecordedDelivery:
    """The outcome of recording a delivery: the stored row, and whether it already existed
    (``duplicate``: an earlier delivery had the same delivery id or semantic key, and
    ``delivery`` is that earlier one). ``runs`` are the runs queued with it; a duplicate
    queues none."""

    delivery: Delivery
    duplicate: bool
    runs: tuple[Run, ...] = ()
