"""``POST /api/v1/webhooks/gitea`` and ``POST /api/v1/webhooks/argocd``: accept deliveries.

HTTP-level checks happen here, before the body reaches intake (``controller.web.params``): a
body over 1 MiB is refused with 413 whether or not it declares its length (it is read in
chunks and never kept past the cap), and a media type the sender cannot mean gets 415.
Argo CD's webhook service sends no ``Content-Type`` unless one is configured, so its route
accepts none.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from controller.errors import PermanentError, TemporaryError, Unauthenticated
from controller.intake.service import Intake
from controller.metrics import Metrics
from controller.models.deliveries import RecordedDelivery
from controller.web.params import read_body, require_media

Receive = Callable[..., Awaitable[RecordedDelivery]]
Endpoint = Callable[[Request], Awaitable[Response]]
GITEA_MEDIA = ("application/json", "application/x-www-form-urlencoded")
ARGOCD_MEDIA = ("application/json", "")


def webhook_routes(*, intake: Intake, metrics: Metrics) -> list[Route]:
    def receiver(source: str, media: tuple[str, ...], receive: Receive) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            with _counted(metrics, source) as count:
                require_media(request, media)
                body = await read_body(request)
                recorded = await receive(
                    headers=request.headers,
                    body=body,
                    integration=request.path_params.get("integration"),
                )
                return count(_answer(recorded), recorded)

        return endpoint

    gitea = receiver("gitea", GITEA_MEDIA, intake.receive_gitea)
    argocd = receiver("argocd", ARGOCD_MEDIA, intake.receive_argocd)

    return [
        Route("/api/v1/webhooks/gitea", gitea, methods=["POST"]),
        Route("/api/v1/webhooks/gitea/{integration}", gitea, methods=["POST"]),
        Route("/api/v1/webhooks/argocd", argocd, methods=["POST"]),
        Route("/api/v1/webhooks/argocd/{integration}", argocd, methods=["POST"]),
        Route("/api/v1/integrations/webhooks/argocd", argocd, methods=["POST"]),
    ]


@contextlib.contextmanager
def _counted(
    metrics: Metrics, source: str
) -> Iterator[Callable[[Response, RecordedDelivery], Response]]:
    """Count the request's outcome: ``accepted`` or ``duplicate``, else what refused it
    (``unauthenticated``, ``rejected`` for any other 4xx, ``unavailable``)."""

    def count(response: Response, recorded: RecordedDelivery) -> Response:
        outcome = "duplicate" if recorded.duplicate else "accepted"
        metrics.webhook_answered(source=source, outcome=outcome)
        return response

    try:
        yield count
    except Unauthenticated:
        metrics.webhook_answered(source=source, outcome="unauthenticated")
        raise
    except (PermanentError, HTTPException):
        metrics.webhook_answered(source=source, outcome="rejected")
        raise
    except TemporaryError:
        metrics.webhook_answered(source=source, outcome="unavailable")
        raise


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
