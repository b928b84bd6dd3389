from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from controller.errors import PermanentError
from controller.intake import InvalidPayload, normalize_gitea
from controller.models.events import Event

SHARED = Path(__file__).resolve().parents[3].parent / "shared"
ASSEMBLED = SHARED / "fixtures" / "gitea" / "assembled"
VERBATIM = SHARED / "fixtures" / "gitea" / "verbatim"

ZERO40 = "0" * 40
SHA_MAIN = "96167366fd610d405bacdbafa1536b6d24abb570"
SHA_FEATURE = "881cf9a3296ba397525d535d057a2c636d62f6e7"
SHA_FORK = "03a81927f530dfea84b096b8e0fae3e60dc0cb58"

# fixture -> (type, trigger, reason fragment, branch, head_branch, revision, pr_number, action)
EXPECTED: dict[str, tuple[str, bool, str, str, str, str, int | None, str]] = {
    "webhook-push-branch.json": ("push", True, "", "main", "", SHA_MAIN, None, ""),
    "webhook-push-new-branch.json": (
        "push",
        True,
        "",
        "feature/login-form",
        "",
        SHA_FEATURE,
        None,
        "",
    ),
    "webhook-push-tag.json": (
        "push",
        False,
        "tag push (refs/tags/v1.4.0)",
        "",
        "",
        SHA_MAIN,
        None,
        "",
    ),
    "webhook-push-tag-delete.json": (
        "push",
        False,
        "ref deleted (refs/tags/v1.3.9-rc1)",
        "",
        "",
        "",
        None,
        "",
    ),
    "webhook-push-test-delivery.json": (
        "push",
        False,
        "Gitea test delivery",
        "main",
        "",
        "",
        None,
        "",
    ),
    "webhook-delete-branch.json": (
        "delete",
        False,
        "branch deleted (feature/login-form)",
        "feature/login-form",
        "",
        "",
        None,
        "",
    ),
    "webhook-pull_request-opened.json": (
        "pull_request",
        True,
        "",
        "main",
        "feature/login-form",
        SHA_FEATURE,
        12,
        "opened",
    ),
    "webhook-pull_request-synchronized-fork.json": (
        "pull_request",
        True,
        "",
        "main",
        "fix/status-404",
        SHA_FORK,
        13,
        "synchronized",
    ),
    "webhook-pull_request-closed-merged.json": (
        "pull_request",
        False,
        "pull request closed (merged)",
        "main",
        "feature/login-form",
        SHA_FEATURE,
        12,
        "closed",
    ),
}


def load(name: str) -> tuple[dict[str, str], bytes]:
    """Headers and raw body of an assembled fixture."""
    meta = json.loads((ASSEMBLED / name.replace(".json", ".headers.json")).read_text())
    assert meta["body_file"] == name
    return meta["headers"], (ASSEMBLED / name).read_bytes()


def body_of(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ASSEMBLED / name).read_bytes())
    return data


def normalize(headers: dict[str, str], data: Any) -> Event:
    return normalize_gitea(headers, json.dumps(data).encode())


def test_gitea_fixtures_are_all_covered() -> None:
    on_disk = {p.name for p in ASSEMBLED.glob("webhook-*.json")} - {
        p.name for p in ASSEMBLED.glob("webhook-*.headers.json")
    }
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_normalize_gitea_assembled_fixture(name: str) -> None:
    headers, body = load(name)
    type_, trigger, reason, branch, head_branch, revision, pr_number, action = EXPECTED[name]

    event = normalize_gitea(headers, body)

    assert event.source == "gitea"
    assert event.type == type_
    assert event.trigger is trigger
    if trigger:
        assert event.ignored_reason == ""
    else:
        assert reason in event.ignored_reason
    assert event.repository == "alice/demo"
    assert event.branch == branch
    assert event.head_branch == head_branch
    assert event.revision == revision
    assert event.pr_number == pr_number
    assert event.action == action
    assert event.delivery_id == headers["X-Gitea-Delivery"]
    assert event.repo_url == "https://gitea.example.com/alice/demo.git"
    assert event.sender == ("bob" if "fork" in name else "alice")
    assert event.revisions == ()
    assert (event.app_health, event.app_sync_status) == ("", "")


def test_normalize_gitea_push_records_full_ref() -> None:
    assert normalize_gitea(*load("webhook-push-new-branch.json")).ref == (
        "refs/heads/feature/login-form"
    )
    assert normalize_gitea(*load("webhook-delete-branch.json")).ref == (
        "refs/heads/feature/login-form"
    )
    assert normalize_gitea(*load("webhook-push-tag.json")).ref == "refs/tags/v1.4.0"


