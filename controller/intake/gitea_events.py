"""Gitea webhook deliveries → ``Event`` (shared/reference/gitea.md §1.4, §2, §6).

Only ``push`` to a branch and pull requests ``opened``/``reopened``/``synchronized`` trigger;
every other delivery is still normalized (so it can be recorded and explained) with the reason
it does not. The signature must be checked on the raw body *before* calling this.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from controller.intake._payload import (
    MAX_PR_NUMBER,
    InvalidPayload,
    JsonObject,
    commit_sha,
    decode_json_object,
    form_payload,
    is_zero_sha,
    shown,
)
from controller.models.events import Event

PR_TRIGGER_ACTIONS: Final = frozenset({"opened", "reopened", "synchronized"})
FAKE_COMMIT_MESSAGE: Final = "This is a fake commit"

# Fine event types first: only they tell pull_request from pull_request_sync.
_EVENT_HEADERS: Final = (
    "x-gitea-event-type",
    "x-gogs-event-type",
    "x-github-event-type",
    "x-gitea-event",
    "x-gogs-event",
    "x-github-event",
)
_DELIVERY_HEADERS: Final = ("x-gitea-delivery", "x-gogs-delivery", "x-github-delivery")
# Event types whose payload is a PullRequestPayload about the PR itself. Review events
# (pull_request_review_*) and pull_request_comment (an IssueCommentPayload) are not here.
_PR_EVENT_TYPES: Final = frozenset(
    {
        "pull_request",
        "pull_request_sync",
        "pull_request_assign",
        "pull_request_label",
        "pull_request_milestone",
        "pull_request_review_request",
    }
)
_FULL_NAME = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class _Common:
    delivery_id: str
    repository: str
    repo_url: str
    sender: str


def normalize_gitea(headers: Mapping[str, str], body: bytes) -> Event:
    """Normalize one Gitea (or Gogs/GitHub-style) webhook delivery.

    ``headers`` are looked up case-insensitively (any mapping works, Starlette's included).
    The event comes from ``X-Gitea-Event-Type`` (then the Gogs/GitHub ``-Event-Type``, then
    ``X-Gitea-Event``, ``X-Gogs-Event``, ``X-GitHub-Event``); the delivery id from
    ``X-Gitea-Delivery`` (then Gogs, GitHub). A ``application/x-www-form-urlencoded`` body is
    decoded from its ``payload`` field. Raises ``InvalidPayload`` for a missing event header,
    an undecodable body or a field of the wrong type.
    """
    lowered = _lower_keys(headers)
    event_name = _first_header(lowered, _EVENT_HEADERS).lower()
    if not event_name:
        raise InvalidPayload(
            "no event header (X-Gitea-Event-Type, X-Gitea-Event, X-Gogs-Event or X-GitHub-Event)"
        )
    delivery_id = _first_header(lowered, _DELIVERY_HEADERS)
    content_type = lowered.get("content-type", "").split(";")[0].strip().lower()
    if content_type == _FORM_CONTENT_TYPE:
        payload = decode_json_object(form_payload(body))
    else:
        payload = decode_json_object(body)

    handler = _HANDLERS.get(event_name)
    if handler is None and event_name in _PR_EVENT_TYPES:
        handler = _pull_request
    if handler is None:
        return _unknown(payload, event_name, delivery_id)
    return handler(payload, _common(payload, delivery_id, required_repository=True))


def _lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names lower-cased; the same name twice with different values is refused (a
    plain dict can hold ``X-Gitea-Event`` and ``x-gitea-event`` side by side)."""
    lowered: dict[str, str] = {}
    for key, value in headers.items():
        name = key.lower()
        if lowered.setdefault(name, value) != value:
            raise InvalidPayload(f"conflicting values for header {key}")
    return lowered


def _first_header(headers: Mapping[str, str], names: tuple[str, ...]) -> str:
    for name in names:
        value = headers.get(name, "").strip()
        if value:
            return value
    return ""


def _common(payload: JsonObject, delivery_id: str, *, required_repository: bool) -> _Common:
    repo = (
        payload.required_object("repository")
        if required_repository
        else payload.optional_object("repository")
    )
    full_name = repo_url = ""
    if repo is not None:
        if required_repository:
            full_name = repo.required_str("full_name", non_empty=True)
        else:
            full_name = repo.optional_str("full_name")
        if full_name and not _is_full_name(full_name):
            raise InvalidPayload(
                f'expected "owner/repo", got {shown(full_name)}', field=repo.where("full_name")
            )
        repo_url = repo.optional_str("clone_url")
    sender_obj = payload.optional_object("sender")
    sender = sender_obj.optional_str("login") if sender_obj is not None else ""
    return _Common(delivery_id=delivery_id, repository=full_name, repo_url=repo_url, sender=sender)


def _is_full_name(value: str) -> bool:
    # The name ends up in a Gitea API path: no "..", no extra slashes, no URL syntax.
    return bool(_FULL_NAME.fullmatch(value)) and not {".", ".."} & set(value.split("/"))


def _event(
    common: _Common,
    type_: str,
    reason: str = "",
    *,
    action: str = "",
    ref: str = "",
    branch: str = "",
    head_branch: str = "",
    revision: str = "",
    previous_revision: str = "",
    pr_number: int | None = None,
) -> Event:
    return Event(
        source="gitea",
        type=type_,
        trigger=not reason,
        ignored_reason=reason,
        action=action,
        repository=common.repository,
        ref=ref,
        branch=branch,
        head_branch=head_branch,
        revision=revision,
        previous_revision=previous_revision,
        pr_number=pr_number,
        repo_url=common.repo_url,
        delivery_id=common.delivery_id,
        sender=common.sender,
    )


def _push(payload: JsonObject, common: _Common) -> Event:
    ref = payload.required_str("ref", non_empty=True)
    after = payload.required_str("after", non_empty=True)
    before = payload.optional_str("before")
    head_commit = payload.optional_object("head_commit")
    commit_id = head_commit.optional_str("id") if head_commit is not None else ""
    commit_message = head_commit.optional_str("message") if head_commit is not None else ""
    deleted = is_zero_sha(after)
    revision = "" if deleted else commit_sha(after, "after")

    if ref.startswith("refs/heads/") and len(ref) > len("refs/heads/"):
        branch = ref.removeprefix("refs/heads/")
        reason = ""
        if deleted:
            fake = is_zero_sha(commit_id) or commit_message == FAKE_COMMIT_MESSAGE
            if is_zero_sha(before) or fake:
                reason = "Gitea test delivery (after is the zero sha)"
            else:
                reason = f"ref deleted ({ref})"
        previous = "" if is_zero_sha(before) else before
        return _event(
            common,
            "push",
            reason,
            ref=ref,
            branch=branch,
            revision=revision,
            previous_revision=previous,
        )
    if deleted:
        reason = f"ref deleted ({ref})"
    elif ref.startswith("refs/tags/"):
        reason = f"tag push ({ref}); tags do not start runs"
    else:
        reason = f"push to {shown(ref)}, which is not a branch"
    return _event(common, "push", reason, ref=ref, revision=revision)


def _pull_request(payload: JsonObject, common: _Common) -> Event:
    action = payload.required_str("action", non_empty=True)
    number = payload.required_int("number")
    if number <= 0:
        raise InvalidPayload(f"expected a positive integer, got {number}", field="number")
    if number > MAX_PR_NUMBER:
        raise InvalidPayload(
            f"expected at most {MAX_PR_NUMBER}, got {shown(number)}", field="number"
        )
    pr = payload.required_object("pull_request")
    base = pr.required_object("base")
    head = pr.required_object("head")
    branch = base.required_str("ref", non_empty=True)
    head_branch = head.required_str("ref")
    head_sha = head.required_str("sha")
    merged = pr.optional_bool("merged")

    reason = ""
    if action not in PR_TRIGGER_ACTIONS:
        if action == "closed":
            reason = "pull request closed (merged)" if merged else "pull request closed, not merged"
        else:
            reason = (
                f"pull request action {shown(action)} does not start runs "
                "(only opened, reopened, synchronized)"
            )
    # A closed PR whose head repository is gone may carry no usable sha; only a triggering
    # event needs one.
    revision = commit_sha(head_sha, head.where("sha")) if head_sha or not reason else ""
    return _event(
        common,
        "pull_request",
        reason,
        action=action,
        branch=branch,
        head_branch=head_branch,
        revision=revision,
        pr_number=number,
    )


def _ref_event(payload: JsonObject, common: _Common, type_: str) -> Event:
    ref = payload.required_str("ref", non_empty=True)
    ref_type = payload.required_str("ref_type", non_empty=True)
    sha = payload.optional_str("sha") if type_ == "create" else ""
    revision = commit_sha(sha, "sha") if sha and not is_zero_sha(sha) else ""
    prefix = {"branch": "refs/heads/", "tag": "refs/tags/"}.get(ref_type, "")
    full_ref = ref if not prefix or ref.startswith("refs/") else prefix + ref
    branch = full_ref.removeprefix("refs/heads/") if ref_type == "branch" else ""
    verb = "created" if type_ == "create" else "deleted"
    reason = f"{ref_type} {verb} ({ref})"
    if type_ == "create":
        reason += "; the push event sent with it is what starts runs"
    return _event(common, type_, reason, ref=full_ref, branch=branch, revision=revision)


def _create(payload: JsonObject, common: _Common) -> Event:
    return _ref_event(payload, common, "create")


def _delete(payload: JsonObject, common: _Common) -> Event:
    return _ref_event(payload, common, "delete")


def _unknown(payload: JsonObject, event_name: str, delivery_id: str) -> Event:
    common = _common(payload, delivery_id, required_repository=False)
    return _event(common, "unknown", f"event {shown(event_name)} does not start runs")


_HANDLERS: Final[dict[str, Callable[[JsonObject, _Common], Event]]] = {
    "push": _push,
    "create": _create,
    "delete": _delete,
}
