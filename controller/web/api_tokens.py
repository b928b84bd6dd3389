"""API tokens (``MESHGATE_API_TOKENS``): what every write through the API must present.

Tokens are compared in constant time by the same code that checks Argo CD's webhook token
(``Authorization: Bearer <token>``, or Basic auth with the token as password). With no token
configured, writes are refused outright (403): an install that never set one must not accept
anonymous runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.requests import Request

from controller.errors import Forbidden, Unauthenticated
from controller.intake.auth import describe_bearer_failure
from controller.settings import Secret


def require_api_token(request: Request, tokens: Sequence[Secret]) -> None:
    _check(request.headers, tokens)


def require_api_token_value(token: str, tokens: Sequence[Secret]) -> None:
    """The same check for a token typed into a dashboard form."""
    _check({"authorization": f"Bearer {token}"}, tokens)


def _check(headers: Mapping[str, str], tokens: Sequence[Secret]) -> None:
    if not tokens:
        raise Forbidden("this needs an API token, and none is configured (MESHGATE_API_TOKENS)")
    failure = describe_bearer_failure(headers, tokens)
    if failure is not None:
        raise Unauthenticated(f"API token required: {failure}")
