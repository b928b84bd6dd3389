"""The server on its embedded defaults: a local folder, SQLite, edits picked up at once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from controller.settings import Settings
from tests.acceptance.helpers import EXAMPLE, REPO_ROOT, config_status, copy_example
from tests.support.server import running_server
from tests.support.waiting import eventually

pytestmark = pytest.mark.anyio

SettingsFor = Callable[..., Settings]


async def test_serve_example_config_is_ready(settings_for: SettingsFor) -> None:
    async with running_server(settings_for(str(EXAMPLE), poll=3600)) as server:
        assert (await server.client.get("/healthz")).json() == {"status": "ok"}
        ready = await eventually(
            lambda: server.client.get("/readyz"),
            until=lambda r: r.status_code == 200,
            what="ready",
        )
        assert ready.json() == {"status": "ready"}
        status = await config_status(server)
        assert status["source"]["kind"] == "folder"
        assert status["applied"]["workspaces"] == ["shop"]
        assert status["applied"]["documents"] == {
            "Integration": 2,
            "TriggerRule": 4,
            "Suite": 2,
            "Flow": 4,
            "EnvironmentTemplate": 2,
        }
        assert len(status["applied"]["revision"]) == 64
        assert status["errors"] == []
        missing = await server.client.get("/api/v1/nothing-here")
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "HTTPError"


async def test_serve_folder_edits_apply_at_once(tmp_path: Path, settings_for: SettingsFor) -> None:
    config = copy_example(tmp_path / "config")
    async with running_server(settings_for(str(config), poll=3600)) as server:
        first = await eventually(
            lambda: config_status(server), until=lambda s: s["applied"] is not None
        )
        rule = config / "rules" / "staging-sync.yaml"
        rule.write_text(rule.read_text().replace("*-service", "*-svc"))
        status = await eventually(
            lambda: config_status(server),
            until=lambda s: s["applied"]["revision"] != first["applied"]["revision"],
            what="edit applied by the folder watcher (the poll is an hour away)",
        )
        assert status["errors"] == []

        rule.write_text(rule.read_text().replace("event_types: [sync]", "event_types: [sink]"))
        status = await eventually(
            lambda: config_status(server),
            until=lambda s: s["last_attempt"]["valid"] is False,
            what="broken edit reported",
        )
        assert status["applied"]["revision"] != first["applied"]["revision"]
        assert status["errors"] == [
            "rules/staging-sync.yaml:16:17: 'sink' is not allowed; expected one of 'sync', "
            "'push', 'pull_request' (at /spec/event_types/0)"
        ]
        assert (await server.client.get("/readyz")).status_code == 200


async def test_serve_invalid_config_at_start_is_not_ready(
    tmp_path: Path, settings_for: SettingsFor
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "rule.yaml").write_text("kind: TriggerRule\nmetadata: {name: x}\nspec: {}\n")
    async with running_server(settings_for(str(config), poll=3600)) as server:
        ready = await eventually(
            lambda: server.client.get("/readyz"),
            until=lambda r: "problems" in r.text,
            what="not-ready reason",
        )
        assert ready.status_code == 503
        assert "no valid config loaded yet" in ready.json()["reasons"][0]
        assert (await server.client.get("/healthz")).status_code == 200
        status = await config_status(server)
        assert status["applied"] is None
        assert status["errors"][0].startswith("rule.yaml:1:1: ")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_python_m_controller_serve_runs_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    environment = {
        **os.environ,
        "MESHGATE_DATA_DIR": str(tmp_path / "data"),
        "MESHGATE_PORT": str(port),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "controller",
        "serve",
        cwd=REPO_ROOT,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:

            async def probe() -> int:
                try:
                    return (await client.get("/readyz")).status_code
                except httpx.TransportError:
                    return 0

            await eventually(probe, until=lambda code: code == 200, within=20, what="ready")
    finally:
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(20):
            raw, _ = await process.communicate()
    output = raw.decode()
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
    assert "applied config revision" in output
    assert (tmp_path / "data" / "meshgate.db").exists()
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
