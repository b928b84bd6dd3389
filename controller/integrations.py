"""Reaching an integration of the live config: its API client and, at each use, its token.

One client (connection pool) per base URL, kept for the life of the process. The token is
resolved from the integration's ``secrets.token`` reference on every call, so a rotated
token file takes effect without a restart; an integration that is gone from the live config
(or is of another provider), or whose token cannot be read, is a ``PermanentError``: the
work waits for a change of config.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

from controller.errors import PermanentError, TemporaryError
from controller.models.snapshot import ConfigSnapshot
from controller.secretrefs import SecretResolver
from controller.settings import Secret


class IntegrationGone(PermanentError):
    pass


class Closable(Protocol):
    def aclose(self) -> Awaitable[None]: ...


C = TypeVar("C", bound=Closable)


class IntegrationClients(Generic[C]):
    def __init__(
        self,
        *,
        provider: str,
        config: Callable[[], ConfigSnapshot | None],
        secrets: SecretResolver,
        client_factory: Callable[[str], C],
    ) -> None:
        """``client_factory`` builds the client of a base URL (tests give a transport)."""
        self._provider = provider
        self._config = config
        self._secrets = secrets
        self._client_factory = client_factory
        self._clients: dict[str, C] = {}

    def client_for(self, workspace: str, integration: str) -> tuple[C, Secret]:
        snapshot = self._config()
        if snapshot is None:
            raise TemporaryError("no valid config is loaded yet")
        doc = snapshot.get(workspace, "Integration", integration)
        if doc is None or doc.spec.get("provider") != self._provider:
            raise IntegrationGone(
                f"{self._provider} integration {integration!r} of workspace {workspace!r} is "
                f"not in the live config (revision {snapshot.revision})"
            )
        url = str(doc.spec.get("config", {}).get("url", "")).rstrip("/")
        token = self._secrets.resolve(doc.spec.get("secrets", {}).get("token", {}))
        client = self._clients.get(url)
        if client is None:
            client = self._clients[url] = self._client_factory(url)
        return client, token

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