def test_normalize_gitea_headers_are_case_insensitive() -> None:
    headers, body = load("webhook-pull_request-synchronized-fork.json")
    expected = normalize_gitea(headers, body)
    assert normalize_gitea({k.lower(): v for k, v in headers.items()}, body) == expected
    assert normalize_gitea({k.upper(): v for k, v in headers.items()}, body) == expected


@pytest.mark.parametrize(
    ("event_headers", "expected_type"),
    [
        ({"X-Gitea-Event": "push"}, "push"),
        ({"X-Gogs-Event": "push"}, "push"),
        ({"X-GitHub-Event": "push"}, "push"),
        ({"X-Gitea-Event": "push", "X-Gitea-Event-Type": "issues"}, "unknown"),
    ],
)
def test_normalize_gitea_event_header_fallbacks(
    event_headers: dict[str, str], expected_type: str
) -> None:
    _, body = load("webhook-push-branch.json")
    assert normalize_gitea(event_headers, body).type == expected_type


def test_normalize_gitea_event_type_header_wins_for_pull_request_sync() -> None:
    _, body = load("webhook-pull_request-synchronized-fork.json")
    event = normalize_gitea(
        {"X-Gitea-Event": "pull_request", "X-Gitea-Event-Type": "pull_request_sync"}, body
    )
    assert (event.type, event.trigger, event.action) == ("pull_request", True, "synchronized")


def test_normalize_gitea_without_delivery_header_has_empty_delivery_id() -> None:
    _, body = load("webhook-push-branch.json")
    assert normalize_gitea({"X-Gitea-Event": "push"}, body).delivery_id == ""
    assert normalize_gitea(
        {"X-Gitea-Event": "push", "X-GitHub-Delivery": "d-1"}, body
    ).delivery_id == ("d-1")


def test_normalize_gitea_push_records_the_previous_revision_except_for_a_new_branch() -> None:
    headers, body = load("webhook-push-branch.json")
    before = json.loads(body)["before"]
    assert normalize_gitea(headers, body).previous_revision == before
    headers, body = load("webhook-push-new-branch.json")
    assert normalize_gitea(headers, body).previous_revision == ""


def test_normalize_gitea_legacy_docs_example() -> None:
    headers = dict(
        line.split(": ", 1)
        for line in (VERBATIM / "docs-webhook-push-example.headers.txt").read_text().splitlines()
        if line.strip()
    )
    body = (VERBATIM / "docs-webhook-push-example.json").read_bytes()

    event = normalize_gitea(headers, body)

    assert event == Event(
        source="gitea",
        type="push",
        trigger=True,
        repository="gitea/webhooks",
        ref="refs/heads/develop",
        branch="develop",
        revision="bffeb74224043ba2feb48d137756c8a9331c449a",
        previous_revision="28e1879d029cb852e4844d9c718537df08844e03",
        repo_url="http://localhost:3000/gitea/webhooks.git",
        delivery_id="f6266f16-1bf3-46a5-9ea4-602e06ead473",
        sender="gitea",
    )


@pytest.mark.parametrize("name", ["webhook-push-branch.json", "webhook-pull_request-opened.json"])
def test_normalize_gitea_form_encoded_equals_json(name: str) -> None:
    headers, body = load(name)
    form_headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    form_body = urlencode({"payload": body.decode()}).encode()
    assert normalize_gitea(form_headers, form_body) == normalize_gitea(headers, body)


@pytest.mark.parametrize(
    ("form_body", "message"),
    [
        (b"", "exactly one 'payload' field, found 0"),
        (b"other=1", "exactly one 'payload' field, found 0"),
        (b"payload=%7B%7D&payload=%7B%7D", "exactly one 'payload' field, found 2"),
        (b"payload=%FF", "form-encoded body cannot be decoded"),
        (b"payload=\xff", "form-encoded body cannot be decoded"),
        (b"payload=%5B%5D", "body must be a JSON object, got array"),
    ],
)
def test_normalize_gitea_rejects_bad_form_bodies(form_body: bytes, message: str) -> None:
    headers = {
        "X-Gitea-Event": "push",
        "content-type": "application/x-www-form-urlencoded; charset=utf-8",
    }
    with pytest.raises(InvalidPayload, match=message):
        normalize_gitea(headers, form_body)


def test_normalize_gitea_sha256_repository() -> None:
    headers, _ = load("webhook-push-branch.json")
    data = body_of("webhook-push-branch.json")
    data["after"] = "ab" * 32
    assert normalize(headers, data).revision == "ab" * 32

    test_delivery = body_of("webhook-push-test-delivery.json")
    test_delivery["before"] = test_delivery["after"] = test_delivery["head_commit"]["id"] = "0" * 64
    event = normalize(headers, test_delivery)
    assert (event.trigger, event.revision) == (False, "")
    assert "Gitea test delivery" in event.ignored_reason


