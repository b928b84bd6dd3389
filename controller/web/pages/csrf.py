"""CSRF protection for the dashboard's forms: the double-submit cookie.

A page with a form sets ``meshgate_csrf`` (random, ``SameSite=Strict``, HttpOnly) if the
browser has none and puts the same value in a hidden field; a form post is accepted only
when field and cookie agree (compared in constant time). Another site can make a browser post
to meshgate but can neither read the cookie nor set it, so it cannot fill in the field.
The API token a form also asks for is the real authorization; this only keeps a page on
another site from submitting it with a token the browser remembered.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from controller.errors import Forbidden

COOKIE = "meshgate_csrf"
FIELD = "csrf"


def csrf_token(request: Request) -> str:
    """The browser's token, or a new one (``remember`` it on the response)."""
    return request.cookies.get(COOKIE) or secrets.token_urlsafe(32)


def remember(response: Response, token: str) -> Response:
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
    return response


def require_csrf(request: Request, form: Mapping[str, str]) -> None:
    cookie = request.cookies.get(COOKIE, "")
    field = form.get(FIELD, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), field.encode()):
        raise Forbidden("the form is stale or came from another site: reload the page and retry")
