"""Replicas on PostgreSQL (issue 8): claiming queued runs, and intake, with 1 and 3 replicas.

Two measures, each against its bare stack in the same run:

claims
    ``--runs`` queued runs, claimed and finished by 1 worker process, then (queue refilled)
    by 3 at once, each on its own ``Storage`` (its own engine and pool, as replicas are):
    ``claim_run`` (expired leases, the lane check, ``FOR UPDATE SKIP LOCKED``, the claim)
    then ``finish_run``. The bare stack is the textbook queue on the same server: a table
    of ids and a state, ``SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1`` then ``UPDATE`` in one
    transaction, through psycopg directly, with 1 and 3 processes. Afterwards every run must
    be ``passed`` at attempt 1 (claimed once).
intake
    ``meshgate serve`` replicas on one PostgreSQL (runner and poster off) loaded with unique
    signed 4 KB pushes at concurrency 32 (``bench/intake.py``'s load generator): first one
    replica, then three sharing the 32 connections. Every 202 must have its row.

On a 2-core machine three replicas, PostgreSQL and the load generator share two cores, so
the 3-replica figures show contention, not scale.

    .venv/bin/python bench/replicas.py [--runs 2000] [--seconds 10] [--rules 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import intake  # bench/intake.py: config, signed requests, the load generator, servers
from intake_servers import HOST
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from controller.models.runs import RunRequest
from controller.storage import Storage

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REQUEST = RunRequest(workspace="bench", suite="smoke", config_revision="r", trigger_type="manual")
LEASE = timedelta(seconds=60)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("MESHGATE_BENCH_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--worker", choices=["claims", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        return asyncio.run(_worker(args.worker, args.url))
    print("== claims: queued runs claimed and finished ==")
    asyncio.run(_claims(args))
    print("\n== intake: signed pushes through 1, then 3 replicas ==")
    _intake(args)
    return 0


# --- claims --------------------------------------------------------------------------------


async def _worker(kind: str, url: str) -> int:
    """One claiming process: claim and finish until the queue is empty; prints its figures."""
    latencies: list[float] = []
    owner = f"bench-{os.getpid()}"
    started = time.perf_counter()
    if kind == "claims":
        storage = await Storage.open(url, migrate=False)
        try:
            while True:
                now = datetime.now(UTC)
                begun = time.perf_counter()
                run = await storage.claim_run(
                    owner=owner, now=now, lease_until=now + LEASE, max_attempts=3
                )
                latencies.append(time.perf_counter() - begun)
                if run is None:
                    break
                await storage.finish_run(
                    run.id, owner=owner, state="passed", message="", result={}, junit=b"", now=now
                )
        finally:
            await storage.close()
    else:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                while True:
                    begun = time.perf_counter()
                    async with conn.begin():
                        claimed = (
                            await conn.execute(
                                text(
                                    "SELECT id FROM bench_queue WHERE state = 'queued' "
                                    "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
                                )
                            )
                        ).scalar_one_or_none()
                        if claimed is not None:
                            await conn.execute(
                                text("UPDATE bench_queue SET state = 'running' WHERE id = :id"),
                                {"id": claimed},
                            )
                    latencies.append(time.perf_counter() - begun)
                    if claimed is None:
                        break
                    async with conn.begin():
                        await conn.execute(
                            text("UPDATE bench_queue SET state = 'passed' WHERE id = :id"),
                            {"id": claimed},
                        )
        finally:
            await engine.dispose()
    elapsed = time.perf_counter() - started
    print(json.dumps({"claims": len(latencies) - 1, "elapsed": elapsed, "latencies": latencies}))
    return 0


@dataclass(frozen=True)
class ClaimFigures:
    claims: int
    elapsed: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.claims / self.elapsed


def _run_workers(kind: str, url: str, count: int) -> ClaimFigures:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--url", url]
    started = time.perf_counter()
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, cwd=intake.REPO_ROOT)
        for _ in range(count)
    ]
    outputs = [json.loads(p.communicate(timeout=600)[0]) for p in processes]
    elapsed = time.perf_counter() - started
    latencies = sorted(x for output in outputs for x in output["latencies"])
    return ClaimFigures(
        claims=sum(output["claims"] for output in outputs),
        elapsed=max(output["elapsed"] for output in outputs) or elapsed,
        p50_ms=intake.percentile(latencies, 0.50) * 1000,
        p99_ms=intake.percentile(latencies, 0.99) * 1000,
    )


async def _claims(args: argparse.Namespace) -> None:
    async with _schema(args.database_url) as url:
        storage = await Storage.open(url)
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text("CREATE TABLE bench_queue (id bigserial PRIMARY KEY, state text NOT NULL)")
                )
                await conn.execute(text("CREATE INDEX ON bench_queue (state, id)"))
            results: dict[tuple[str, int], ClaimFigures] = {}
            for replicas in (1, 3):
                await _fill(storage, engine, args.runs)
                results[("bare", replicas)] = _run_workers("bare", url, replicas)
                results[("claims", replicas)] = _run_workers("claims", url, replicas)
                async with engine.connect() as conn:
                    wrong = (
                        await conn.execute(
                            text(
                                "SELECT count(*) FROM runs WHERE state <> 'passed' OR attempt <> 1"
                            )
                        )
                    ).scalar_one()
                assert wrong == 0, f"{wrong} runs not claimed exactly once"
        finally:
            await storage.close()
            await engine.dispose()
    print(
        "| replicas | bare claims/s | meshgate claims/s | ratio "
        "| claim p50 | claim p99 | bare p50 |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for replicas in (1, 3):
        bare, real = results[("bare", replicas)], results[("claims", replicas)]
        print(
            f"| {replicas} | {bare.rate:,.0f} | {real.rate:,.0f} | {real.rate / bare.rate:.2f} "
            f"| {real.p50_ms:.2f} ms | {real.p99_ms:.2f} ms | {bare.p50_ms:.2f} ms |"
        )
    one, three = results[("claims", 1)], results[("claims", 3)]
    print(
        f"meshgate, 3 replicas vs 1: {three.rate / one.rate:.2f}x claims/s; every run claimed once"
    )


async def _fill(storage: Storage, engine: Any, runs: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM run_results"))
        await conn.execute(text("DELETE FROM run_attempts"))
        await conn.execute(text("DELETE FROM runs"))
        await conn.execute(text("DELETE FROM bench_queue"))
        await conn.execute(
            text("INSERT INTO bench_queue (state) SELECT 'queued' FROM generate_series(1, :n)"),
            {"n": runs},
        )
    at = datetime.now(UTC)
    for _ in range(runs):
        await storage.queue_run(REQUEST, at=at)


class _schema:
    """A fresh schema of the database (dropped afterwards); yields a URL that uses it."""

    def __init__(self, base_url: str) -> None:
        self._base = base_url
        self._name = f"bench_{secrets.token_hex(6)}"
        self._admin = create_async_engine(base_url, poolclass=NullPool)

    async def __aenter__(self) -> str:
        async with self._admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{self._name}"'))
        url = make_url(self._base).update_query_dict({"options": f"-csearch_path={self._name}"})
        return url.render_as_string(hide_password=False)

    async def __aexit__(self, *exc: object) -> None:
        async with self._admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{self._name}" CASCADE'))
        await self._admin.dispose()


# --- intake --------------------------------------------------------------------------------


def _intake(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="meshgate-bench-replicas-"))
    try:
        asyncio.run(_intake_in(args, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _intake_in(args: argparse.Namespace, workdir: Path) -> None:
    rules = intake.rule_set(args.rules)
    repository = intake.choose_repository(rules)
    intake.write_config(workdir / "config", rules)
    template = intake.body_template(intake.FIXTURE, repository, 4096)
    async with _schema(args.database_url) as url:
        pool = intake.build_pool(template, int(args.seconds * 3000) + 2000, intake.WEBHOOK_SECRET)
        cursor = intake.Cursor(size=len(pool.requests), limit=len(pool.requests), cycle=False)
        ports = [intake.free_port() for _ in range(3)]
        servers = [_replica(workdir, url, port, n) for n, port in enumerate(ports)]
        try:
            for server, port in zip(servers, ports, strict=True):
                server.wait_ready(port, "/readyz", 120)
            await intake.load(ports[0], pool, cursor, seconds=2, concurrency=8, keep_accepted=True)
            one = await intake.load(
                ports[0],
                pool,
                cursor,
                seconds=args.seconds,
                concurrency=args.concurrency,
                keep_accepted=True,
            )
            share = [
                args.concurrency // 3 + (1 if n < args.concurrency % 3 else 0) for n in range(3)
            ]
            started = time.perf_counter()
            phases = await asyncio.gather(
                *(
                    intake.load(
                        port, pool, cursor, seconds=args.seconds, concurrency=c, keep_accepted=True
                    )
                    for port, c in zip(ports, share, strict=True)
                )
            )
            three = intake.merged(phases)
            three.elapsed = time.perf_counter() - started
        finally:
            for server in servers:
                server.stop()
        rows = await _delivery_rows(url)
    print("| replicas | 202/s | p50 | p99 | errors |")
    print("| --- | --- | --- | --- | --- |")
    for name, phase in (("1", one), ("3", three)):
        latencies = sorted(phase.latencies)
        print(
            f"| {name} | {phase.rate:,.0f} | {intake.percentile(latencies, 0.5) * 1000:.1f} ms "
            f"| {intake.percentile(latencies, 0.99) * 1000:.1f} ms | {sum(phase.errors.values())} |"
        )
    answered = {
        json.loads(body)["delivery"] for phase in (one, three) for _, body in phase.accepted
    }
    missing = len(answered - rows)
    print(
        f"3 replicas vs 1: {three.rate / one.rate:.2f}x; rows: {len(answered)} 202s measured, "
        f"{missing} without their row"
    )


def _replica(workdir: Path, url: str, port: int, n: int) -> intake.Server:
    command = [
        str(intake.meshgate_executable()),
        "serve",
        "--config-repo",
        str(workdir / "config"),
        "--data-dir",
        str(workdir / f"data-{n}"),
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    env = intake.server_env(
        {
            "BENCH_WEBHOOK_SECRET": intake.WEBHOOK_SECRET,
            "BENCH_GITEA_TOKEN": "x",
            "MESHGATE_DATABASE_URL": url,
            "MESHGATE_RUNNER_CONCURRENCY": "0",
            "MESHGATE_STATUS_CONCURRENCY": "0",
        }
    )
    return intake.Server(f"replica-{n}", command, env, workdir / f"replica-{n}.log")


async def _delivery_rows(url: str) -> set[int]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return set((await conn.execute(text("SELECT id FROM deliveries"))).scalars())
    finally:
        await engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
