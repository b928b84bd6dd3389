"""Gitea webhook fixtures and signing, shared by the webhook acceptance tests.

The fixtures live in the team's ``shared/`` folder beside the repository
(``shared/fixtures/gitea/README.md`` says what each one is); every assembled body is signed
with ``GITEA_SECRET``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
FIXTURES = SHARED / "fixtures" / "gitea" / "assembled"
VERBATIM = SHARED / "fixtures" / "gitea" / "verbatim"
GITEA_SECRET = "gitea-fixture-secret"
ARGOCD_TOKEN = "argocd-webhook-token-1234"
HEADER_FILES = sorted(FIXTURES.glob("webhook-*.headers.json"))


def fixture_request(headers_file: Path) -> tuple[dict[str, str], bytes]:
    """The headers and exact body bytes of one assembled delivery."""
    spec = json.loads(headers_file.read_text())
    body = (FIXTURES / spec["body_file"]).read_bytes()
    return spec["headers"], body


def gitea_signature(body: bytes, secret: str = GITEA_SECRET) -> str:
    """``X-Gitea-Signature`` for ``body``: bare lowercase hex HMAC-SHA256."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed(body: bytes, event: str = "push") -> dict[str, str]:
    """Minimal Gitea headers for ``body``, correctly signed with ``GITEA_SECRET``."""
    return {
        "Content-Type": "application/json",
        "X-Gitea-Event": event,
        "X-Gitea-Delivery": hashlib.md5(body).hexdigest(),
        "X-Gitea-Signature": gitea_signature(body),
    }


USER_SERVICE_REPO = "https://gitea.shop.internal/shop/user-service.git"
ARGOCD_HEADERS = {"Authorization": f"Bearer {ARGOCD_TOKEN}", "Content-Type": "application/json"}


def argocd_body(app: str, revision: str, repository: str = USER_SERVICE_REPO) -> bytes:
    """The TestMesh guide's Argo CD notification body for a Synced and Healthy ``app``."""
    return json.dumps(
        {
            "app_name": app,
            "revision": revision,
            "repository": repository,
            "status": "Synced",
            "health": "Healthy",
        }
    ).encode()


def closed_pull_request(repository: str, number: int) -> tuple[bytes, dict[str, str]]:
    """Gitea's "closed (merged)" delivery, re-aimed at ``repository`` and ``number``."""
    body = json.loads((FIXTURES / "webhook-pull_request-closed-merged.json").read_text())
    owner, name = repository.split("/")
    body["number"] = body["pull_request"]["number"] = number
    body["repository"].update(full_name=repository, name=name)
    body["repository"]["owner"]["login"] = owner
    raw = json.dumps(body).encode()
    return raw, signed(raw, "pull_request")
