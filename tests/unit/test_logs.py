from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from controller import logs


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A stream the configured handler writes to; the root logger is restored afterwards
    (pytest's own capture handlers live there)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield io.StringIO()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _logger(stream: io.StringIO, log_format: logs.LogFormat) -> logging.Logger:
    logs.configure_logging(level="info", log_format=log_format, force=True)
    root = logging.getLogger()
    (handler,) = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    return logging.getLogger("meshgate.test")


def test_json_lines_carry_the_ids_of_the_run_and_the_request(captured: io.StringIO) -> None:
    log = _logger(captured, "json")

    async def a_run() -> None:
        logs.run_id.set(42)
        log.warning("step %s failed", "create customer")

    token = logs.request_id.set("req-7")
    try:
        asyncio.run(a_run())
        log.info("answered")
    finally:
        logs.request_id.reset(token)
    log.info("idle")
    first, second, third = (json.loads(line) for line in captured.getvalue().splitlines())
    assert (first["message"], first["run_id"], first["request_id"]) == (
        "step create customer failed",
        42,
        "req-7",
    )
    assert first["level"] == "warning"
    assert first["time"].endswith("Z")
    assert ("run_id" in second, second["request_id"]) == (False, "req-7")
    assert "request_id" not in third


def test_text_lines_name_the_run(captured: io.StringIO) -> None:
    log = _logger(captured, "text")
    token = logs.run_id.set(9)
    try:
        log.info("hello")
    finally:
        logs.run_id.reset(token)
    assert "meshgate.test [run=9]: hello" in captured.getvalue()
