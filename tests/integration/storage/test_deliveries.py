"""Deliveries: recorded once per delivery id and per triggering event, even concurrently."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from controller.errors import NotFound, StorageError
from controller.models.deliveries import RecordedDelivery, semantic_key
from controller.models.events import Event
from controller.storage import Storage
from tests.support.events import PUSH, SYNC

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
BODY = b'{"ref": "refs/heads/main", "after": "aaaa"}'


async def _record(
    storage: Storage,
    event: Event = PUSH,
    *,
    delivery_id: str | None = None,
    body: bytes = BODY,
    received_at: datetime = T0,
    workspace: str = "shop",
) -> RecordedDelivery:
    return await storage.record_delivery(
        source=event.source,
        delivery_id=event.delivery_id if delivery_id is None else delivery_id,
        integration=f"{event.source}-main",
        workspace=workspace,
        event=event,
        body=body,
        received_at=received_at,
    )


def _ignored(delivery_id: str) -> Event:
    return Event(
        source="gitea",
        type="delete",
        trigger=False,
        ignored_reason="a deleted ref starts nothing",
        repository="shop/checkout",
        ref="refs/heads/feature",
        delivery_id=delivery_id,
    )


async def test_record_delivery_inserts_first_delivery(storage: Storage) -> None:
    recorded = await _record(storage)

    assert recorded.duplicate is False
    delivery = recorded.delivery
    assert delivery.source == "gitea"
    assert delivery.delivery_id == "d-1"
    assert delivery.semantic_key == semantic_key(PUSH)
    assert delivery.integration == "gitea-main"
    assert delivery.workspace == "shop"
    assert delivery.event == PUSH
    assert delivery.raw_body == BODY
    assert delivery.body == BODY.decode()
    assert delivery.received_at == T0
    assert await storage.get_delivery(delivery.id) == delivery
    assert await storage.recent_deliveries() == [delivery]


async def test_record_delivery_same_delivery_id_is_a_duplicate(storage: Storage) -> None:
    first = await _record(storage)
    again = await _record(storage, received_at=T0 + timedelta(minutes=1), body=b"{}")

    assert again.duplicate is True
    assert again.delivery == first.delivery
    assert len(await storage.recent_deliveries()) == 1


async def test_record_delivery_same_delivery_id_of_an_ignored_event_is_a_duplicate(
    storage: Storage,
) -> None:
    first = await _record(storage, _ignored("d-9"))
    again = await _record(storage, _ignored("d-9"))

    assert first.delivery.semantic_key is None
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.delivery.id == first.delivery.id


async def test_record_delivery_replay_under_a_new_id_is_a_duplicate(storage: Storage) -> None:
    first = await _record(storage)
    replay = await _record(storage, dataclasses.replace(PUSH, delivery_id="d-2"))

    assert replay.duplicate is True
    assert replay.delivery == first.delivery
    assert len(await storage.recent_deliveries()) == 1


async def test_record_delivery_ignored_events_never_collide(storage: Storage) -> None:
    one = await _record(storage, _ignored("d-1"))
    two = await _record(storage, _ignored("d-2"))

    assert (one.duplicate, two.duplicate) == (False, False)
    assert one.delivery.id != two.delivery.id
    assert len(await storage.recent_deliveries()) == 2


async def test_record_delivery_without_id_deduplicates_on_the_event(storage: Storage) -> None:
    first = await _record(storage, SYNC)
    again = await _record(storage, SYNC, received_at=T0 + timedelta(seconds=30))

    assert first.delivery.delivery_id == ""
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.delivery == first.delivery
    assert len(await storage.recent_deliveries()) == 1


async def test_record_delivery_without_id_of_ignored_events_keeps_each(storage: Storage) -> None:
    degraded = dataclasses.replace(SYNC, trigger=False, ignored_reason="app is Degraded")
    one = await _record(storage, degraded)
    two = await _record(storage, degraded)

    assert (one.duplicate, two.duplicate) == (False, False)
    assert len(await storage.recent_deliveries()) == 2


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(dataclasses.replace(PUSH, revision="c" * 40, delivery_id="d-2"), id="rev"),
        pytest.param(dataclasses.replace(PUSH, ref="refs/heads/rel", delivery_id="d-2"), id="ref"),
        pytest.param(dataclasses.replace(SYNC, repository="shop/checkout"), id="source"),
    ],
)
async def test_record_delivery_another_event_is_new(storage: Storage, other: Event) -> None:
    first = await _record(storage)
    second = await _record(storage, other)

    assert second.duplicate is False
    assert second.delivery.id != first.delivery.id
    assert len(await storage.recent_deliveries()) == 2


async def test_record_delivery_same_id_from_another_source_is_new(storage: Storage) -> None:
    await _record(storage, SYNC, delivery_id="d-1")
    second = await _record(storage)

    assert second.duplicate is False


async def test_record_delivery_same_event_in_another_workspace_is_new(storage: Storage) -> None:
    first = await _record(storage)
    other = await _record(
        storage, dataclasses.replace(PUSH, delivery_id="d-2"), workspace="billing"
    )

    assert other.duplicate is False
    assert other.delivery.id != first.delivery.id


async def _record_concurrently(instances: list[Storage]) -> list[RecordedDelivery]:
    # A retried delivery (same id) and a replay (new id) racing the original.
    events = [PUSH, PUSH, dataclasses.replace(PUSH, delivery_id="d-2")]
    return await asyncio.gather(
        *(_record(instances[n % len(instances)], events[n % len(events)]) for n in range(10))
    )


def _assert_one_recorded(results: list[RecordedDelivery]) -> None:
    assert len(results) == 10
    assert [r.duplicate for r in results].count(False) == 1
    assert len({r.delivery.id for r in results}) == 1


async def test_record_delivery_concurrently_records_once(storage: Storage) -> None:
    results = await _record_concurrently([storage])

    _assert_one_recorded(results)
    assert [d.id for d in await storage.recent_deliveries()] == [results[0].delivery.id]


async def test_record_delivery_from_two_instances_records_once(
    storage: Storage, database_url: str
) -> None:
    async with await Storage.open(database_url) as other:
        results = await _record_concurrently([storage, other])
        assert await other.recent_deliveries() == await storage.recent_deliveries()

    _assert_one_recorded(results)
    assert len(await storage.recent_deliveries()) == 1


async def test_record_delivery_round_trips_any_body_bytes(storage: Storage) -> None:
    bodies = [
        b"",
        b"\x00\x01 nul and control bytes",
        b"\xff\xfe not UTF-8 \xc3",
        "ünïcode — emoji 🚀 ".encode(),
        b"payload=%7B%22ref%22%3A%22x%22%7D",
    ]
    ids = [
        (await _record(storage, _ignored(f"d-{n}"), body=body)).delivery.id
        for n, body in enumerate(bodies)
    ]

    for delivery_id, body in zip(ids, bodies, strict=True):
        stored = await storage.get_delivery(delivery_id)
        assert stored.raw_body == body
        assert stored.body == body.decode("utf-8", "surrogateescape")


async def test_record_delivery_round_trips_the_event(storage: Storage) -> None:
    await _record(storage, SYNC)
    pr = Event(
        source="gitea",
        type="pull_request",
        trigger=True,
        action="synchronized",
        repository="shop/checkout",
        branch="main",
        head_branch="feature/ü",
        revision="d" * 40,
        pr_number=12,
        delivery_id="d-pr",
        sender="bob",
    )
    await _record(storage, pr, received_at=T0 + timedelta(seconds=1))

    assert [d.event for d in await storage.recent_deliveries()] == [pr, SYNC]


async def test_get_delivery_of_a_missing_id_raises_not_found(storage: Storage) -> None:
    with pytest.raises(NotFound, match="delivery 4242"):
        await storage.get_delivery(4242)


async def test_record_delivery_rejects_naive_datetimes_and_bad_values(storage: Storage) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await _record(storage, received_at=datetime(2026, 1, 1))
    with pytest.raises(StorageError, match="delivery_id must be"):
        await _record(storage, delivery_id="x" * 201)
    with pytest.raises(StorageError, match="workspace must be"):
        await _record(storage, workspace="w" * 254)
    assert await storage.recent_deliveries() == []


async def test_record_delivery_stores_aware_utc(storage: Storage) -> None:
    received_at = datetime(2026, 6, 1, 14, 30, 0, 500, tzinfo=timezone(timedelta(hours=2)))
    recorded = await _record(storage, received_at=received_at)

    stored = await storage.get_delivery(recorded.delivery.id)
    assert stored.received_at.tzinfo is UTC
    assert stored.received_at == received_at
    assert stored.received_at.hour == 12


async def test_recent_deliveries_lists_last_recorded_first_with_limit_and_paging(
    storage: Storage,
) -> None:
    for n in range(5):
        await _record(storage, _ignored(f"d-{n}"), received_at=T0 + timedelta(minutes=n))
    await _record(storage, _ignored("tie"), received_at=T0 + timedelta(minutes=4))
    # Recorded last, with an earlier clock: the order is the recording order, so that paging
    # by id (``before``) is stable whatever the clocks of several replicas say.
    await _record(storage, _ignored("early"), received_at=T0 - timedelta(hours=1))

    listed = await storage.recent_deliveries()
    assert [d.delivery_id for d in listed] == ["early", "tie", "d-4", "d-3", "d-2", "d-1", "d-0"]
    assert [d.delivery_id for d in await storage.recent_deliveries(limit=2)] == ["early", "tie"]
    page = await storage.recent_deliveries(limit=2, before=listed[1].id)
    assert [d.delivery_id for d in page] == ["d-4", "d-3"]
    assert await storage.recent_deliveries(source="argocd") == []
    assert len(await storage.recent_deliveries(source="gitea", workspace="shop")) == 7
    assert await storage.recent_deliveries(workspace="other") == []
    with pytest.raises(ValueError, match="limit"):
        await storage.recent_deliveries(limit=0)
    with pytest.raises(ValueError, match="limit"):
        await storage.recent_deliveries(limit=1001)


async def test_record_delivery_concurrent_keyless_deliveries_get_their_own_rows(
    storage: Storage,
) -> None:
    """Argo CD events that start nothing carry neither a delivery id nor an event key; a
    batch of them must still hand every caller the id of its own row."""
    degraded = dataclasses.replace(
        SYNC, trigger=False, ignored_reason="app is Synced/Degraded", app_health="Degraded"
    )
    bodies = [f'{{"n": {n}}}'.encode() for n in range(12)]
    recorded = await asyncio.gather(
        *(_record(storage, degraded, delivery_id="", body=body) for body in bodies)
    )
    assert len({r.delivery.id for r in recorded}) == len(bodies)
    for body, result in zip(bodies, recorded, strict=True):
        assert result.duplicate is False
        assert (await storage.get_delivery(result.delivery.id)).raw_body == body


async def test_record_delivery_argocd_rollback_is_a_new_sync_and_repeats_are_not(
    storage: Storage,
) -> None:
    a, b = "a" * 40, "b" * 40
    outcomes = []
    for revision in (a, a, b, a, a):
        recorded = await _record(storage, dataclasses.replace(SYNC, revision=revision))
        outcomes.append((revision[0], recorded.duplicate))
    assert outcomes == [("a", False), ("a", True), ("b", False), ("a", False), ("a", True)]
    stored = await storage.recent_deliveries()
    assert [d.event.previous_revision for d in stored] == [b, a, ""]


async def test_record_delivery_argocd_rollback_within_one_batch(storage: Storage) -> None:
    a, b = "a" * 40, "b" * 40
    revisions = (a, b, a, a, b)
    recorded = await asyncio.gather(
        *(_record(storage, dataclasses.replace(SYNC, revision=r)) for r in revisions)
    )
    assert [r.duplicate for r in recorded] == [False, False, False, True, False]
    assert recorded[3].delivery.id == recorded[2].delivery.id
    assert len(await storage.recent_deliveries()) == 4
