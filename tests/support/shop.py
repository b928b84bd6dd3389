"""The example shop's stand-ins (``controller.demo.shop``) served on loopback for tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from controller.demo.shop import ShopState, shop_apps
from tests.support.server import serving

__all__ = ["ShopState", "running_shop"]


@contextlib.asynccontextmanager
async def running_shop(state: ShopState) -> AsyncIterator[dict[str, str]]:
    """The three services on loopback; yields service name → base URL."""
    apps = shop_apps(state)
    async with (
        serving(apps["user-service"]) as users,
        serving(apps["product-service"]) as products,
        serving(apps["order-service"]) as orders,
    ):
        yield {"user-service": users, "product-service": products, "order-service": orders}
