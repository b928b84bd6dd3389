"""``POST /api/v1/webhooks/gitea`` and ``POST /api/v1/webhooks/argocd``: accept deliveries.

HTTP-level checks happen here, before the body reaches intake: a body over ``MAX_BODY_BYTES``
is refused with 413 whether or not it declares its length (it is read in chunks and never
kept past the cap), and a media type the sender cannot mean gets 415. Argo CD's webhook
service sends no ``Content-Type`` unless one is configured, so its route accepts none.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from controller.intake.service import Intake
from controller.models.deliveries import RecordedDelivery

MAX_BODY_BYTES = 1 << 20
GITEA_MEDIA = ("application/json", "application/x-www-form-urlencoded")
ARGOCD_MEDIA = ("application/json", "")


def webhook_routes(*, intake: Intake) -> list[Route]:
    async def gitea(request: Request) -> Response:
        _require_media(request, GITEA_MEDIA)
        body = await _read_body(request)
        recorded = await intake.receive_gitea(
            headers=request.headers, body=body, integration=request.path_params.get("integration")
        )
        return _answer(recorded)

    async def argocd(request: Request) -> Response:
        _require_media(request, ARGOCD_MEDIA)
        body = await _read_body(request)
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


def _require_media(request: Request, accepted: tuple[str, ...]) -> None:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in accepted:
        shown = ", ".join(m for m in accepted if m) or "none"
        raise HTTPException(415, f"unsupported content type {media or 'none'!r}; use {shown}")


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(400, "invalid Content-Length header")
        if int(declared) > MAX_BODY_BYTES:
            raise HTTPException(413, f"body larger than {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(413, f"body larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


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
