"""Benchmark: dashboard pages with 10,000 runs stored (issue 7, scope item 1: "pages load in
well under a second with 10,000 runs stored").

Set-up, in one run: a SQLite database holding ``--runs`` finished runs of three suites
(80% passed, 15% failed, 5% error), each with a stored result of 3 flows of 4 steps (checks,
request and response); the whole app served by uvicorn on loopback with the runner off; and,
as the bare stack, a Starlette route under the same uvicorn answering a fixed HTML page of
the run page's size.

Measured: ``--requests`` sequential GETs of each page (after 3 warm-up requests), p50 and
p95 in milliseconds, and the run page's p50 as a ratio to the bare route's.

Usage: .venv/bin/python bench/pages.py [--runs 10000] [--requests 40]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, update
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from controller.app import build_controller  # noqa: E402
from controller.models.runs import RunRequest  # noqa: E402
from controller.settings import Settings  # noqa: E402
from controller.storage import Storage  # noqa: E402
from controller.storage.runs import queue_runs  # noqa: E402
from controller.storage.tables import run_results, runs  # noqa: E402
from tests.support.server import serving  # noqa: E402

T0 = datetime(2026, 11, 1, tzinfo=UTC)
SUITES = ("checkout-smoke", "user-service-contract", "catalog")
BATCH = 500
SUMMARIES = {
    "passed": "3/3 flows passed in 2 s",
    "failed": "1 of 3 flows failed: flow-2",
    "error": "1 of 3 flows failed: flow-2",
}


def _result(state: str, suite: str) -> dict[str, Any]:
    def step(n: int, status: str) -> dict[str, Any]:
        return {
            "name": f"step {n}",
            "phase": "steps",
            "status": status,
            "failure_type": None if status == "passed" else "AssertionFailed",
            "message": "" if status == "passed" else 'json $.status: expected eq "OK", got "NO"',
            "checks": [
                {
                    "selector": "json $.status",
                    "operator": "eq",
                    "expected": "OK",
                    "actual": "OK" if status == "passed" else "NO",
                    "passed": status == "passed",
                    "message": "",
                }
            ],
            "warnings": [],
            "request": {
                "method": "GET",
                "url": "http://user-service.staging:8080/api/users/42",
                "headers": [["Accept", "application/json"]],
                "body": "",
                "body_size": 0,
            },
            "response": {
                "status": 200,
                "url": "http://user-service.staging:8080/api/users/42",
                "headers": [["content-type", "application/json"]],
                "body": '{"id": 42, "status": "OK", "name": "Smoke Buyer"}',
                "body_size": 52,
                "truncated": False,
                "elapsed_ms": 4.2,
            },
            "attempts": [],
            "captured": [],
            "duration_ms": 5.0,
            "line": 10 + n,
        }

    flows = []
    for f in range(3):
        failing = state != "passed" and f == 2
        steps = [step(n, "failed" if failing and n == 3 else "passed") for n in range(4)]
        flows.append(
            {
                "flow": f"flow-{f}",
                "row": None,
                "label": f"flow-{f}",
                "file": "suite.yaml",
                "status": "failed" if failing else "passed",
                "message": "",
                "started_at": T0.isoformat(),
                "duration_ms": 20.0,
                "steps": steps,
            }
        )
    return {
        "suite": suite,
        "workspace": "shop",
        "status": state,
        "message": "",
        "started_at": T0.isoformat(),
        "duration_ms": 60.0,
        "counts": {},
        "routes": {"user-service": "under_test:http://user-service.staging:8080"},
        "readiness": [],
        "flows": flows,
    }


async def populate(url: str, count: int) -> int:
    storage = await Storage.open(url)
    try:
        last = 0
        for start in range(0, count, BATCH):
            requests = []
            for n in range(start, min(start + BATCH, count)):
                requests.append(
                    (
                        RunRequest(
                            workspace="shop",
                            suite=SUITES[n % 3],
                            config_revision="rev-bench",
                            trigger_type="manual",
                            repository=f"shop/service-{n % 40}",
                            rule=f"bench-{n}",
                        ),
                        None,
                    )
                )
            async with storage._db.write("bench: queue") as conn:
                queued = await queue_runs(conn, requests, at=T0 + timedelta(seconds=start))
                for run in queued:
                    n = run.id
                    state = "passed" if n % 20 < 16 else "failed" if n % 20 < 19 else "error"
                    begun = T0 + timedelta(seconds=n)
                    await conn.execute(
                        update(runs)
                        .where(runs.c.id == run.id)
                        .values(
                            state=state,
                            started_at=begun,
                            finished_at=begun + timedelta(seconds=2 + n % 7),
                            message=SUMMARIES[state],
                        )
                    )
                    await conn.execute(
                        insert(run_results).values(
                            run_id=run.id,
                            result=_result(state, run.request.suite),
                            junit=b"<testsuites/>",
                            recorded_at=begun,
                        )
                    )
                    last = run.id
        return last
    finally:
        await storage.close()


async def timings(client: httpx.AsyncClient, path: str, requests: int) -> list[float]:
    for _ in range(3):
        (await client.get(path)).raise_for_status()
    taken = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = await client.get(path)
        taken.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    return taken


def _row(name: str, taken: list[float]) -> str:
    p95 = statistics.quantiles(taken, n=20)[18]
    return f"| {name} | {statistics.median(taken):.1f} | {p95:.1f} |"


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        url = f"sqlite+aiosqlite:///{data / 'meshgate.db'}"
        started = time.perf_counter()
        last = await populate(url, args.runs)
        print(f"stored {args.runs} runs with results in {time.perf_counter() - started:.0f} s")
        settings = Settings(
            config_repo=str(REPO_ROOT / "example-config-repo"),
            data_dir=data,
            runner_concurrency=0,
            status_concurrency=0,
            poll_interval=timedelta(hours=1),
        )
        controller = await build_controller(settings, environ={})
        try:
            async with (
                serving(controller.app, lifespan="on") as base,
                httpx.AsyncClient(base_url=base, timeout=30) as client,
            ):
                run_page = (await client.get(f"/runs/{last}")).text
                bare_app = Starlette(routes=[Route("/", lambda request: HTMLResponse(run_page))])
                async with (
                    serving(bare_app) as bare_base,
                    httpx.AsyncClient(base_url=bare_base, timeout=30) as bare_client,
                ):
                    bare = await timings(bare_client, "/", args.requests)
                pages = {
                    "runs list `/`": "/",
                    "runs, failed of one suite": "/runs?state=failed&suite=checkout-smoke",
                    "runs, page 100 (`before`)": f"/runs?before={last - 5000}",
                    "suite page with chart": "/suites/shop/checkout-smoke",
                    f"run page `/runs/{last}`": f"/runs/{last}",
                    "run page's live part": f"/runs/{last}/flows",
                    "`GET /api/v1/runs`": "/api/v1/runs",
                    "`GET /metrics`": "/metrics",
                }
                measured = {
                    name: await timings(client, path, args.requests) for name, path in pages.items()
                }
        finally:
            await controller.close()
    print(
        f"\n{platform.python_implementation()} {platform.python_version()}, "
        f"{args.runs} runs, {args.requests} requests each\n"
    )
    print("| page | p50 ms | p95 ms |")
    print("| --- | --- | --- |")
    print(_row("bare stack: the run page's HTML from a plain route", bare))
    for name, taken in measured.items():
        print(_row(name, taken))
    ratio = statistics.median(measured[f"run page `/runs/{last}`"]) / statistics.median(bare)
    print(f"\nrun page p50 / bare p50: {ratio:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40)
    asyncio.run(main(parser.parse_args()))
