"""Three ``meshgate serve`` replicas on one PostgreSQL, one of them killed with SIGKILL while
runs are in flight and started again: still one run per distinct delivery, every run final,
every final status on the fake Gitea and agreeing with its run, every preview Application
created once and deleted when its pull request closes.

Deliveries go to the replicas in turn, as a Service would spread them; one a replica cannot
take (it is dead, or died mid-answer) goes to the next one, as a client retry would. Leases
are 3 s, so the killed replica's runs are taken over within seconds."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from controller.statuses.run_statuses import FINAL_STATES
from tests.acceptance.helpers import (
    WEBHOOK_ENVIRON,
    copy_example_for_webhooks,
    point_argocd_at,
    point_gitea_at,
    point_routes_at,
)
from tests.integration.storage.conftest import postgres_base_url, postgres_schema
from tests.support.fake_argocd import FakeArgoCD
from tests.support.fake_gitea import FakeGitea
from tests.support.replicas import Replica
from tests.support.server import serving
from tests.support.shop import ShopState, running_shop
from tests.support.waiting import eventually
from tests.support.webhooks import (
    ARGOCD_HEADERS,
    FIXTURES,
    argocd_body,
    closed_pull_request,
    signed,
)

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.postgres,
    pytest.mark.skipif(postgres_base_url() is None, reason="MESHGATE_TEST_DATABASE_URL is not set"),
]
ARGOCD_API_TOKEN = "argocd-api-token-for-the-chaos-test"
GITEA_TOKEN = "gitea-token-for-the-chaos-test"
SHOP_API_KEY = "shop-api-key-for-the-chaos-test"
PUSHES = 150
PREVIEWS = 20
SYNCS_PER_PREVIEW = 3
PUSH_REPLAYS = 50
SYNC_REPEATS = 20
RUNNERS_PER_REPLICA = 4
STATUS_POSTERS_PER_REPLICA = 4


@dataclass(frozen=True)
class Delivery:
    path: str
    body: bytes
    headers: dict[str, str]


def push(n: int) -> Delivery:
    body = json.loads((FIXTURES / "webhook-push-branch.json").read_text())
    sha = f"{n:08x}" * 5
    body["after"] = sha
    body["ref"] = f"refs/heads/feature-{n}"
    body["head_commit"] = {**body["head_commit"], "id": sha}
    body["commits"] = [{**body["commits"][0], "id": sha}]
    body["repository"].update(full_name="shop/user-service", name="user-service")
    body["repository"]["owner"] = {**body["repository"]["owner"], "login": "shop"}
    raw = json.dumps(body).encode()
    return Delivery("/api/v1/webhooks/gitea", raw, signed(raw, "push"))


def sync(gitea_url: str, preview: int, revision: int) -> Delivery:
    sha = f"{preview:04x}{revision:04x}" * 5
    raw = argocd_body(
        f"user-service-pr-{preview}", sha, repository=f"{gitea_url}/shop/user-service.git"
    )
    return Delivery("/api/v1/webhooks/argocd", raw, ARGOCD_HEADERS)


def close(preview: int) -> Delivery:
    raw, headers = closed_pull_request("shop/user-service", preview)
    return Delivery("/api/v1/webhooks/gitea", raw, headers)


class Cluster:
    """The replicas and a client for each; ``deliver`` is the load balancer."""

    def __init__(self, replicas: list[Replica]) -> None:
        self.replicas = replicas
        self._clients = [
            httpx.AsyncClient(base_url=r.base_url, timeout=httpx.Timeout(10, connect=2))
            for r in replicas
        ]
        self._turn = 0
        self.answers: Counter[int] = Counter()

    async def deliver(self, delivery: Delivery) -> None:
        self._turn += 1
        for attempt in range(30):
            client = self._clients[(self._turn + attempt) % len(self._clients)]
            try:
                answer = await client.post(
                    delivery.path, content=delivery.body, headers=delivery.headers
                )
            except httpx.TransportError:
                await asyncio.sleep(0.05)
                continue
            if answer.status_code in (200, 202):
                self.answers[answer.status_code] += 1
                return
            assert answer.status_code == 503, answer.text
        raise AssertionError(f"no replica took {delivery.path}")

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()


@dataclass
class Stack:
    cluster: Cluster
    gitea: FakeGitea
    argocd: FakeArgoCD
    gitea_url: str
    database: AsyncEngine

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.database.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())


async def start_cluster(
    tmp_path: Path, database_url: str, gitea_url: str, argocd_url: str, routes: dict[str, str]
) -> list[Replica]:
    config = copy_example_for_webhooks(tmp_path / "config")
    point_gitea_at(config, gitea_url)
    point_argocd_at(config, argocd_url)
    rules = config / "rules" / "gitea.yaml"
    rules.write_text(rules.read_text().replace("branch_filter: main", 'branch_filter: "*"', 1))
    for template in ("pr-preview", "staging"):
        point_routes_at(config / "environments" / f"{template}.yaml", routes)
    environ = {
        **WEBHOOK_ENVIRON,
        "ARGOCD_TOKEN": ARGOCD_API_TOKEN,
        "GITEA_TOKEN": GITEA_TOKEN,
        "SHOP_API_KEY": SHOP_API_KEY,
        "MESHGATE_CONFIG_REPO": str(config),
        "MESHGATE_DATABASE_URL": database_url,
        "MESHGATE_PUBLIC_URL": "http://meshgate.test",
        "MESHGATE_LEASE": "3s",
        "MESHGATE_RUNNER_CONCURRENCY": str(RUNNERS_PER_REPLICA),
        "MESHGATE_STATUS_CONCURRENCY": str(STATUS_POSTERS_PER_REPLICA),
        "MESHGATE_ENVIRONMENT_BUDGET": "0",
        "MESHGATE_ENVIRONMENT_SWEEP_INTERVAL": "1s",
        "MESHGATE_SHUTDOWN_GRACE": "2s",
        "MESHGATE_LOG_LEVEL": "warning",
    }
    replicas = [
        Replica(name=f"replica-{n}", environ=environ, workdir=tmp_path / f"replica-{n}")
        for n in range(3)
    ]
    for replica in replicas:
        replica.start()
    await asyncio.gather(*(replica.ready(within=60) for replica in replicas))
    return replicas


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    base_url = postgres_base_url()
    assert base_url is not None
    gitea = FakeGitea(token=GITEA_TOKEN, repositories={"shop/user-service"})
    argocd = FakeArgoCD(token=ARGOCD_API_TOKEN)
    async with (
        postgres_schema(base_url) as database_url,
        serving(gitea) as gitea_url,
        serving(argocd) as argocd_url,
        running_shop(ShopState(api_key=SHOP_API_KEY)) as routes,
    ):
        replicas = await start_cluster(tmp_path, database_url, gitea_url, argocd_url, routes)
        cluster = Cluster(replicas)
        database = create_async_engine(database_url, poolclass=NullPool)
        try:
            yield Stack(cluster, gitea, argocd, gitea_url, database)
        finally:
            await cluster.aclose()
            await database.dispose()
            for replica in replicas:
                replica.stop()
    assert gitea.violations == []
    assert argocd.violations == []


async def send_all(cluster: Cluster, sequences: list[list[Delivery]], *, senders: int = 6) -> None:
    """Each sequence in its order (one sender), the sequences side by side."""
    pending = iter(sequences)

    async def sender() -> None:
        for sequence in pending:
            for delivery in sequence:
                await cluster.deliver(delivery)

    await asyncio.gather(*(sender() for _ in range(senders)))


async def test_killing_a_replica_mid_flight_loses_and_doubles_nothing(stack: Stack) -> None:
    """Pushes come alone, each to a branch of its own (so none supersedes another, and the
    killed replica's push runs must be taken over); a replay resends one later, delivery id
    and all. Each preview's syncs come in order and supersede each other, some notified
    twice in a row (Argo CD repeats itself; a revision synced again after another one would
    be a redeploy, and a run of its own)."""
    shuffler = random.Random(8)
    pushes = [push(n) for n in range(1, PUSHES + 1)]
    sequences = [[delivery] for delivery in pushes]
    sequences += [[delivery] for delivery in shuffler.sample(pushes, PUSH_REPLAYS)]
    repeated = set(shuffler.sample(range(PREVIEWS * SYNCS_PER_PREVIEW), SYNC_REPEATS))
    syncs = 0
    for preview in range(1, PREVIEWS + 1):
        sequence = []
        for revision in range(1, SYNCS_PER_PREVIEW + 1):
            delivery = sync(stack.gitea_url, preview, revision)
            sequence += [delivery, delivery] if syncs in repeated else [delivery]
            syncs += 1
        sequences.append(sequence)
    shuffler.shuffle(sequences)
    sent = sum(len(sequence) for sequence in sequences)
    before_restart, after_restart = sequences[:120], sequences[120:]
    victim = stack.cluster.replicas[1]

    sending = asyncio.create_task(send_all(stack.cluster, before_restart))
    running_on_victim = await eventually(
        lambda: stack.rows(
            "SELECT id FROM runs WHERE state = 'running' AND lease_owner LIKE :owner",
            owner=f"%:{victim.pid}:%",
        ),
        until=lambda running: len(running) >= 3 and sum(stack.cluster.answers.values()) >= 60,
        within=60,
        interval=0.02,
        what="runs in flight on the replica to kill",
    )
    killed_pid = victim.pid
    victim.kill()
    (posts_leased_by_victim,) = await stack.rows(
        "SELECT count(*) FROM commit_statuses WHERE lease_owner LIKE :owner",
        owner=f"%:{victim.pid}:%",
    )
    await sending
    victim.start()
    await victim.ready(within=60)
    await send_all(stack.cluster, after_restart)

    distinct = PUSHES + syncs
    assert stack.cluster.answers[202] + stack.cluster.answers[200] == sent
    assert stack.cluster.answers[200] >= PUSH_REPLAYS + SYNC_REPEATS  # the duplicates
    await eventually(
        lambda: stack.rows("SELECT state, count(*) FROM runs GROUP BY state"),
        until=lambda states: all(state in FINAL_STATES for state, _ in states),
        within=90,
        what="every run final",
    )
    errors = await stack.rows("SELECT id, attempt, message FROM runs WHERE state = 'error'")
    assert all("interrupted" in message for _, _, message in errors), errors
    per_delivery = await stack.rows(
        "SELECT d.id, count(r.id) FROM deliveries d LEFT JOIN runs r "
        "ON r.delivery_id = d.id GROUP BY d.id"
    )
    assert len(per_delivery) == distinct
    assert Counter(n for _, n in per_delivery) == Counter({1: distinct})

    taken_over = await stack.rows(
        "SELECT id, state, attempt FROM runs WHERE id = ANY(:ids)",
        ids=[run_id for (run_id,) in running_on_victim],
    )
    for run_id, state, attempt in taken_over:
        assert state == "superseded" or attempt >= 2, (run_id, state, attempt)
    assert any(attempt >= 2 for _, _, attempt in taken_over), taken_over
    first_attempts = await stack.rows(
        "SELECT owner, outcome FROM run_attempts WHERE attempt = 1 AND run_id = ANY(:ids)",
        ids=[run_id for run_id, _, attempt in taken_over if attempt >= 2],
    )
    assert first_attempts
    for owner, outcome in first_attempts:
        assert f":{killed_pid}:" in owner, owner
        assert outcome == "interrupted"

    await assert_statuses_match_runs(stack, could_double=posts_leased_by_victim[0])
    await send_all(stack.cluster, [[close(preview)] for preview in range(1, PREVIEWS + 1)])
    await eventually(
        lambda: stack.rows("SELECT state, count(*) FROM environments GROUP BY state"),
        until=lambda states: states == [("deleted", PREVIEWS)],
        within=60,
        what="every preview torn down",
    )
    assert stack.argocd.apps == {}
    assert Counter(stack.argocd.creations) == Counter(
        {f"user-service-pr-{preview}": 1 for preview in range(1, PREVIEWS + 1)}
    )


async def assert_statuses_match_runs(stack: Stack, *, could_double: int) -> None:
    """The latest status of each run's commit and context is its run's final state, and
    nothing contradicts it. A final state is posted twice only if the killed replica held
    its post (``could_double`` of them), between Gitea's answer and recording it; then it
    is the same state both times."""
    runs = await stack.rows("SELECT status_sha, status_context, state FROM runs")
    expected = {(sha, context): FINAL_STATES[state] for sha, context, state in runs}

    def latest() -> dict[tuple[str, str], str | None]:
        found = {}
        for sha, context in expected:
            status = stack.gitea.latest("shop/user-service", sha, context)
            found[(sha, context)] = status["status"] if status else None
        return found

    async def probe() -> dict[tuple[str, str], str | None]:
        return latest()

    await eventually(probe, until=lambda found: found == expected, within=60, what="statuses")
    for (sha, context), state in expected.items():
        finals = [
            s for s in stack.gitea.statuses_of("shop/user-service", sha, context) if s != "pending"
        ]
        assert set(finals) == {state}, (sha, context, finals)
    doubled = sum(
        len([s for s in stack.gitea.statuses_of("shop/user-service", sha, ctx) if s != "pending"])
        - 1
        for sha, ctx in expected
    )
    assert doubled <= could_double, (doubled, could_double)
