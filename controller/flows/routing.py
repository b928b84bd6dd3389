"""Where each logical service of a run lives, and the only hosts its requests may reach.

A run's routing policy comes from its environment (a template's ``routing_policy``, rendered
for the run's context) or from a manual run's explicit routes. Flows address services by
name (``service: user-service``, ``path: /api/users``) or, where they must, by an absolute
URL; either way the request may only go to an origin the policy names. That keeps secrets
and test traffic away from every other host (cloud metadata endpoints included).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from controller.clients.services import same_origin
from controller.errors import PermanentError

RoutedTo = Literal["under_test", "shared"]


class RoutingError(PermanentError):
    """A service the policy does not route, or a URL outside the policy's hosts."""


@dataclass(frozen=True, slots=True)
class Route:
    url: str
    routed_to: RoutedTo = "under_test"
    """``under_test``: the environment the run tests; ``shared``: a service borrowed from
    elsewhere (staging). ``requires`` runs a flow only when its services are under test."""


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    routes: Mapping[str, Route]

    @classmethod
    def of(cls, urls: Mapping[str, str]) -> RoutingPolicy:
        """Every service under test (a static environment, or routes given by hand);
        raises ``RoutingError`` for a URL that is not absolute http(s)."""
        for name, url in urls.items():
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise RoutingError(f"service {name!r}: {url!r} is not an http(s) URL with a host")
        return cls({name: Route(url.rstrip("/")) for name, url in urls.items()})

    def url_for(self, service: str, path: str) -> str:
        """The service's base URL joined with ``path``. A path starts with ``/``, so it can
        never change the host: the result is always on the service's own origin."""
        route = self.routes.get(service)
        if route is None:
            known = ", ".join(sorted(self.routes)) or "none"
            raise RoutingError(
                f"service {service!r} is not in the run's routing policy (routed: {known})"
            )
        if not path.startswith("/"):
            raise RoutingError(f"path {path!r} must start with '/'")
        return route.url + path

    def allows(self, url: str) -> bool:
        """Whether ``url`` is on an origin of a routed service."""
        return any(same_origin(url, route.url) for route in self.routes.values())

    def unmet(self, required: list[str]) -> str:
        """Why a flow requiring ``required`` cannot run here (empty: it can)."""
        missing = [name for name in required if name not in self.routes]
        if missing:
            return f"requires {', '.join(missing)}, which the routing policy does not route"
        shared = [name for name in required if self.routes[name].routed_to != "under_test"]
        if shared:
            return (
                f"requires {', '.join(shared)} under test, but the routing policy sends "
                f"{'it' if len(shared) == 1 else 'them'} to a shared environment"
            )
        return ""

    def scope(self) -> dict[str, Any]:
        """``services.<name>.url`` and ``.routed_to`` for templates."""
        return {
            name: {"url": route.url, "routed_to": route.routed_to}
            for name, route in self.routes.items()
        }

    def described(self) -> tuple[tuple[str, str], ...]:
        return tuple(
            (name, f"{route.routed_to}:{route.url}") for name, route in sorted(self.routes.items())
        )
