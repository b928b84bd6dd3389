"""The Gitea REST API, as meshgate uses it: commit statuses and one pull-request comment.

Only this module talks to Gitea. What it guarantees:

- Requests carry ``Authorization: token <token>``; the token never appears in an error, a
  log line or a returned value (errors quote Gitea's own message, which never echoes it).
- Redirects are not followed. Gitea answers a renamed repository with 301, and a client
  that follows it turns a status POST into a GET that "succeeds" against the list endpoint
  (gitea.md §3.5); here any 3xx is a ``GiteaRejected`` that names the new location.
- Failures are classified for the caller's retry policy (gitea.md §4):
  ``GiteaUnavailable`` (network errors, timeouts, 429, 502/503/504; retry with backoff, with
  ``retry_after`` when the answer gave one), ``GiteaServerError`` (500, which Gitea also
  answers for a SHA it does not have: retry a few times only) and ``GiteaRejected``
  (400/401/403/404/422 and anything else unexpected: do not retry until something changes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from controller.clients.api_calls import error_message, request, success_body
from controller.errors import PermanentError, TemporaryError
from controller.models.http import retry_after_seconds
from controller.settings import Secret

DEFAULT_TIMEOUT_SECONDS = 10.0
TEMPORARY_STATUSES = frozenset({429, 502, 503, 504})


class GiteaUnavailable(TemporaryError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GiteaServerError(TemporaryError):
    """Gitea answered 500: a transient fault, or a commit it does not know."""


class GiteaRejected(PermanentError):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class StatusBody:
    """``CreateStatusOption``: the four fields Gitea reads."""

    state: str
    context: str
    description: str
    target_url: str

    def to_json(self) -> dict[str, str]:
        return {
            "state": self.state,
            "target_url": self.target_url,
            "description": self.description,
            "context": self.context,
        }


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    body: str
    author: str


class GiteaClient:
    """One Gitea instance (``base_url``, with any sub-path, e.g. ``https://host/git``) and its
    connection pool; ``aclose`` when done. The token is given per call: secret references
    are resolved at each use, so a rotated token takes effect at once."""

    def __init__(
        self,
        *,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        max_connections: int = 16,
    ) -> None:
        self._api = base_url.rstrip("/") + "/api/v1"
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            headers={"Accept": "application/json", "User-Agent": "meshgate"},
        )

    @property
    def api_url(self) -> str:
        return self._api

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> GiteaClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def create_status(
        self, repository: str, sha: str, status: StatusBody, *, token: Secret
    ) -> None:
        """``POST /repos/{owner}/{repo}/statuses/{sha}``; ``repository`` is ``owner/repo``."""
        path = f"{_repo_path(repository)}/statuses/{quote(sha, safe='')}"
        await self._call("POST", path, token=token, json=status.to_json(), expect=(201,))

    async def list_comments(self, repository: str, number: int, *, token: Secret) -> list[Comment]:
        """Every comment of issue or pull request ``number``, oldest first (Gitea does not
        paginate this list: its OpenAPI document has no ``page``/``limit`` for it)."""
        answer = await self._call(
            "GET", f"{_repo_path(repository)}/issues/{number}/comments", token=token, expect=(200,)
        )
        items = answer if isinstance(answer, list) else []
        return [_comment(item) for item in items if isinstance(item, dict)]

    async def create_comment(
        self, repository: str, number: int, body: str, *, token: Secret
    ) -> Comment:
        answer = await self._call(
            "POST",
            f"{_repo_path(repository)}/issues/{number}/comments",
            token=token,
            json={"body": body},
            expect=(201,),
        )
        return _comment(answer)

    async def edit_comment(
        self, repository: str, comment_id: int, body: str, *, token: Secret
    ) -> None:
        await self._call(
            "PATCH",
            f"{_repo_path(repository)}/issues/comments/{comment_id}",
            token=token,
            json={"body": body},
            expect=(200, 204),
        )

    async def _call(
        self,
        method: str,
        path: str,
        *,
        token: Secret,
        expect: tuple[int, ...],
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        response, where = await request(
            self._client,
            method,
            self._api,
            path,
            authorization=f"token {token.reveal()}",
            unavailable=GiteaUnavailable,
            json=json,
            params=params,
        )
        code = response.status_code
        if code in expect:
            return success_body(response, where, unavailable=GiteaUnavailable)
        message = error_message(response, "message")
        reason = f"{where}: Gitea answered {code}" + (f": {message}" if message else "")
        if code in TEMPORARY_STATUSES:
            hinted = retry_after_seconds(response.headers.get("retry-after"))
            raise GiteaUnavailable(reason, retry_after=hinted)
        if code == 500:
            raise GiteaServerError(
                reason + " (also what Gitea answers for a commit it does not have)"
            )
        if 300 <= code < 400:
            moved = response.headers.get("location", "")
            raise GiteaRejected(
                f"{reason}; the repository moved to {moved or 'an unnamed place'}: "
                "update the repository or integration URL",
                status=code,
            )
        raise GiteaRejected(reason, status=code)


def _repo_path(repository: str) -> str:
    owner, _, name = repository.partition("/")
    if not owner or not name or "/" in name:
        raise GiteaRejected(f"{repository!r} is not an owner/repo name")
    return f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"


def _comment(item: Any) -> Comment:
    if not isinstance(item, dict) or not isinstance(item.get("id"), int):
        raise GiteaUnavailable("Gitea answered a comment without an id")
    user = item.get("user")
    if not isinstance(user, dict):
        user = {}
    return Comment(
        id=item["id"], body=str(item.get("body") or ""), author=str(user.get("login") or "")
    )
