"""semantic_key: replays share a key, distinct events do not, ignored events have none."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from controller.models.deliveries import Delivery, semantic_key
from tests.support.events import PUSH, SYNC


def test_semantic_key_is_stable_and_fixed_width() -> None:
    key = semantic_key(PUSH)
    assert key is not None
    assert key == semantic_key(PUSH)
    assert len(key) == 64
    assert key == semantic_key(dataclasses.replace(PUSH))


def test_semantic_key_ignores_delivery_id_and_incidental_fields() -> None:
    replay = dataclasses.replace(PUSH, delivery_id="d-2", sender="bob", repo_url="https://x")
    assert semantic_key(replay) == semantic_key(PUSH)
    repeated_notification = dataclasses.replace(SYNC, namespace="shop")
    assert semantic_key(repeated_notification) == semantic_key(SYNC)


@pytest.mark.parametrize(
    "change",
    [
        {"source": "argocd"},
        {"repository": "shop/other"},
        {"revision": "c" * 40},
        {"type": "create"},
        {"action": "opened"},
        {"ref": "refs/heads/release"},
        {"pr_number": 7},
        {"previous_revision": "d" * 40},  # a rollback re-push of the same commit
    ],
)
def test_semantic_key_differs_when_the_event_differs(change: dict[str, Any]) -> None:
    assert semantic_key(dataclasses.replace(PUSH, **change)) != semantic_key(PUSH)


def test_semantic_key_fields_cannot_run_into_each_other() -> None:
    one = dataclasses.replace(PUSH, repository="shop/a", revision="bc")
    other = dataclasses.replace(PUSH, repository="shop/ab", revision="c")
    assert semantic_key(one) != semantic_key(other)


def test_semantic_key_is_none_for_ignored_events() -> None:
    ignored = dataclasses.replace(PUSH, trigger=False, ignored_reason="branch deleted")
    assert semantic_key(ignored) is None
    assert semantic_key(dataclasses.replace(SYNC, trigger=False, ignored_reason="x")) is None


def test_delivery_raw_body_restores_any_bytes() -> None:
    raw = b'{"a": "\xff\xfe\x00 \xc3\xa9"}'
    delivery = Delivery(
        id=1,
        source="gitea",
        delivery_id="d-1",
        semantic_key=semantic_key(PUSH),
        integration="gitea-main",
        workspace="shop",
        event=PUSH,
        body=raw.decode("utf-8", "surrogateescape"),
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert delivery.raw_body == raw
