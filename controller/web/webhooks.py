"""``POST /api/v1/webhooks/gitea`` and ``POST /api/v1/webhooks/argocd``: accept deliveries.

HTTP-level checks happen here, before the body reaches intake (``controller.web.params``): a
body over 1 MiB is refused with 413 whether or not it declares its length (it is read in
chunks and never kept past the cap), and a media type the sender cannot mean gets 415.
Argo CD's webhook service sends no ``Content-Type`` unless one is configured, so its route
accepts none.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from controller.intake.service import Intake
from controller.models.deliveries import RecordedDelivery
from controller.web.params import read_body, require_media

GITEA_MEDIA = ("application/json", "application/x-www-form-urlencoded")
ARGOCD_MEDIA = ("application/json", "")


def webhook_routes(*, intake: Intake) -> list[Route]:
    async def gitea(request: Request) -> Response:
        require_media(request, GITEA_MEDIA)
        body = await read_body(request)
        recorded = await intake.receive_gitea(
            headers=request.headers, body=body, integration=request.path_params.get("integration")
        )
        return _answer(recorded)

    async def argocd(request: Request) -> Response:
        require_media(request, ARGOCD_MEDIA)
        body = await read_body(request)
        recorded = await intake.receive_argocd(
            headers=request.headers, body=body, integration=request.path_params.get("integration")
        )
        return _answer(recorded)

    return [
        Route("/api/v1/webhooks/gitea", gitea, methods=["POST"]),
        Route("/api/v1/webhooks/gitea/{integration}", gitea, methods=["POST"]),
        Route("/api/v1/webhooks/argocd", argocd, methods=["POST"]),
        Route("/api/v1/webhooks/argocd/{integration}", argocd, methods=["POST"]),
        Route("/api/v1/integrations/webhooks/argocd", argocd, methods=["POST"]),
    ]


def _answer(recorded: RecordedDelivery) -> Response:
    delivery = recorded.delivery
    event = delivery.event
    body = {
        "delivery": delivery.id,
        "duplicate": recorded.duplicate,
        "integration": f"{delivery.workspace}/{delivery.integration}",
        "event": event.type,
        "trigger": event.trigger,
        "ignored_reason": event.ignored_reason,
    }
    return JSONResponse(body, status_code=200 if recorded.duplicate else 202)
