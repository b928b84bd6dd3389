"""The servers `bench/intake.py` compares meshgate with, each run as a subprocess:

  python bench/intake_servers.py DESIGN PORT DATA_DIR

  bare     one route that reads the body and answers 202: what the HTTP stack (uvicorn,
           h11, Starlette routing, body reading) costs before any work is done
  signed   bare plus what issue 3 calls "signature check plus JSON parsing alone": the
           HMAC-SHA256 of the body compared in constant time with ``X-Gitea-Signature``,
           ``json.loads`` of the body, and a 202 with a small JSON body
  durable  signed plus what issue 3 calls "a straightforward durable design": one
           ``INSERT … ON CONFLICT DO NOTHING RETURNING id`` per delivery (its delivery id,
           which is unique, its body, its ref and commit) on a single aiosqlite connection in
           autocommit mode (WAL, ``synchronous = NORMAL``, as meshgate's SQLite), one delivery
           at a time, answering 202 with the row id only after that insert has committed

Issue 3 sets meshgate's throughput target (35% of bare) from what the last two measured
"on this machine" (43% and 29% of bare), so `bench/intake.py` measures them in the same run
as bare and meshgate: the target's footing is then visible beside the result. None of them
matches rules, stores decisions or queues runs, as meshgate does.

All three use the same uvicorn options as ``meshgate serve`` (defaults otherwise: the same
loop and HTTP implementation); the root logger stays at WARNING as meshgate's does at
``--log-level warning``, so uvicorn's access log is filtered out in every one. The webhook
secret comes from ``BENCH_WEBHOOK_SECRET``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ROUTE = "/api/v1/webhooks/gitea"
HOST = "127.0.0.1"
DESIGNS = ("bare", "signed", "durable")  # bare first: the others are measured against it
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS deliveries (id INTEGER PRIMARY KEY, delivery_id TEXT UNIQUE, "
    "body BLOB NOT NULL, ref TEXT, revision TEXT)"
)
INSERT = (
    "INSERT INTO deliveries (delivery_id, body, ref, revision) VALUES (?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING RETURNING id"
)

Endpoint = Callable[[Request], Awaitable[Response]]


def bare_endpoint() -> Endpoint:
    async def gitea(request: Request) -> Response:
        await request.body()
        return Response(status_code=202)

    return gitea


def verified_payload(body: bytes, signature: str, secret: bytes) -> Any:
    """The parsed body, or ``None`` if ``signature`` is not its HMAC-SHA256 under ``secret``."""
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
    if not hmac.compare_digest(expected, signature.encode("ascii", "replace")):
        return None
    return json.loads(body)


def signed_endpoint(secret: bytes) -> Endpoint:
    async def gitea(request: Request) -> Response:
        body = await request.body()
        payload = verified_payload(body, request.headers.get("x-gitea-signature", ""), secret)
        if payload is None:
            return JSONResponse({"error": "signature does not match"}, status_code=401)
        return JSONResponse({"delivery": request.headers.get("x-gitea-delivery")}, 202)

    return gitea


class DurableDesign:
    """One aiosqlite connection, one committed insert per delivery, one delivery at a time."""

    def __init__(self, database: Path, secret: bytes) -> None:
        self._database = database
        self._secret = secret
        self._connection: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self._database.parent.mkdir(parents=True, exist_ok=True)
        async with aiosqlite.connect(self._database, isolation_level=None) as connection:
            await connection.execute("PRAGMA journal_mode = WAL")
            await connection.execute("PRAGMA synchronous = NORMAL")
            await connection.execute(SCHEMA)
            self._connection = connection
            yield

    async def gitea(self, request: Request) -> Response:
        body = await request.body()
        payload = verified_payload(body, request.headers.get("x-gitea-signature", ""), self._secret)
        if payload is None:
            return JSONResponse({"error": "signature does not match"}, status_code=401)
        delivery_id = request.headers.get("x-gitea-delivery")
        values = (delivery_id, body, payload.get("ref"), payload.get("after"))
        assert self._connection is not None
        async with self._lock, self._connection.execute(INSERT, values) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return JSONResponse({"duplicate": True}, status_code=200)
        return JSONResponse({"delivery": row[0]}, status_code=202)


def serve(design: str, port: int, data_dir: Path) -> None:
    secret = os.environ.get("BENCH_WEBHOOK_SECRET", "").encode()
    lifespan = None
    if design == "bare":
        endpoint = bare_endpoint()
    elif design == "signed":
        endpoint = signed_endpoint(secret)
    else:
        durable = DurableDesign(data_dir / "durable.db", secret)
        endpoint, lifespan = durable.gitea, durable.lifespan

    async def ready(request: Request) -> Response:
        return Response(status_code=200)

    logging.basicConfig(level="WARNING")
    routes = [Route(ROUTE, endpoint, methods=["POST"]), Route("/readyz", ready)]
    app = Starlette(routes=routes, lifespan=lifespan)
    config = uvicorn.Config(
        app, host=HOST, port=port, log_config=None, lifespan="on", server_header=False
    )
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the SIGINT that stops it
        uvicorn.Server(config).run()


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in DESIGNS or not argv[1].isdigit():
        print(f"usage: intake_servers.py {{{'|'.join(DESIGNS)}}} PORT DATA_DIR", file=sys.stderr)
        return 2
    serve(argv[0], int(argv[1]), Path(argv[2]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
