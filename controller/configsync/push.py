"""Refresh the config at once when Gitea reports a push to the config repo's branch.

Polling stays the guarantee (a webhook can be lost or never configured); the push only makes
a merged change apply in seconds instead of one poll interval. The pushed revision is still
validated, and an invalid one still leaves the last known good revision serving.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from controller.configsync.service import ConfigSync
from controller.models.deliveries import RecordedDelivery
from controller.models.repo_urls import RepoAddress

log = logging.getLogger(__name__)


class ConfigPushTrigger:
    """Called with every newly recorded delivery (``Intake(on_recorded=...)``)."""

    def __init__(
        self,
        *,
        sync: ConfigSync,
        repo_url: str,
        branch: str,
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
    ) -> None:
        self._sync = sync
        self._address = RepoAddress.parse(repo_url)
        self._branch = branch
        self._spawn = spawn

    def is_config_push(self, recorded: RecordedDelivery) -> bool:
        event = recorded.delivery.event
        return (
            self._address is not None
            and event.source == "gitea"
            and event.type == "push"
            and event.branch == self._branch
            and RepoAddress.parse(event.repo_url) == self._address
        )

    def __call__(self, recorded: RecordedDelivery) -> None:
        if self.is_config_push(recorded):
            log.info("push to the config repo (delivery %d): refreshing now", recorded.delivery.id)
            self._spawn(self._sync.refresh(reason="push webhook"))
