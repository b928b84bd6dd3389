"""Runs: queued with their delivery in one transaction, superseded within a lane, listed."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from controller.errors import NotFound, StorageError
from controller.models.events import Event
from controller.models.matching import MatchReport
from controller.models.runs import RunRequest
from controller.storage import Storage
from tests.support.events import PUSH

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REQUEST = RunRequest(
    workspace="shop",
    suite="smoke",
    config_revision="rev-1",
    trigger_type="webhook",
    rule="push-main",
    integration="gitea",
    trigger_ref="a" * 40,
    repository="shop/checkout",
    branch="main",
    status_context="meshgate/smoke",
    template="staging",
    lane="ref:shop/checkout:refs/heads/main",
)
REPORT = MatchReport(
    config_revision="rev-1", workspace="shop", integration="gitea", summary="1 of 1 rule matched"
)


async def _deliver(
    storage: Storage, event: Event, *runs: RunRequest, at: datetime = T0
) -> tuple[int, list[int]]:
    recorded = await storage.record_delivery(
        source=event.source,
        delivery_id=event.delivery_id,
        integration="gitea",
        workspace="shop",
        event=event,
        body=b"{}",
        received_at=at,
        match=REPORT,
        runs=runs,
    )
    return recorded.delivery.id, [run.id for run in recorded.runs]


def _push(n: int) -> Event:
    return dataclasses.replace(PUSH, revision=f"{n:040x}", delivery_id=f"d-{n}")


async def test_record_delivery_queues_its_runs_and_keeps_its_decisions(storage: Storage) -> None:
    other = dataclasses.replace(REQUEST, rule="push-any", lane="ref:any")
    delivery, (first, second) = await _deliver(storage, _push(1), REQUEST, other)

    run = await storage.get_run(first)
    assert run.state == "queued"
    assert run.delivery == delivery
    assert run.request == REQUEST
    assert (run.created_at, run.updated_at) == (T0, T0)
    assert [r.id for r in await storage.list_runs(delivery=delivery)] == [second, first]
    stored = await storage.get_delivery(delivery)
    assert stored.match == REPORT
    assert stored.config_revision == "rev-1"


async def test_record_delivery_duplicate_queues_nothing(storage: Storage) -> None:
    await _deliver(storage, _push(1), REQUEST)
    again = await storage.record_delivery(
        source="gitea",
        delivery_id="d-1",
        integration="gitea",
        workspace="shop",
        event=_push(1),
        body=b"{}",
        received_at=T0,
        match=REPORT,
        runs=[REQUEST],
    )
    assert again.duplicate is True
    assert again.runs == ()
    assert len(await storage.list_runs()) == 1


async def test_record_delivery_with_a_bad_run_stores_neither(storage: Storage) -> None:
    bad = dataclasses.replace(REQUEST, context="x" * 201)
    with pytest.raises(StorageError, match="context"):
        await _deliver(storage, _push(1), REQUEST, bad)
    assert await storage.recent_deliveries() == []
    assert await storage.list_runs() == []


async def test_queue_run_supersedes_older_queued_runs_of_the_same_lane_only(
    storage: Storage,
) -> None:
    _, (old,) = await _deliver(storage, _push(1), REQUEST)
    _, (other_lane,) = await _deliver(
        storage, _push(2), dataclasses.replace(REQUEST, lane="ref:shop/checkout:refs/heads/dev")
    )
    _, (other_rule,) = await _deliver(
        storage, _push(3), dataclasses.replace(REQUEST, rule="another")
    )
    _, (new,) = await _deliver(storage, _push(4), REQUEST, at=T0 + timedelta(minutes=1))

    superseded = await storage.get_run(old)
    assert (superseded.state, superseded.superseded_by) == ("superseded", new)
    assert superseded.updated_at == T0 + timedelta(minutes=1)
    for untouched in (other_lane, other_rule, new):
        assert (await storage.get_run(untouched)).state == "queued"


async def test_queue_run_manual_runs_have_no_delivery_and_never_supersede(
    storage: Storage,
) -> None:
    _, (queued,) = await _deliver(storage, _push(1), REQUEST)
    manual = RunRequest(
        workspace="shop",
        suite="smoke",
        config_revision="rev-1",
        trigger_type="manual",
        context="pr-7",
        parameters={"users": 3},
        routes={"user-service": "http://127.0.0.1:8080"},
    )
    run = await storage.queue_run(manual, at=T0)

    assert (run.delivery, run.state, run.request) == (None, "queued", manual)
    assert run.to_dict()["trigger_ref"] is None
    assert run.to_dict()["parameters"] == {"users": 3}
    assert (await storage.get_run(queued)).state == "queued"


async def test_list_runs_filters_and_pages_newest_first(storage: Storage) -> None:
    ids = []
    for n in range(5):
        lane = f"lane-{n}"
        suite = "smoke" if n % 2 == 0 else "contract"
        request = dataclasses.replace(REQUEST, lane=lane, suite=suite)
        ids.extend((await _deliver(storage, _push(n), request))[1])

    assert [r.id for r in await storage.list_runs()] == ids[::-1]
    assert [r.id for r in await storage.list_runs(suite="contract")] == [ids[3], ids[1]]
    assert [r.id for r in await storage.list_runs(limit=2, before=ids[3])] == [ids[2], ids[1]]
    assert await storage.list_runs(workspace="other") == []
    assert len(await storage.list_runs(state="queued", trigger_type="webhook")) == 5
    assert await storage.list_runs(repository="shop/else") == []
    with pytest.raises(ValueError, match="limit"):
        await storage.list_runs(limit=0)


async def test_get_run_unknown_is_not_found(storage: Storage) -> None:
    with pytest.raises(NotFound):
        await storage.get_run(12345)


async def test_record_delivery_concurrent_copies_queue_one_run(storage: Storage) -> None:
    results = await asyncio.gather(*(_deliver(storage, _push(1), REQUEST) for _ in range(10)))
    assert sorted(len(runs) for _, runs in results) == [0] * 9 + [1]
    assert len(await storage.list_runs()) == 1


async def test_record_delivery_concurrent_batch_mixes_new_repeats_and_a_bad_one(
    storage: Storage,
) -> None:
    bad = dataclasses.replace(REQUEST, rule="bad", context="x" * 201)
    calls = [
        _deliver(storage, _push(n), dataclasses.replace(REQUEST, lane=f"l{n}")) for n in range(20)
    ]
    calls += [_deliver(storage, _push(n), REQUEST) for n in range(5)]  # repeats of 0..4
    calls.append(_deliver(storage, _push(99), REQUEST, bad))
    results = await asyncio.gather(*calls, return_exceptions=True)

    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 1
    assert isinstance(failures[0], StorageError)
    assert len(await storage.recent_deliveries(limit=100)) == 20
    assert len(await storage.list_runs(limit=100)) == 20
    delivered = [r for r in results if not isinstance(r, BaseException)]
    ids = [delivery for delivery, _ in delivered]
    assert sorted(set(ids)) == sorted(ids[:20])
