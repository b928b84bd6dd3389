"""Benchmark: posting the final statuses of 1,000 runs that finish within one second (issue 5,
scope item 6).

Set-up, in one run: the fake Gitea (``tests/support/fake_gitea.py``, every request checked
against Gitea's OpenAPI document) in a subprocess, answering every request after
``--latency`` (50 ms); a SQLite database with ``--runs`` webhook-triggered runs, each on its
own commit, whose pending statuses were already posted (the steady state: runs are queued
long before they finish); the status poster of meshgate with ``--concurrency`` posts in
flight (8, the default of ``MESHGATE_STATUS_CONCURRENCY``).

Measured: the runs end in 100 batches spread over one second (each batch wakes the poster,
as the runner does when a run ends); the time from the first end until the fake Gitea holds
the last final status, and the number of status requests sent. Compared with the minimum
possible (one request per run, ``ceil(runs / concurrency) * latency`` seconds) and, in the
same run, with the bare stack: the same number of status POSTs by a plain
``httpx.AsyncClient`` loop at the same concurrency against the same fake (what this machine
can do at all, the fake's own work included).

Usage: .venv/bin/python bench/statuses.py [--runs 1000] [--latency 0.05] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from controller.clients.gitea import GiteaClient  # noqa: E402
from controller.models.events import Event  # noqa: E402
from controller.models.matching import MatchReport  # noqa: E402
from controller.models.runs import RunRequest  # noqa: E402
from controller.models.statuses import StatusTarget  # noqa: E402
from controller.secretrefs import SecretResolver  # noqa: E402
from controller.statuses.access import GiteaAccess  # noqa: E402
from controller.statuses.poster import StatusPoster  # noqa: E402
from controller.statuses.retry_policy import PosterSettings  # noqa: E402
from controller.storage import Storage  # noqa: E402
from tests.support.config import snapshot_of  # noqa: E402
from tests.support.fake_gitea import gitea_integration  # noqa: E402

HOST = "127.0.0.1"
TOKEN = "bench-gitea-token-0123456789"
REPO = "shop/checkout"
CONTEXT = "meshgate/smoke"


def serve(port: int, latency: float) -> None:
    """The fake Gitea (subprocess entry point), with a stats route beside the API."""
    import logging

    import uvicorn
    from starlette.types import Receive, Scope, Send

    from tests.support.fake_gitea import FakeGitea

    gitea = FakeGitea(token=TOKEN, repositories={REPO}, latency=latency)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/_stats":
            finals = sum(
                1
                for rows in gitea.statuses.values()
                for row in rows
                if row["status"] != "pending" and row["context"] == CONTEXT
            )
            ours = [r for r in gitea.status_posts() if r.body.get("context") == CONTEXT]
            body = json.dumps(
                {
                    "requests": len(ours),
                    "finals": finals,
                    "violations": len(gitea.violations),
                    "most_in_flight": gitea.most_in_flight,
                }
            ).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        await gitea(scope, receive, send)

    logging.basicConfig(level="WARNING")
    uvicorn.run(app, host=HOST, port=port, log_config=None, lifespan="off")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def stats(base_url: str) -> dict[str, int]:
    answer: dict[str, int] = httpx.get(f"{base_url}/_stats", timeout=5).json()
    return answer


def wait_ready(base_url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            stats(base_url)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit("the fake Gitea did not start")


async def queue_runs(storage: Storage, runs: int) -> list[int]:
    now = datetime.now(UTC)
    ids: list[int] = []
    for n in range(runs):
        sha = f"{n + 1:040x}"
        request = RunRequest(
            workspace="shop",
            suite="smoke",
            config_revision="bench",
            trigger_type="webhook",
            rule="push",
            integration="gitea",
            trigger_ref=sha,
            repository=REPO,
            branch="main",
            status_context=CONTEXT,
            lane=f"ref:{n}",
            status_target=StatusTarget("shop", "gitea", REPO, sha),
        )
        event = Event(
            source="gitea",
            type="push",
            trigger=True,
            repository=REPO,
            revision=sha,
            delivery_id=f"d-{n}",
        )
        recorded = await storage.record_delivery(
            source="gitea",
            delivery_id=event.delivery_id,
            integration="gitea",
            workspace="shop",
            event=event,
            body=b"{}",
            received_at=now,
            match=MatchReport(
                config_revision="bench",
                workspace="shop",
                integration="gitea",
                summary="1 of 1 rule matched",
            ),
            runs=(request,),
        )
        ids.extend(run.id for run in recorded.runs)
    return ids


TICKS = 100


async def end_runs(storage: Storage, ids: Sequence[int]) -> None:
    """End ``ids`` as passed in one statement, as the runner's ``finish_run`` leaves them
    (state, message, ``status_dirty``): the runs' own ends are not what is measured, and one
    ``finish_run`` per run would not fit in a second beside the poster on SQLite."""
    from sqlalchemy import update

    from controller.storage.tables import runs

    now = datetime.now(UTC)
    async with storage._db.write("ending runs") as conn:
        await conn.execute(
            update(runs)
            .where(runs.c.id.in_(list(ids)))
            .values(
                state="passed",
                message="3/3 flows passed in 1 s",
                finished_at=now,
                updated_at=now,
                status_dirty=True,
            )
        )


async def measure(base_url: str, runs: int, concurrency: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as data:
        async with await Storage.open(f"sqlite+aiosqlite:///{data}/bench.db") as storage:
            snapshot = snapshot_of(gitea_integration(base_url))
            poster = StatusPoster(
                storage=storage,
                access=GiteaAccess(
                    config=lambda: snapshot,
                    secrets=SecretResolver(
                        environ={"GITEA_TOKEN": TOKEN, "GITEA_WEBHOOK_SECRET": "whsec-bench-0123"}
                    ),
                    client_factory=lambda url: GiteaClient(
                        base_url=url, max_connections=concurrency
                    ),
                ),
                public_url="http://meshgate.bench",
                owner="bench",
                settings=PosterSettings(concurrency=concurrency),
            )
            ids = await queue_runs(storage, runs)
            await poster.drain()  # the pending statuses, posted before the runs end
            pending_requests = stats(base_url)["requests"]
            loop = asyncio.get_running_loop()
            task = loop.create_task(poster.run_forever())
            started = time.perf_counter()
            for tick in range(TICKS):
                due = started + tick / TICKS  # spread over one second
                await asyncio.sleep(max(due - time.perf_counter(), 0))
                await end_runs(storage, ids[tick::TICKS])
                poster.wake()
            finished_all = time.perf_counter() - started
            async with httpx.AsyncClient(base_url=base_url) as probe:
                while True:  # polling another process: no event to wait on
                    if (await probe.get("/_stats")).json()["finals"] >= runs:
                        break
                    await asyncio.sleep(0.1)
            took = time.perf_counter() - started
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await poster.aclose()
            final = stats(base_url)
    return {
        "seconds": took,
        "ended_within": finished_all,
        "requests": final["requests"] - pending_requests,
        "pending_requests": pending_requests,
        "violations": final["violations"],
        "most_in_flight": final["most_in_flight"],
    }


async def bare(base_url: str, runs: int, concurrency: int) -> float:
    """The bare stack: ``runs`` status POSTs by a plain ``httpx.AsyncClient`` loop with
    ``concurrency`` workers, nothing stored, nothing decided."""
    bodies = [(f"{base_url}/api/v1/repos/{REPO}/statuses/{n + 1:040x}", n) for n in range(runs)]
    headers = {"Authorization": f"token {TOKEN}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def worker(offset: int) -> None:
            for url, n in bodies[offset::concurrency]:
                answer = await client.post(
                    url,
                    headers=headers,
                    json={
                        "state": "success",
                        "target_url": f"http://meshgate.bench/runs/{n}",
                        "description": "3/3 flows passed in 1 s",
                        "context": "meshgate/bare",
                    },
                )
                if answer.status_code != 201:
                    raise SystemExit(f"bare loop: {answer.status_code} {answer.text}")

        started = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        return time.perf_counter() - started


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    if args.serve:
        serve(args.serve, args.latency)
        return 0
    port = free_port()
    base_url = f"http://{HOST}:{port}"
    fake = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--latency", str(args.latency)],
        cwd=REPO_ROOT,
    )
    try:
        wait_ready(base_url, time.monotonic() + 30)
        bare_seconds = asyncio.run(bare(base_url, args.runs, args.concurrency))
        figures = asyncio.run(measure(base_url, args.runs, args.concurrency))
    finally:
        fake.terminate()
        fake.wait(timeout=10)
    minimum = math.ceil(args.runs / args.concurrency) * args.latency
    print(f"### Results ({time.strftime('%Y-%m-%d')}, {_machine()})\n")
    print(
        f"{args.runs} runs ending within {figures['ended_within']:.2f} s, fake Gitea answering "
        f"after {args.latency * 1000:.0f} ms, {args.concurrency} posts in flight.\n"
    )
    seconds = figures["seconds"]
    print("| measure | meshgate | minimum possible | ratio | bare httpx loop | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| time until the last final status | {seconds:.2f} s | {minimum:.2f} s | "
        f"{seconds / minimum:.2f} | {bare_seconds:.2f} s | {seconds / bare_seconds:.2f} |"
    )
    print(
        f"| status requests for the final states | {figures['requests']:.0f} | {args.runs} | "
        f"{figures['requests'] / args.runs:.2f} | {args.runs} | "
        f"{figures['requests'] / args.runs:.2f} |"
    )
    print()
    print(
        f"- pending statuses posted beforehand: {figures['pending_requests']:.0f}; most requests "
        f"in flight at the fake: {figures['most_in_flight']:.0f}; contract violations: "
        f"{figures['violations']:.0f}"
    )
    return 0 if figures["violations"] == 0 and figures["requests"] == args.runs else 1


def _machine() -> str:
    cores = len(__import__("os").sched_getaffinity(0))
    return f"{cores} cores, Python {platform.python_version()}"


if __name__ == "__main__":
    raise SystemExit(main())
