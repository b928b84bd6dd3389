"""Stand-ins for the example shop's services (user, product, order), for ``meshgate demo``
and for the tests.

They answer the way the example config repo's flows expect a healthy shop to answer, and
``ShopState`` changes that on purpose: orders that get rejected, confirmation after more
polls, a user-service with an API key. One ``ShopState`` is shared by the three apps, as the
real services share a database.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

PRODUCTS = [
    {
        "id": "p-100",
        "name": "Espresso beans",
        "price": {"amount": 12.5, "currency": "EUR"},
        "in_stock": True,
    },
    {
        "id": "p-200",
        "name": "Milk jug",
        "price": {"amount": 19.0, "currency": "EUR"},
        "in_stock": True,
    },
    {
        "id": "p-300",
        "name": "Grinder",
        "price": {"amount": 149.0, "currency": "EUR"},
        "in_stock": False,
    },
]


@dataclass
class ShopState:
    api_key: str | None = None
    """When set, a request carrying another ``X-Api-Key`` is refused (401)."""
    polls_until_final: int = 2
    """GETs of an order that still see it PENDING."""
    final_status: str = "CONFIRMED"
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    """(service, method, path) of every request, in order."""
    seen_headers: list[dict[str, str]] = field(default_factory=list)
    gate: asyncio.Event | None = None
    """When set, every request waits until the event is set (a test holds a run mid-way)."""


def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok", "checks": {"database": "up"}})


def user_service(state: ShopState) -> Starlette:
    async def guard(request: Request) -> Response | None:
        state.requests.append(("user-service", request.method, request.url.path))
        state.seen_headers.append(dict(request.headers))
        given = request.headers.get("x-api-key")
        if given is not None and state.api_key is not None and given != state.api_key:
            return JSONResponse(
                {"error": "invalid api key"},
                status_code=401,
                headers={"WWW-Authenticate": "ApiKey"},
            )
        return None

    async def info(request: Request) -> Response:
        return await guard(request) or JSONResponse(
            {"version": "1.4.2", "build": {"commit": "3b1f0e2"}}
        )

    async def users(request: Request) -> Response:
        refused = await guard(request)
        if refused:
            return refused
        if request.method == "GET":
            email = request.query_params.get("email")
            limit = int(request.query_params.get("limit", "20"))
            found = [u for u in state.users.values() if email in (None, u["email"])][:limit]
            return JSONResponse({"items": found, "total": len(found)})
        body = await request.json()
        errors = []
        if not isinstance(body.get("name"), str) or not body["name"]:
            errors.append({"field": "name", "message": "must not be empty"})
        if not isinstance(body.get("email"), str) or "@" not in body["email"]:
            errors.append({"field": "email", "message": "must be an email address"})
        if errors:
            return JSONResponse({"errors": errors}, status_code=422)
        user = {
            "id": str(uuid.uuid4()),
            "name": body["name"],
            "email": body["email"],
            "roles": ["customer"],
            "created_at": datetime.now(UTC).isoformat(),
        }
        state.users[user["id"]] = user
        return JSONResponse(
            user,
            status_code=201,
            headers={"Location": f"/api/users/{user['id']}", "ETag": _etag(user)},
        )

    async def one_user(request: Request) -> Response:
        refused = await guard(request)
        if refused:
            return refused
        user_id = request.path_params["id"]
        user = state.users.get(user_id)
        if request.method == "DELETE":
            return Response(status_code=204 if state.users.pop(user_id, None) else 404)
        if user is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        if request.headers.get("if-none-match") == _etag(user):
            return Response(status_code=304, headers={"ETag": _etag(user)})
        return JSONResponse(user, headers={"ETag": _etag(user)})

    return Starlette(
        routes=[
            Route("/healthz", _healthz),
            Route("/info", info),
            Route("/api/users", users, methods=["GET", "POST"]),
            Route("/api/users/{id}", one_user, methods=["GET", "DELETE"]),
        ]
    )


def product_service(state: ShopState) -> Starlette:
    async def products(request: Request) -> Response:
        state.requests.append(("product-service", request.method, request.url.path))
        limit = int(request.query_params.get("limit", "20"))
        items = [
            p for p in PRODUCTS if request.query_params.get("in_stock") != "true" or p["in_stock"]
        ]
        return JSONResponse({"items": items[:limit]})

    async def product(request: Request) -> Response:
        state.requests.append(("product-service", request.method, request.url.path))
        found = next((p for p in PRODUCTS if p["id"] == request.path_params["id"]), None)
        return (
            JSONResponse(found) if found else JSONResponse({"error": "not found"}, status_code=404)
        )

    return Starlette(
        routes=[
            Route("/healthz", _healthz),
            Route("/api/products", products),
            Route("/api/products/{id}", product),
        ]
    )


def order_service(state: ShopState) -> Starlette:
    async def orders(request: Request) -> Response:
        state.requests.append(("order-service", request.method, request.url.path))
        body = await request.json()
        prices = {p["id"]: p["price"] for p in PRODUCTS}
        order = {
            "id": f"ord_{uuid.uuid4().hex[:10]}",
            "status": "PENDING",
            "user_id": body["user_id"],
            "currency": body.get("currency", "EUR"),
            "items": [
                {
                    "product_id": i["product_id"],
                    "quantity": i["quantity"],
                    "unit_price": prices[i["product_id"]],
                }
                for i in body["items"]
            ],
            "polls": 0,
        }
        state.orders[order["id"]] = order
        return JSONResponse(
            _public(order), status_code=201, headers={"Location": f"/api/orders/{order['id']}"}
        )

    async def one_order(request: Request) -> Response:
        state.requests.append(("order-service", request.method, request.url.path))
        order = state.orders.get(request.path_params["id"])
        if request.method == "DELETE":
            return Response(
                status_code=204 if state.orders.pop(request.path_params["id"], None) else 404
            )
        if order is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        order["polls"] += 1
        if order["polls"] > state.polls_until_final:
            order["status"] = state.final_status
        return JSONResponse(_public(order))

    return Starlette(
        routes=[
            Route("/healthz", _healthz),
            Route("/api/orders", orders, methods=["POST"]),
            Route("/api/orders/{id}", one_order, methods=["GET", "DELETE"]),
        ]
    )


def _gated(app: Starlette, state: ShopState) -> ASGIApp:
    async def gated(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and state.gate is not None:
            await state.gate.wait()
        await app(scope, receive, send)

    return gated


def _public(order: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in order.items() if k != "polls"}


def _etag(user: dict[str, Any]) -> str:
    return f'"{user["id"][:8]}"'


def shop_apps(state: ShopState) -> dict[str, ASGIApp]:
    """Service name → its app, every one held by ``state.gate`` when that is set."""
    return {
        "user-service": _gated(user_service(state), state),
        "product-service": _gated(product_service(state), state),
        "order-service": _gated(order_service(state), state),
    }
