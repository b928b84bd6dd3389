"""A service that misbehaves on request, for the service client and the flow engine: slow,
endless, huge and redirecting answers, and echoes of what it was sent."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

MIB = 1 << 20


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": [[k, v] for k, v in request.headers.items()],
            "body": body.decode("utf-8", "replace"),
        },
        headers={"Set-Cookie": "SESSION=s1; Path=/"},
    )


async def gzipped(request: Request) -> Response:
    body = gzip.compress(json.dumps({"compressed": True}).encode())
    return Response(body, media_type="application/json", headers={"Content-Encoding": "gzip"})


async def big(request: Request) -> Response:
    size = int(request.query_params.get("mib", "10")) * MIB

    async def chunks() -> AsyncIterator[bytes]:
        sent = 0
        while sent < size:
            chunk = b"x" * min(64 * 1024, size - sent)
            sent += len(chunk)
            yield chunk

    return StreamingResponse(chunks(), media_type="application/octet-stream")


async def endless(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        while True:
            yield b'{"tick": 1}\n'
            await asyncio.sleep(0.01)

    return StreamingResponse(chunks(), media_type="application/x-ndjson")


async def slow(request: Request) -> Response:
    await asyncio.sleep(float(request.query_params.get("seconds", "30")))
    return JSONResponse({"late": True})


async def redirect(request: Request) -> Response:
    to = request.query_params["to"]
    return RedirectResponse(to, status_code=int(request.query_params.get("status", "302")))


async def status(request: Request) -> Response:
    code = int(request.path_params["code"])
    headers = (
        {"Retry-After": request.query_params["retry_after"]}
        if "retry_after" in request.query_params
        else {}
    )
    return Response(json.dumps({"status": code}), status_code=code, headers=headers)


def misbehaving_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/echo", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/big", big),
            Route("/gzip", gzipped),
            Route("/endless", endless),
            Route("/slow", slow),
            Route("/redirect", redirect, methods=["GET", "POST"]),
            Route("/status/{code:int}", status, methods=["GET", "POST"]),
        ]
    )
