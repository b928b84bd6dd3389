"""Argo CD Notifications deliveries → ``Event`` (shared/reference/argocd.md §1.9).

The body is the TestMesh one, ``{app_name, revision, repository, status, health}``, plus
optional snake_case fields meshgate understands: ``revisions`` (multi-source apps),
``pr_number``, ``namespace``, ``branch``. Unknown fields are ignored. Without ``pr_number``,
an app named like ``user-service-pr-123`` (the ApplicationSet pull request generator's
``<name>-pr-<number>`` convention, argocd.md §3) gives pull request 123, so the TestMesh body
alone is enough for a ``pr-${event.pr_number}`` context. Argo CD sends no delivery
id and no signature; the bearer token must be checked before calling this.
"""

from __future__ import annotations

import re
from typing import Final

from controller.intake._payload import (
    MAX_PR_NUMBER,
    InvalidPayload,
    JsonObject,
    decode_json_object,
    json_type,
    shown,
)
from controller.models.events import Event

TRIGGER_SYNC_STATUS: Final = "Synced"
TRIGGER_HEALTH: Final = "Healthy"
_DIGITS = re.compile(r"[0-9]{1,18}")
_PR_APP_SUFFIX = re.compile(r"-pr-([1-9][0-9]{0,17})$")


def normalize_argocd(body: bytes, *, delivery_id: str = "") -> Event:
    """Normalize one Argo CD webhook body. Only ``status == "Synced"`` with
    ``health == "Healthy"`` triggers. ``app_name`` (non-empty) and ``revision`` or
    ``revisions`` are required; without ``revision``, the first non-empty entry of
    ``revisions`` is used. Raises ``InvalidPayload`` naming the field at fault."""
    payload = decode_json_object(body)
    app_name = payload.required_str("app_name", non_empty=True)
    revision = payload.optional_str("revision")
    revisions = payload.optional_str_list("revisions")
    if not revision:
        revision = next((r for r in revisions if r), "")
    if not revision:
        raise InvalidPayload("is required (or a non-empty 'revisions' list)", field="revision")
    sync_status = payload.optional_str("status")
    health = payload.optional_str("health")

    reason = ""
    if (sync_status, health) != (TRIGGER_SYNC_STATUS, TRIGGER_HEALTH):
        reason = (
            f"app is {sync_status or '(no status)'}/{health or '(no health)'}, "
            f"not {TRIGGER_SYNC_STATUS}/{TRIGGER_HEALTH}"
        )
    return Event(
        source="argocd",
        type="sync",
        trigger=not reason,
        ignored_reason=reason,
        repository=app_name,
        branch=payload.optional_str("branch"),
        revision=revision,
        revisions=revisions,
        pr_number=_pr_number(payload, app_name),
        repo_url=payload.optional_str("repository"),
        app_health=health,
        app_sync_status=sync_status,
        namespace=payload.optional_str("namespace"),
        delivery_id=delivery_id,
    )


def _pr_number(payload: JsonObject, app_name: str) -> int | None:
    """``pr_number`` as an int (templates render it as a number or as a string), else the
    app name's ``-pr-<n>`` suffix."""
    value = payload.raw("pr_number")
    if value is None or value == "":
        suffix = _PR_APP_SUFFIX.search(app_name)
        return None if suffix is None else int(suffix[1])
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidPayload(
            f"expected an integer or a numeric string, got {json_type(value)} {shown(value)}",
            field="pr_number",
        )
    if value <= 0:
        raise InvalidPayload(f"expected a positive integer, got {value}", field="pr_number")
    if value > MAX_PR_NUMBER:
        raise InvalidPayload(
            f"expected at most {MAX_PR_NUMBER}, got {shown(value)}", field="pr_number"
        )
    return value
