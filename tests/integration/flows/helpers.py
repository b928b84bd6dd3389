from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from controller.checks import Context
from controller.clients.services import ServiceClient
from controller.flows import (
    Redactor,
    RoutingPolicy,
    StepEnvironment,
    SuiteResult,
    plan_suite,
    run_suite,
)
from controller.models.snapshot import ConfigSnapshot
from tests.support.config import EXAMPLE


def example_files(path: str) -> Any:
    target = (EXAMPLE / path).resolve()
    if EXAMPLE.resolve() not in target.parents:
        raise LookupError(path)
    try:
        return json.loads(Path(target).read_text())
    except OSError as exc:
        raise LookupError(path) from exc


def run_roots(routing: RoutingPolicy, secrets: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "run": {"id": "run-7", "suite": "checkout-smoke"},
        "services": routing.scope(),
        "secrets": dict(secrets or {}),
        "context": None,
    }


async def run_example(
    snapshot: ConfigSnapshot,
    suite: str,
    routes: Mapping[str, str],
    *,
    secrets: Mapping[str, str] | None = None,
    workspace: str = "shop",
) -> SuiteResult:
    plan = plan_suite(snapshot, workspace, suite)
    routing = RoutingPolicy.of(routes)
    async with ServiceClient() as client:
        env = StepEnvironment(
            client=client,
            routing=routing,
            defaults=plan.spec.get("defaults", {}),
            checks=Context(load_schema=example_files),
            redactor=Redactor((secrets or {}).values()),
            max_body_bytes=plan.spec.get("report", {}).get("max_body_bytes", 4096),
        )
        return await run_suite(plan, roots=run_roots(routing, secrets), env=env)
