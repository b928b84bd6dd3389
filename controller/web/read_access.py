"""Read access (``MESHGATE_READ_TOKENS``): open by default, a token for exposed installs.

Without read tokens every read is open, as on a laptop or behind a private network. With
them, every page and every ``GET`` of the API (``/metrics`` included) needs one of them, or
an API token: as ``Authorization: Bearer`` (scripts, Prometheus) or as the ``meshgate_read``
cookie that ``/login`` sets in a browser (``HttpOnly``, ``SameSite=Strict``; it holds an HMAC
of the token, not the token). A page asked for without it redirects to ``/login``, an API
read answers 401. Always open: the health checks, the stylesheet and script, ``/login``
itself, and the webhooks and writes, which have their own authentication.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from controller.intake.auth import verify_bearer
from controller.settings import Secret
from controller.web.pages.rendering import Pages
from controller.web.params import form_fields

COOKIE = "meshgate_read"
OPEN_PREFIXES = ("/static/", "/api/v1/webhooks/", "/api/v1/integrations/webhooks/")
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/login"})


def cookie_value(token: Secret) -> str:
    return hmac.new(token.reveal().encode(), b"meshgate-read-cookie", hashlib.sha256).hexdigest()


class ReadAccess:
    def __init__(self, app: ASGIApp, *, tokens: Sequence[Secret]) -> None:
        self._app = app
        self._tokens = tuple(tokens)
        self._cookies = tuple(cookie_value(token) for token in tokens)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._tokens or self._open(scope):
            await self._app(scope, receive, send)
            return
        request = Request(scope)
        if verify_bearer(request.headers, self._tokens) or self._cookie_ok(request):
            await self._app(scope, receive, send)
            return
        response: Response
        if request.url.path.startswith("/api/") or request.url.path == "/metrics":
            response = JSONResponse(
                {"error": {"type": "Unauthenticated", "message": "a read token is required"}},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        await response(scope, receive, send)

    @staticmethod
    def _open(scope: Scope) -> bool:
        path: str = scope["path"]
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return True
        # Writes authenticate themselves (API token, webhook signature).
        return scope["method"] not in ("GET", "HEAD")

    def _cookie_ok(self, request: Request) -> bool:
        given = request.cookies.get(COOKIE, "")
        return any(hmac.compare_digest(given, expected) for expected in self._cookies)


def login_routes(*, tokens: Sequence[Secret], pages: Pages) -> list[Route]:
    """``/login``: a form asking for a read (or API) token, which sets the read cookie."""

    async def form(request: Request) -> Response:
        target = _safe_next(request.query_params.get("next", "/"))
        return pages.render(request, "login.html", signed_in=False, target=target, problem="")

    async def submit(request: Request) -> Response:
        fields = await form_fields(request)
        target = _safe_next(fields.get("next", "/"))
        token = fields.get("token", "")
        matching = [t for t in tokens if hmac.compare_digest(t.reveal().encode(), token.encode())]
        if not matching:
            return pages.render(
                request,
                "login.html",
                status_code=401,
                signed_in=False,
                target=target,
                problem="That token is not valid here.",
            )
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE, cookie_value(matching[0]), httponly=True, samesite="strict", path="/"
        )
        return response

    return [
        Route("/login", form, methods=["GET"]),
        Route("/login", submit, methods=["POST"]),
    ]


def _safe_next(target: str) -> str:
    """Only a path on this server: never another site (``//evil.example``, ``https://...``)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
