"""Intake: authenticate a webhook delivery, normalize it, match it, and record it durably.

The order is the contract: authenticate first (nothing is stored for a request that does not
prove where it comes from), then parse, then match (pure, microseconds), then write the
delivery, its decisions and its queued runs in one transaction. A delivery is acknowledged
only after that commit, or after it was found to repeat one that was; if the database cannot
take it within ``write_timeout`` the caller gets a ``TemporaryError`` (HTTP 503), so Gitea and
Argo CD record a failed delivery that can be re-sent. One config snapshot serves a whole
delivery: the secrets that verified it are those of the revision it is matched against.
Nothing slow runs here: suites run later, from the queued rows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from controller.errors import StorageUnavailable, Unauthenticated
from controller.intake.argocd_events import normalize_argocd
from controller.intake.auth import (
    describe_bearer_failure,
    describe_gitea_failure,
    gitea_signed_bytes,
    matching_secret_index,
    matching_token_index,
)
from controller.intake.gitea_events import normalize_gitea
from controller.matcher.service import Matcher
from controller.models.deliveries import RecordedDelivery
from controller.models.documents import ConfigDocument
from controller.models.events import Event
from controller.models.snapshot import ConfigSnapshot, require_loaded
from controller.secretrefs import SecretResolver, SecretUnavailable
from controller.settings import Secret
from controller.storage import Storage

log = logging.getLogger(__name__)

GITEA_SECRET_KEYS = ("webhook_secret",)
ARGOCD_TOKEN_KEYS = ("webhook_token", "webhook_token_previous")


class Intake:
    def __init__(
        self,
        *,
        storage: Storage,
        config: Callable[[], ConfigSnapshot | None],
        secrets: SecretResolver,
        matcher: Matcher,
        on_recorded: Callable[[RecordedDelivery], None] = lambda recorded: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        write_timeout: float = 2.0,
    ) -> None:
        """``on_recorded`` is told of every new (not duplicate) delivery once it is committed
        (the composition root refreshes the config on a push to the config repo); it must
        not block."""
        self._storage = storage
        self._config = config
        self._secrets = secrets
        self._matcher = matcher
        self._on_recorded = on_recorded
        self._clock = clock
        self._write_timeout = write_timeout

    async def receive_gitea(
        self, *, headers: Mapping[str, str], body: bytes, integration: str | None = None
    ) -> RecordedDelivery:
        signed = gitea_signed_bytes(body, headers)
        snapshot = self._snapshot()
        candidates, secrets, owners = self._credentials(
            snapshot, "gitea", integration, GITEA_SECRET_KEYS
        )
        index = matching_secret_index(signed, headers, secrets)
        if index is None:
            reason = describe_gitea_failure(signed, headers, secrets) or "not authenticated"
            raise Unauthenticated(_why(reason, "Gitea", integration, candidates))
        return await self._record(snapshot, owners[index], normalize_gitea(headers, body), body)

    async def receive_argocd(
        self, *, headers: Mapping[str, str], body: bytes, integration: str | None = None
    ) -> RecordedDelivery:
        snapshot = self._snapshot()
        candidates, tokens, owners = self._credentials(
            snapshot, "argocd", integration, ARGOCD_TOKEN_KEYS
        )
        index = matching_token_index(headers, tokens)
        if index is None:
            reason = describe_bearer_failure(headers, tokens) or "not authenticated"
            raise Unauthenticated(_why(reason, "Argo CD", integration, candidates))
        return await self._record(snapshot, owners[index], normalize_argocd(body), body)

    def _snapshot(self) -> ConfigSnapshot:
        return require_loaded(self._config(), "deliveries cannot be verified")

    def _credentials(
        self, snapshot: ConfigSnapshot, provider: str, name: str | None, keys: Sequence[str]
    ) -> tuple[list[ConfigDocument], list[Secret], list[ConfigDocument]]:
        """The candidate integrations, every secret they accept, and each secret's owner."""
        candidates = snapshot.integrations(provider, name=name)
        secrets: list[Secret] = []
        owners: list[ConfigDocument] = []
        for doc in candidates:
            for secret in self._resolve(doc, keys):
                secrets.append(secret)
                owners.append(doc)
        return candidates, secrets, owners

    def _resolve(self, doc: ConfigDocument, keys: Sequence[str]) -> list[Secret]:
        resolved = []
        for key in keys:
            ref = doc.spec.get("secrets", {}).get(key)
            if ref is None:
                continue
            try:
                resolved.append(self._secrets.resolve(ref))
            except SecretUnavailable as exc:
                log.warning("integration %s/%s: secret %s: %s", doc.workspace, doc.name, key, exc)
        return resolved

    async def _record(
        self, snapshot: ConfigSnapshot, owner: ConfigDocument, event: Event, body: bytes
    ) -> RecordedDelivery:
        match = self._matcher.match(event, snapshot=snapshot, integration=owner)
        try:
            async with asyncio.timeout(self._write_timeout):
                recorded = await self._storage.record_delivery(
                    source=event.source,
                    delivery_id=event.delivery_id,
                    integration=owner.name,
                    workspace=owner.workspace,
                    event=event,
                    body=body,
                    received_at=self._clock(),
                    match=match.report,
                    runs=match.runs,
                )
        except TimeoutError as exc:
            raise StorageUnavailable(
                f"the database did not take the delivery within {self._write_timeout:g}s"
            ) from exc
        if not recorded.duplicate:
            self._on_recorded(recorded)
        return recorded


def _why(reason: str, provider: str, name: str | None, candidates: list[ConfigDocument]) -> str:
    if candidates:
        return reason
    if name is not None:
        return f"no {provider} integration named {name!r} is configured"
    return f"no {provider} integration is configured"
