"""``meshgate demo`` as a newcomer runs it: a process that, within seconds, serves a
dashboard with one passing and one failing run, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.waiting import eventually

pytestmark = pytest.mark.anyio


async def test_demo_shows_a_passing_and_a_failing_run_and_stops_on_ctrl_c(
    tmp_path: Path,
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "controller",
        "demo",
        "--port",
        "0",
        "--data-dir",
        str(tmp_path / "demo"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(60):
            line = (await process.stdout.readline()).decode()
        found = re.search(r"dashboard at (http://127\.0\.0\.1:\d+)/", line)
        assert found is not None, line
        base_url = found.group(1)
        async with httpx.AsyncClient(base_url=base_url, timeout=5, trust_env=False) as client:

            async def runs() -> list[dict[str, Any]]:
                listed: list[dict[str, Any]] = (await client.get("/api/v1/runs")).json()["runs"]
                return listed

            ended = await eventually(
                runs,
                until=lambda rs: (
                    len(rs) == 2 and all(r["state"] in ("passed", "failed", "error") for r in rs)
                ),
                within=60,
            )
            outcomes = {run["suite"]: run["state"] for run in ended}
            assert outcomes == {"user-service-contract": "passed", "checkout-smoke": "failed"}
            page = await client.get("/")
            assert page.status_code == 200
            for run in ended:
                assert f'href="/runs/{run["id"]}"' in page.text
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(20):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
