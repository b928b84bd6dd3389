"""Running a suite written as YAML against an ``httpx.MockTransport`` handler (or, with
``handler=None``, against the real services of ``routes``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from controller.clients.services import ServiceClient
from controller.flows import Listeners, RoutingPolicy, SuiteResult, plan_suite, run_suite
from controller.runner.config_files import no_config_files
from controller.runner.preparation import step_environment, template_roots
from tests.support.config import snapshot_of

HEADER = "apiVersion: meshgate.dev/v1alpha1\n"
ROUTES = {"api": "http://api.test", "other": "http://other.test:8080"}

Handler = Callable[[httpx.Request], Any]


def suite_yaml(spec: str, *, name: str = "s") -> str:
    body = "\n".join("  " + line if line else line for line in spec.strip("\n").splitlines())
    return f"{HEADER}kind: Suite\nmetadata:\n  name: {name}\nspec:\n{body}\n"


async def run_yaml(
    text: str,
    handler: Handler | None,
    *,
    routes: Mapping[str, str] = ROUTES,
    secrets: Mapping[str, str] | None = None,
    suite: str = "s",
    listeners: Listeners | None = None,
) -> SuiteResult:
    snapshot = snapshot_of(text)
    plan = plan_suite(snapshot, "default", suite)
    routing = RoutingPolicy.of(routes)
    transport = None if handler is None else httpx.MockTransport(handler)
    async with ServiceClient(transport=transport) as client:
        env = step_environment(
            plan, client=client, routing=routing, secrets=secrets or {}, load_schema=no_config_files
        )
        roots = template_roots(
            run={"id": "r1"}, routing=routing, secrets=secrets or {}, context=None
        )
        return await run_suite(plan, roots=roots, env=env, listeners=listeners or Listeners())


def steps_of(result: SuiteResult, flow: int = 0) -> dict[str, tuple[str, str, str]]:
    """step name → (status, failure type, message)."""
    return {s.name: (s.status, s.failure_type, s.message) for s in result.flows[flow].steps}