def test_normalize_gitea_fake_commit_alone_marks_test_delivery() -> None:
    headers, _ = load("webhook-push-test-delivery.json")
    data = body_of("webhook-push-test-delivery.json")
    data["before"] = SHA_MAIN
    assert "Gitea test delivery" in normalize(headers, data).ignored_reason


def test_normalize_gitea_branch_push_with_zero_after_is_ref_deleted() -> None:
    headers, _ = load("webhook-push-branch.json")
    data = body_of("webhook-push-branch.json")
    data["after"] = ZERO40
    data["head_commit"] = None
    event = normalize(headers, data)
    assert (event.type, event.trigger, event.branch, event.revision) == ("push", False, "main", "")
    assert event.ignored_reason == "ref deleted (refs/heads/main)"


def test_normalize_gitea_push_to_other_ref_does_not_trigger() -> None:
    headers, _ = load("webhook-push-branch.json")
    data = body_of("webhook-push-branch.json")
    data["ref"] = "refs/notes/commits"
    event = normalize(headers, data)
    assert (event.trigger, event.branch) == (False, "")
    assert "not a branch" in event.ignored_reason


@pytest.mark.parametrize(
    ("action", "merged", "reason"),
    [
        ("closed", False, "pull request closed, not merged"),
        ("edited", False, "pull request action 'edited' does not start runs"),
        ("label_updated", False, "pull request action 'label_updated' does not start runs"),
        ("reopened", False, ""),
    ],
)
def test_normalize_gitea_pull_request_actions(action: str, merged: bool, reason: str) -> None:
    headers, _ = load("webhook-pull_request-opened.json")
    data = body_of("webhook-pull_request-opened.json")
    data["action"] = action
    data["pull_request"]["merged"] = merged
    event = normalize(headers, data)
    assert (event.type, event.action, event.pr_number) == ("pull_request", action, 12)
    assert event.trigger is (reason == "")
    assert reason in event.ignored_reason


def test_normalize_gitea_closed_pull_request_without_head_sha_is_recorded() -> None:
    headers, _ = load("webhook-pull_request-closed-merged.json")
    data = body_of("webhook-pull_request-closed-merged.json")
    data["pull_request"]["head"]["sha"] = ""
    event = normalize(headers, data)
    assert (event.trigger, event.revision, event.pr_number) == (False, "", 12)


def test_normalize_gitea_create_event() -> None:
    headers, _ = load("webhook-delete-branch.json")
    data = body_of("webhook-delete-branch.json")
    data.update(ref="v2.0.0", ref_type="tag", sha=SHA_MAIN)
    event = normalize({**headers, "X-Gitea-Event-Type": "create"}, data)
    assert (event.type, event.trigger, event.ref, event.branch, event.revision) == (
        "create",
        False,
        "refs/tags/v2.0.0",
        "",
        SHA_MAIN,
    )
    assert "tag created (v2.0.0)" in event.ignored_reason


@pytest.mark.parametrize(
    "event_type", ["issues", "pull_request_review_approved", "pull_request_comment", "release"]
)
def test_normalize_gitea_other_events_are_recorded_as_unknown(event_type: str) -> None:
    headers, body = load("webhook-pull_request-opened.json")
    event = normalize_gitea({**headers, "X-Gitea-Event-Type": event_type}, body)
    assert (event.type, event.trigger, event.repository) == ("unknown", False, "alice/demo")
    assert repr(event_type) in event.ignored_reason


def test_normalize_gitea_unknown_event_without_repository() -> None:
    event = normalize_gitea({"X-Gitea-Event": "package"}, b'{"action": "created"}')
    assert (event.type, event.trigger, event.repository) == ("unknown", False, "")


def test_normalize_gitea_refuses_conflicting_duplicate_headers() -> None:
    headers, body = load("webhook-pull_request-opened.json")
    with pytest.raises(InvalidPayload, match="conflicting values for header x-gitea-event-type"):
        normalize_gitea({**headers, "x-gitea-event-type": "issues"}, body)
    same = {**headers, "x-gitea-event-type": headers["X-Gitea-Event-Type"]}
    assert normalize_gitea(same, body) == normalize_gitea(headers, body)


