"""Logging: plain lines for people, or JSON lines for a log pipeline (``MESHGATE_LOG_FORMAT``),
with the request id and the run id on every line written while serving that request or
running that run.

The ids travel in context variables: the web layer sets ``request_id`` for each request
(from ``X-Request-Id``, else a new one), the runner sets ``run_id`` in each run's task, and
asyncio copies the context into tasks started from there, so a line logged deep in the
flow engine still names its run. Secrets are never passed to loggers; URLs are logged with
their credentials removed where they are built.
"""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "meshgate_request_id", default=None
)
run_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("meshgate_run_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(ids)s: %(message)s"


class _ContextIds(logging.Filter):
    """Puts the ids on every record (``record.request_id``, ``record.run_id`` and, for the
    text format, ``record.ids``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request, run = request_id.get(), run_id.get()
        parts = []
        if run is not None:
            parts.append(f"run={run}")
        if request is not None:
            parts.append(f"request={request}")
        ids = f" [{' '.join(parts)}]" if parts else ""
        record.__dict__.update(request_id=request, run_id=run, ids=ids)
        return True


class JsonLines(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the ids when
    set, and the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "run_id"):
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(*, level: str, log_format: LogFormat, force: bool = False) -> None:
    """Configure the root logger, for a process that serves (the CLI calls this). Like
    ``logging.basicConfig``, it leaves alone a root logger that already has handlers (an
    embedding program, a test runner) unless ``force``."""
    root = logging.getLogger()
    if root.handlers and not force:
        return
    handler = logging.StreamHandler()
    handler.addFilter(_ContextIds())
    handler.setFormatter(JsonLines() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    if level != "debug":
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per tick otherwise
