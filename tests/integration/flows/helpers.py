from __future__ import annotations

from collections.abc import Mapping

from controller.clients.services import ServiceClient
from controller.flows import RoutingPolicy, SuiteResult, plan_suite, run_suite
from controller.models.snapshot import ConfigSnapshot
from controller.runner.config_files import ConfigFiles
from controller.runner.preparation import step_environment, template_roots
from tests.support.config import EXAMPLE


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
    secrets = secrets or {}
    async with ServiceClient() as client:
        env = step_environment(
            plan,
            client=client,
            routing=routing,
            secrets=secrets,
            load_schema=ConfigFiles(EXAMPLE).load_json,
        )
        roots = template_roots(
            run={"id": "run-7", "suite": suite}, routing=routing, secrets=secrets, context=None
        )
        return await run_suite(plan, roots=roots, env=env)
