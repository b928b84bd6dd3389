"""Reaching a Gitea integration of the live config: its client and, at each use, its token.

One ``GiteaClient`` (connection pool) per Gitea base URL, kept for the life of the process.
The token is resolved from the integration's secret reference on every call, so a rotated
token file takes effect without a restart; an integration that is gone from the live
config, or whose token cannot be read, is a ``PermanentError``: posting waits for a change.
"""

from __future__ import annotations

from collections.abc import Callable

from controller.clients.gitea import GiteaClient
from controller.errors import PermanentError, TemporaryError
from controller.models.snapshot import ConfigSnapshot
from controller.secretrefs import SecretResolver
from controller.settings import Secret


class IntegrationGone(PermanentError):
    pass


class GiteaAccess:
    def __init__(
        self,
        *,
        config: Callable[[], ConfigSnapshot | None],
        secrets: SecretResolver,
        client_factory: Callable[[str], GiteaClient] = lambda url: GiteaClient(base_url=url),
    ) -> None:
        """``client_factory`` builds the client of a base URL (tests give a transport)."""
        self._config = config
        self._secrets = secrets
        self._client_factory = client_factory
        self._clients: dict[str, GiteaClient] = {}

    def client_for(self, workspace: str, integration: str) -> tuple[GiteaClient, Secret]:
        snapshot = self._config()
        if snapshot is None:
            raise TemporaryError("no valid config is loaded yet")
        doc = snapshot.get(workspace, "Integration", integration)
        if doc is None or doc.spec.get("provider") != "gitea":
            raise IntegrationGone(
                f"Gitea integration {integration!r} of workspace {workspace!r} is not in the "
                f"live config (revision {snapshot.revision})"
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
