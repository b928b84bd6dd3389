"""Sample normalized events shared by the delivery tests."""

from __future__ import annotations

from controller.models.events import Event

PUSH = Event(
    source="gitea",
    type="push",
    trigger=True,
    repository="shop/checkout",
    ref="refs/heads/main",
    branch="main",
    revision="a" * 40,
    repo_url="https://gitea.example/shop/checkout.git",
    delivery_id="d-1",
    sender="alice",
)
SYNC = Event(
    source="argocd",
    type="sync",
    trigger=True,
    repository="checkout-staging",
    revision="b" * 40,
    revisions=("b" * 40, "1.2.3"),
    app_health="Healthy",
    app_sync_status="Synced",
)
