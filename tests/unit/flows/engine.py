"""Running a suite written as YAML against an ``httpx.MockTransport`` handler."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from controller.checks import Context
from controller.clients.services import ServiceClient
from controller.flows import (
    Listeners,
    Redactor,
    RoutingPolicy,
    StepEnvironment,
    SuiteResult,
    plan_suite,
    run_suite,
)
from tests.support.config import snapshot_of

HEADER = "apiVersion: meshgate.dev/v1alpha1\n"
ROUTES = {"api": "http://api.test", "other": "http://other.test:8080"}

Handler = Callable[[httpx.Request], Any]


def suite_yaml(spec: str, *, name: str = "s") -> str:
    body = "\n".join("  " + line if line else line for line in spec.strip("\n").splitlines())
    return f"{HEADER}kind: Suite\nmetadata:\n  name: {name}\nspec:\n{body}\n"


async def run_yaml(
    text: str,
    handler: Handler,
    *,
    routes: Mapping[str, str] = ROUTES,
    secrets: Mapping[str, str] | None = None,
    suite: str = "s",
    listeners: Listeners | None = None,
) -> SuiteResult:
    snapshot = snapshot_of(text)
    plan = plan_suite(snapshot, "default", suite)
    routing = RoutingPolicy.of(routes)
    async with ServiceClient(transport=httpx.MockTransport(handler)) as client:
        env = StepEnvironment(
            client=client,
            routing=routing,
            defaults=plan.spec.get("defaults", {}),
            checks=Context(load_schema=lambda path: (_ for _ in ()).throw(LookupError(path))),
            redactor=Redactor((secrets or {}).values()),
            max_body_bytes=plan.spec.get("report", {}).get("max_body_bytes", 4096),
        )
        roots = {
            "run": {"id": "r1"},
            "services": routing.scope(),
            "secrets": dict(secrets or {}),
            "context": None,
        }
        return await run_suite(plan, roots=roots, env=env, listeners=listeners or Listeners())


def steps_of(result: SuiteResult, flow: int = 0) -> dict[str, tuple[str, str, str]]:
    """step name → (status, failure type, message)."""
    return {s.name: (s.status, s.failure_type, s.message) for s in result.flows[flow].steps}
