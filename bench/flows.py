"""Benchmark: the flow engine against a plain httpx loop (issue 4, scope item 9).

In one run, against one local uvicorn service (a subprocess; ``GET /items/{n}`` answers a
small JSON document), at the same concurrency:

  plain  - ``--steps`` GETs by a plain ``httpx.AsyncClient`` loop (``--concurrency``
           workers), each response's status checked and its JSON parsed: the bare stack
  engine - the same requests as a suite run by meshgate's engine: ``--concurrency`` flows
           of ``steps / concurrency`` steps, each step a GET with two checks (status, a
           JSONPath) and one capture, rendered, evaluated, redacted and recorded
  transport - the same requests straight on an ``httpx.AsyncHTTPTransport`` (what the
           engine's service client sends through, without ``httpx.AsyncClient``): a
           reference that shows what the engine's own work costs (no target)

Each round runs plain, then engine, right after each other, so both see the machine in the
same state; the verdict is the median of the per-round ratios (a slow stretch of the machine
hits both phases of a round, and one lucky or unlucky round does not decide). The ratio of
each phase's best round is printed beside it. Target: engine <= 1.3 x plain. Then, in a fresh
subprocess, ``--runs`` suite runs at once (each one flow of ``--run-steps`` steps) and the
peak resident memory above the process's baseline is reported (no target).

Usage: .venv/bin/python bench/flows.py [--steps 2000] [--concurrency 10] [--rounds 7]
       [--runs 100] [--run-steps 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from controller.clients.services import ServiceClient  # noqa: E402
from controller.flows import RoutingPolicy, SuiteResult, plan_suite, run_suite  # noqa: E402
from controller.flows.compiled import CompiledFlows  # noqa: E402
from controller.loader import load_text  # noqa: E402
from controller.models.snapshot import ConfigSnapshot  # noqa: E402
from controller.runner.config_files import no_config_files  # noqa: E402
from controller.runner.preparation import step_environment, template_roots  # noqa: E402

HOST = "127.0.0.1"
TARGET_RATIO = 1.3
HEADER = "apiVersion: meshgate.dev/v1alpha1\n"


# --- the service -------------------------------------------------------------------------


def serve(port: int) -> None:
    """The service (subprocess entry point): one JSON route, as small as it gets."""
    import logging

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def item(request: Request) -> Response:
        n = request.path_params["n"]
        body = json.dumps({"id": f"item-{n}", "status": "ok", "tags": ["a", "b"], "n": int(n)})
        return Response(body, media_type="application/json")

    async def ready(request: Request) -> Response:
        return Response(status_code=200)

    logging.basicConfig(level="WARNING")
    app = Starlette(routes=[Route("/items/{n}", item), Route("/readyz", ready)])
    uvicorn.run(app, host=HOST, port=port, log_config=None, server_header=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def wait_ready(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{HOST}:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit("the benchmark service did not start")


# --- the two phases ----------------------------------------------------------------------


async def plain(base_url: str, steps: int, concurrency: int) -> float:
    per_worker = steps // concurrency

    async def worker(client: httpx.AsyncClient, offset: int) -> None:
        for n in range(per_worker):
            response = await client.get(f"{base_url}/items/{offset + n}")
            if response.status_code != 200 or response.json()["status"] != "ok":
                raise SystemExit("plain loop: unexpected answer")

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client, w * per_worker) for w in range(concurrency)))
        return time.perf_counter() - started


async def transport(base_url: str, steps: int, concurrency: int) -> float:
    per_worker = steps // concurrency
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    timeout = httpx.Timeout(10).as_dict()

    async def worker(pool: httpx.AsyncHTTPTransport, offset: int) -> None:
        for n in range(per_worker):
            request = httpx.Request(
                "GET", f"{base_url}/items/{offset + n}", extensions={"timeout": timeout}
            )
            response = await pool.handle_async_request(request)
            body = await response.aread()
            await response.aclose()
            if response.status_code != 200 or json.loads(body)["status"] != "ok":
                raise SystemExit("transport loop: unexpected answer")

    async with httpx.AsyncHTTPTransport(limits=limits) as pool:
        started = time.perf_counter()
        await asyncio.gather(*(worker(pool, w * per_worker) for w in range(concurrency)))
        return time.perf_counter() - started


def suite_text(flows: int, steps_per_flow: int, name: str = "bench") -> str:
    step = (
        "      - name: item {n}\n"
        "        request: {{service: items, path: /items/{n}}}\n"
        "        expect:\n"
        "          - status: 200\n"
        "          - json: $.status\n"
        "            eq: ok\n"
        "        capture:\n"
        "          last_id: {{json: $.id}}\n"
    )
    blocks = []
    for f in range(flows):
        steps = "".join(step.format(n=f * steps_per_flow + s) for s in range(steps_per_flow))
        blocks.append(f"  - name: flow-{f}\n    steps:\n{steps}")
    return (
        f"{HEADER}kind: Suite\nmetadata: {{name: {name}}}\nspec:\n"
        f"  concurrency: {flows}\n  flows:\n" + "\n".join(blocks)
    )


def snapshot_of(text: str) -> ConfigSnapshot:
    loaded = load_text(text, "bench.yaml")
    if loaded.problems:
        raise SystemExit(f"the generated suite is invalid: {loaded.problems[0]}")
    return ConfigSnapshot.build(revision="bench", loaded_at=_now(), documents=loaded.documents)


async def engine(
    base_url: str, snapshot: ConfigSnapshot, concurrency: int, compiled: CompiledFlows
) -> tuple[float, SuiteResult]:
    """One suite run, with the cache of work done once per config that the runner keeps
    for all its runs (``compiled``, shared by the rounds)."""
    plan = plan_suite(snapshot, "default", "bench")
    routing = RoutingPolicy.of({"items": base_url})
    async with ServiceClient(max_connections=concurrency) as client:
        env = step_environment(
            plan,
            client=client,
            routing=routing,
            secrets={},
            load_schema=no_config_files,
            compiled=compiled,
        )
        roots = template_roots(run={"id": "bench"}, routing=routing, secrets={}, context=None)
        started = time.perf_counter()
        result = await run_suite(plan, roots=roots, env=env)
        return time.perf_counter() - started, result


async def many_runs(base_url: str, runs: int, steps: int) -> None:
    """``runs`` suite runs at once, as the runner holds them (one client each)."""
    snapshot = snapshot_of(suite_text(1, steps))
    plan = plan_suite(snapshot, "default", "bench")
    routing = RoutingPolicy.of({"items": base_url})

    async def one() -> SuiteResult:
        async with ServiceClient(max_connections=4) as client:
            env = step_environment(
                plan, client=client, routing=routing, secrets={}, load_schema=no_config_files
            )
            roots = template_roots(run={"id": "bench"}, routing=routing, secrets={}, context=None)
            return await run_suite(plan, roots=roots, env=env)

    results = await asyncio.gather(*(one() for _ in range(runs)))
    if any(result.status != "passed" for result in results):
        raise SystemExit("a concurrent run did not pass")


def memory_child(port: int, runs: int, steps: int) -> None:
    """Subprocess entry point: print the peak RSS above the baseline, in KiB."""
    baseline = _high_water_kib()
    asyncio.run(many_runs(f"http://{HOST}:{port}", runs, steps))
    print(json.dumps({"baseline_kib": baseline, "peak_kib": _high_water_kib()}))


def _high_water_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


# --- main --------------------------------------------------------------------------------


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--run-steps", type=int, default=20)
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    if args.serve:
        serve(args.serve)
        return 0
    if args.memory_child:
        memory_child(args.memory_child, args.runs, args.run_steps)
        return 0
    if args.steps % args.concurrency:
        raise SystemExit("--steps must be a multiple of --concurrency")
    port = free_port()
    service = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        wait_ready(port, time.monotonic() + 30)
        base_url = f"http://{HOST}:{port}"
        snapshot = snapshot_of(suite_text(args.concurrency, args.steps // args.concurrency))
        asyncio.run(plain(base_url, args.concurrency * 10, args.concurrency))  # warm-up
        compiled = CompiledFlows()
        asyncio.run(engine(base_url, snapshot, args.concurrency, compiled))  # warm-up
        plain_times, engine_times, transport_times = [], [], []
        checks = 0
        for _ in range(args.rounds):
            plain_times.append(asyncio.run(plain(base_url, args.steps, args.concurrency)))
            took, result = asyncio.run(engine(base_url, snapshot, args.concurrency, compiled))
            if result.status != "passed":
                raise SystemExit(f"the engine run did not pass: {result.to_dict()['flows'][0]}")
            checks = sum(len(s.checks) for f in result.flows for s in f.steps)
            engine_times.append(took)
            transport_times.append(asyncio.run(transport(base_url, args.steps, args.concurrency)))
        memory = subprocess.run(
            [
                sys.executable,
                __file__,
                "--memory-child",
                str(port),
                "--runs",
                str(args.runs),
                "--run-steps",
                str(args.run_steps),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        figures = json.loads(memory.stdout.strip().splitlines()[-1])
    finally:
        service.terminate()
        service.wait(timeout=10)

    best_plain, best_engine = min(plain_times), min(engine_times)
    ratio = best_engine / best_plain
    paired = sorted(e / p for p, e in zip(plain_times, engine_times, strict=True))
    median = paired[len(paired) // 2]
    peak_mib = (figures["peak_kib"] - figures["baseline_kib"]) / 1024
    print(f"### Results ({time.strftime('%Y-%m-%d')}, {_machine()})\n")
    print(
        f"{args.steps} GET steps ({checks} checks, one capture each) at concurrency "
        f"{args.concurrency}, best of {args.rounds} alternating rounds, loopback uvicorn service.\n"
    )
    print("| phase | best wall s | all rounds s | steps/s |")
    print("| --- | --- | --- | --- |")
    phases = (
        ("plain httpx loop", plain_times),
        ("meshgate engine", engine_times),
        ("bare transport loop", transport_times),
    )
    for label, times in phases:
        rounds = ", ".join(f"{t:.2f}" for t in times)
        print(f"| {label} | {min(times):.2f} | {rounds} | {args.steps / min(times):,.0f} |")
    print()
    verdict = "PASS" if median <= TARGET_RATIO else "FAIL"
    print(
        f"- {verdict}: engine / plain wall time = {median:.2f}, the median of {len(paired)} "
        f"rounds (engine right after plain; range {paired[0]:.2f}-{paired[-1]:.2f}; "
        f"target <= {TARGET_RATIO})"
    )
    print(f"- best round of each phase: engine / plain = {ratio:.2f}")
    bare = sorted(e / t for t, e in zip(transport_times, engine_times, strict=True))
    print(
        f"- reference: engine / bare transport loop = {bare[len(bare) // 2]:.2f} (median), "
        "the cost of the engine's own work"
    )
    print(
        f"- peak memory of {args.runs} concurrent runs ({args.run_steps} steps each): "
        f"{peak_mib:.1f} MiB above the process baseline ({figures['baseline_kib'] / 1024:.1f} MiB)"
    )
    return 0 if median <= TARGET_RATIO else 1


def _machine() -> str:
    cores = len(__import__("os").sched_getaffinity(0))
    return f"{cores} cores, Python {platform.python_version()}"


if __name__ == "__main__":
    raise SystemExit(main())
