"""Request ids: every request gets one (the caller's ``X-Request-Id`` when it is short and
plain, else a new one), answered in ``X-Request-Id`` and put on every log line written while
serving it (``controller.logs``). Pure ASGI, so it costs the webhook path a header lookup and
a context variable, not a middleware stack."""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from controller import logs

HEADER = b"x-request-id"
_PLAIN = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == HEADER), b"")
        request_id = given if _PLAIN.match(given) else uuid.uuid4().hex[:16].encode()
        token = logs.request_id.set(request_id.decode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (HEADER, request_id)]
            await send(message)

        try:
            await self._app(scope, receive, send_with_id)
        finally:
            logs.request_id.reset(token)
