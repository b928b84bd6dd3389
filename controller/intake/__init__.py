"""Intake: turn authenticated webhook bodies into normalized ``Event`` values (DESIGN.md §3).

Pure functions, no I/O: the web layer authenticates the request (Gitea HMAC over the raw body,
Argo CD bearer token), then calls ``normalize_gitea`` or ``normalize_argocd``. Both raise
``InvalidPayload`` (a ``PermanentError``: answer 400, never retry) for a body that cannot be
understood; every understood delivery becomes an ``Event``, triggering or not.
"""

from controller.intake._payload import InvalidPayload
from controller.intake.argocd_events import normalize_argocd
from controller.intake.gitea_events import normalize_gitea

__all__ = ["InvalidPayload", "normalize_argocd", "normalize_gitea"]
