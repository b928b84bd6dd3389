"""The Gitea integrations of the live config (``controller.integrations``), as statuses and
comments reach them."""

from __future__ import annotations

from collections.abc import Callable

from controller.clients.gitea import GiteaClient
from controller.integrations import IntegrationClients
from controller.models.snapshot import ConfigSnapshot
from controller.secretrefs import SecretResolver


class GiteaAccess(IntegrationClients[GiteaClient]):
    def __init__(
        self,
        *,
        config: Callable[[], ConfigSnapshot | None],
        secrets: SecretResolver,
        client_factory: Callable[[str], GiteaClient] = lambda url: GiteaClient(base_url=url),
    ) -> None:
        super().__init__(
            provider="gitea", config=config, secrets=secrets, client_factory=client_factory
        )