def test_normalize_gitea_requires_an_event_header() -> None:
    _, body = load("webhook-push-branch.json")
    with pytest.raises(InvalidPayload, match="no event header"):
        normalize_gitea({"Content-Type": "application/json", "X-Gitea-Event": " "}, body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "body is empty"),
        (b"{not json", r"body is not valid JSON: .* \(line 1, column 2\)"),
        (b"[1, 2]", "body must be a JSON object, got array"),
        (b'"push"', "body must be a JSON object, got string"),
        (b"null", "body must be a JSON object, got null"),
        (b'{"ref": "\xff"}', r"body is not valid UTF-8 \(byte 9\)"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_normalize_gitea_rejects_undecodable_bodies(body: bytes, message: str) -> None:
    with pytest.raises(InvalidPayload, match=message):
        normalize_gitea({"X-Gitea-Event": "push"}, body)


_DELETE = object()


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        data = data[part]
    if value is _DELETE:
        del data[last]
    else:
        data[last] = value


@pytest.mark.parametrize(
    ("fixture", "path", "value", "message"),
    [
        ("webhook-push-branch.json", "ref", 42, "ref: expected a string, got number"),
        ("webhook-push-branch.json", "ref", "", "ref: must not be empty"),
        ("webhook-push-branch.json", "after", None, r"after: is required \(null\)"),
        ("webhook-push-branch.json", "after", "HEAD", "after: expected a full commit sha"),
        ("webhook-push-branch.json", "after", "abc123", "after: expected a full commit sha"),
        ("webhook-push-branch.json", "before", [], "before: expected a string, got array"),
        ("webhook-push-branch.json", "head_commit", "x", "head_commit: expected an object"),
        ("webhook-push-branch.json", "head_commit.id", 1, "head_commit.id: expected a string"),
        ("webhook-push-branch.json", "repository", _DELETE, r"repository: is required \(missing\)"),
        ("webhook-push-branch.json", "repository", [], "repository: expected an object, got array"),
        (
            "webhook-push-branch.json",
            "repository.full_name",
            _DELETE,
            r"repository.full_name: is required \(missing\)",
        ),
        (
            "webhook-push-branch.json",
            "repository.full_name",
            "../admin",
            'repository.full_name: expected "owner/repo"',
        ),
        (
            "webhook-push-branch.json",
            "repository.full_name",
            "alice/demo/extra",
            'repository.full_name: expected "owner/repo"',
        ),
        ("webhook-push-branch.json", "repository.clone_url", 7, "repository.clone_url: expected"),
        ("webhook-push-branch.json", "sender", "alice", "sender: expected an object"),
        (
            "webhook-pull_request-opened.json",
            "number",
            "12",
            "number: expected an integer, got string",
        ),
        (
            "webhook-pull_request-opened.json",
            "number",
            True,
            "number: expected an integer, got boolean",
        ),
        ("webhook-pull_request-opened.json", "number", 0, "number: expected a positive integer"),
        ("webhook-pull_request-opened.json", "number", 2**63, "number: expected at most"),
        ("webhook-pull_request-opened.json", "action", _DELETE, r"action: is required \(missing\)"),
        ("webhook-pull_request-opened.json", "pull_request", None, r"pull_request: is required"),
        (
            "webhook-pull_request-opened.json",
            "pull_request.head.sha",
            123,
            "pull_request.head.sha: expected a string, got number",
        ),
        (
            "webhook-pull_request-opened.json",
            "pull_request.head.sha",
            "",
            "pull_request.head.sha: expected a full commit sha",
        ),
        (
            "webhook-pull_request-opened.json",
            "pull_request.base.ref",
            {},
            "pull_request.base.ref: expected a string, got object",
        ),
        (
            "webhook-pull_request-opened.json",
            "pull_request.merged",
            "no",
            "pull_request.merged: expected a boolean",
        ),
        ("webhook-delete-branch.json", "ref_type", _DELETE, r"ref_type: is required \(missing\)"),
    ],
)
def test_normalize_gitea_rejects_wrong_fields(
    fixture: str, path: str, value: Any, message: str
) -> None:
    headers, _ = load(fixture)
    data = copy.deepcopy(body_of(fixture))
    _set(data, path, value)
    with pytest.raises(InvalidPayload, match=message) as caught:
        normalize(headers, data)
    assert caught.value.field == path
    assert isinstance(caught.value, PermanentError)


def test_normalize_gitea_tolerates_extra_fields() -> None:
    headers, _ = load("webhook-push-branch.json")
    data = body_of("webhook-push-branch.json")
    data["brand_new_field"] = {"anything": [1, 2]}
    data["repository"]["default_target_branch"] = "dev"
    assert normalize(headers, data) == normalize_gitea(*load("webhook-push-branch.json"))


def test_event_to_dict_round_trips_through_json() -> None:
    event = normalize_gitea(*load("webhook-pull_request-synchronized-fork.json"))
    stored = json.loads(json.dumps(event.to_dict()))
    assert stored["pr_number"] == 13
    assert stored["trigger"] is True
    assert Event.from_dict(stored) == event


def test_event_requires_reason_exactly_when_not_triggering() -> None:
    with pytest.raises(ValueError, match="ignored_reason"):
        Event(source="gitea", type="push", trigger=False)
    with pytest.raises(ValueError, match="ignored_reason"):
        Event(source="gitea", type="push", trigger=True, ignored_reason="why")
