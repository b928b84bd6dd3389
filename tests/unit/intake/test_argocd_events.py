from __future__ import annotations

import json
from typing import Any

import pytest

from controller.intake import InvalidPayload, normalize_argocd
from controller.models.events import Event

SHA = "ea8759964626a583667a2bfd08f334ec2070040a"
SHA_2 = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"


def body(**fields: Any) -> bytes:
    data: dict[str, Any] = {
        "app_name": "user-service-pr-123",
        "revision": SHA,
        "repository": "https://gitea.example.com/shop/user-service.git",
        "status": "Synced",
        "health": "Healthy",
    }
    data.update(fields)
    return json.dumps({k: v for k, v in data.items() if v is not _DROP}).encode()


_DROP = object()


def test_normalize_argocd_synced_healthy_triggers() -> None:
    event = normalize_argocd(body(), delivery_id="argocd-1")
    assert event == Event(
        source="argocd",
        type="sync",
        trigger=True,
        repository="user-service-pr-123",
        revision=SHA,
        repo_url="https://gitea.example.com/shop/user-service.git",
        pr_number=123,
        app_health="Healthy",
        app_sync_status="Synced",
        delivery_id="argocd-1",
    )


@pytest.mark.parametrize(
    ("status", "health", "reason"),
    [
        ("Synced", "Progressing", "app is Synced/Progressing, not Synced/Healthy"),
        ("OutOfSync", "Healthy", "app is OutOfSync/Healthy, not Synced/Healthy"),
        ("Unknown", "Degraded", "app is Unknown/Degraded, not Synced/Healthy"),
        ("synced", "healthy", "app is synced/healthy, not Synced/Healthy"),
        (_DROP, _DROP, "app is (no status)/(no health), not Synced/Healthy"),
    ],
)
def test_normalize_argocd_other_states_are_recorded_not_triggering(
    status: Any, health: Any, reason: str
) -> None:
    event = normalize_argocd(body(status=status, health=health))
    assert (event.type, event.trigger, event.ignored_reason) == ("sync", False, reason)
    assert (event.repository, event.revision) == ("user-service-pr-123", SHA)


def test_normalize_argocd_multi_source_takes_first_revision() -> None:
    event = normalize_argocd(body(revision=_DROP, revisions=[SHA, SHA_2]))
    assert (event.revision, event.revisions, event.trigger) == (SHA, (SHA, SHA_2), True)

    event = normalize_argocd(body(revision="", revisions=["", SHA_2]))
    assert (event.revision, event.revisions) == (SHA_2, ("", SHA_2))

    event = normalize_argocd(body(revision=None, revisions=[SHA, SHA_2]))
    assert event.revision == SHA


def test_normalize_argocd_explicit_revision_wins_over_revisions() -> None:
    event = normalize_argocd(body(revision=SHA_2, revisions=[SHA]))
    assert (event.revision, event.revisions) == (SHA_2, (SHA,))


@pytest.mark.parametrize(
    ("value", "expected"), [(7, 7), ("7", 7), (None, 123), ("", 123), (_DROP, 123)]
)
def test_normalize_argocd_pr_number_from_the_body_else_the_app_name(
    value: Any, expected: int | None
) -> None:
    assert normalize_argocd(body(pr_number=value)).pr_number == expected


@pytest.mark.parametrize(
    ("app_name", "expected"),
    [
        ("user-service", None),
        ("user-service-pr-0", None),
        ("user-service-pr-12x", None),
        ("user-service-pr-", None),
        ("pr-5", None),
        ("a-pr-5", 5),
        ("user-service-pr-9-canary", None),
    ],
)
def test_normalize_argocd_pr_number_needs_a_pr_suffix_on_the_app_name(
    app_name: str, expected: int | None
) -> None:
    assert normalize_argocd(body(app_name=app_name)).pr_number == expected


def test_normalize_argocd_records_optional_fields_and_ignores_unknown_ones() -> None:
    event = normalize_argocd(
        body(namespace="review-pr-123", branch="feature/x", project="previews", labels={"a": "b"})
    )
    assert (event.namespace, event.branch) == ("review-pr-123", "feature/x")
    assert event.to_dict()["namespace"] == "review-pr-123"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"app_name": _DROP}, "app_name", r"is required \(missing\)"),
        ({"app_name": ""}, "app_name", "must not be empty"),
        ({"app_name": 5}, "app_name", "expected a string, got number"),
        ({"revision": _DROP}, "revision", "is required"),
        ({"revision": ""}, "revision", "is required"),
        ({"revision": _DROP, "revisions": []}, "revision", "is required"),
        ({"revision": _DROP, "revisions": [""]}, "revision", "is required"),
        ({"revision": 1}, "revision", "expected a string, got number"),
        ({"revisions": "abc"}, "revisions", "expected an array of strings, got string"),
        ({"revisions": [SHA, 2]}, "revisions[1]", "expected a string, got number"),
        ({"status": True}, "status", "expected a string, got boolean"),
        ({"health": {"status": "Healthy"}}, "health", "expected a string, got object"),
        ({"repository": ["x"]}, "repository", "expected a string, got array"),
        ({"namespace": 1}, "namespace", "expected a string"),
        ({"pr_number": "12a"}, "pr_number", "expected an integer or a numeric string"),
        ({"pr_number": 1.5}, "pr_number", "expected an integer or a numeric string"),
        ({"pr_number": True}, "pr_number", "expected an integer or a numeric string"),
        ({"pr_number": -3}, "pr_number", "expected a positive integer"),
        ({"pr_number": 2**63}, "pr_number", "expected at most 9223372036854775807"),
    ],
)
def test_normalize_argocd_rejects_wrong_fields(
    fields: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidPayload, match=message) as caught:
        normalize_argocd(body(**fields))
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "body is empty"),
        (b"app_name=x", "body is not valid JSON"),
        (b'[{"app_name": "x"}]', "body must be a JSON object, got array"),
        (b'{"app_name": "\xe9"}', "body is not valid UTF-8"),
    ],
)
def test_normalize_argocd_rejects_undecodable_bodies(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidPayload, match=message):
        normalize_argocd(raw)
