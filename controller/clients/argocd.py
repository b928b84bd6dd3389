"""The Argo CD REST API, as meshgate uses it: Applications created, read, listed and deleted
for test environments (argocd.md §2).

Only this module talks to Argo CD. What it guarantees:

- ``Authorization: Bearer <token>``, the token given per call (secret references resolve at
  each use) and never part of an error; redirects are not followed.
- ``get_application`` and ``delete_application`` always send ``project``: without it a
  missing Application answers 403, with it a clean 404 (argocd.md §2.4). A missing
  Application is ``None`` / ``False``, not an error.
- Create is idempotent on Argo CD's side (an identical Application answers 200); a different
  one with the same name is ``ApplicationConflict``: the caller decides whether to adopt it.
- Failures are classified: ``ArgoCDUnavailable`` (network, timeouts, 429, 5xx, "another
  operation is already in progress": try again later) and ``ArgoCDRejected`` (401 session,
  403 permission, 400 validation: nothing changes until someone fixes the config or RBAC).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from controller.clients.api_calls import error_message, request, success_body
from controller.errors import PermanentError, TemporaryError
from controller.settings import Secret

DEFAULT_TIMEOUT_SECONDS = 30.0
BUSY = "another operation is already in progress"
DIFFERENT = "existing application spec is different"


class ArgoCDUnavailable(TemporaryError):
    pass


class ArgoCDRejected(PermanentError):
    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class ApplicationConflict(ArgoCDRejected):
    """An Application of that name exists with another spec, labels or finalizers."""


class ArgoCDClient:
    def __init__(
        self,
        *,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._api = base_url.rstrip("/") + "/api/v1"
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            headers={"Accept": "application/json", "User-Agent": "meshgate"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> ArgoCDClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def create_application(
        self, application: dict[str, Any], *, token: Secret, upsert: bool = False
    ) -> dict[str, Any]:
        """``POST /applications``: the Application as Argo CD stored it."""
        params = {"upsert": "true" if upsert else "false", "validate": "true"}
        answer = await self._call(
            "POST", "/applications", token=token, json=application, params=params
        )
        return answer if isinstance(answer, dict) else {}

    async def get_application(
        self, name: str, *, project: str, token: Secret
    ) -> dict[str, Any] | None:
        """The Application, or ``None`` when there is none in ``project``."""
        answer = await self._call(
            "GET",
            f"/applications/{quote(name, safe='')}",
            token=token,
            params={"project": project},
            missing_ok=True,
        )
        return answer if isinstance(answer, dict) else None

    async def list_applications(self, *, selector: str, token: Secret) -> list[dict[str, Any]]:
        """Applications matching the label ``selector`` (``a=b,c=d``), sorted by name."""
        answer = await self._call(
            "GET", "/applications", token=token, params={"selector": selector}
        )
        items = answer.get("items") if isinstance(answer, dict) else None
        return [item for item in items or [] if isinstance(item, dict)]

    async def delete_application(
        self, name: str, *, project: str, token: Secret, cascade: bool = True
    ) -> bool:
        """Ask for the deletion (with ``cascade``, Argo CD removes the app's resources
        first and the Application stays until then); ``False`` when it is already gone."""
        answer = await self._call(
            "DELETE",
            f"/applications/{quote(name, safe='')}",
            token=token,
            params={"project": project, "cascade": "true" if cascade else "false"},
            missing_ok=True,
        )
        return answer is not None

    async def _call(
        self,
        method: str,
        path: str,
        *,
        token: Secret,
        json: Any = None,
        params: dict[str, str] | None = None,
        missing_ok: bool = False,
    ) -> Any:
        response, where = await request(
            self._client,
            method,
            self._api,
            path,
            authorization=f"Bearer {token.reveal()}",
            unavailable=ArgoCDUnavailable,
            json=json,
            params=params,
        )
        code = response.status_code
        if code == 200:
            body = success_body(response, where, unavailable=ArgoCDUnavailable)
            return {} if body is None else body
        message = error_message(response, "message", "error")
        if code == 404 and missing_ok:
            return None
        reason = f"{where}: Argo CD answered {code}" + (f": {message}" if message else "")
        if code == 400 and DIFFERENT in message:
            raise ApplicationConflict(reason, status=code)
        if code == 400 and BUSY in message:
            raise ArgoCDUnavailable(reason)
        if code in (408, 429) or code >= 500:
            raise ArgoCDUnavailable(reason)
        if code == 401:
            reason += " (the token is missing, invalid or expired)"
        elif code == 403:
            reason += " (the token's account lacks RBAC on the project or application)"
        raise ArgoCDRejected(reason, status=code)
