"""The flow engine: runs a suite's HTTP flows against the services of a routing policy.

``plan_suite`` resolves what to run from a config snapshot; ``run_suite`` runs it with a
``StepEnvironment`` (one ``ServiceClient`` per run, the routing policy, the suite defaults,
the redactor) and returns a ``SuiteResult``, the evidence of every step.
"""

from __future__ import annotations

from controller.flows.plan import FlowPlan, SuitePlan, plan_suite
from controller.flows.redaction import Redactor
from controller.flows.results import FlowResult, StepResult, SuiteResult
from controller.flows.routing import Route, RoutingError, RoutingPolicy
from controller.flows.steps import StepEnvironment
from controller.flows.suite_runner import Listeners, run_suite

__all__ = [
    "FlowPlan",
    "FlowResult",
    "Listeners",
    "Redactor",
    "Route",
    "RoutingError",
    "RoutingPolicy",
    "StepEnvironment",
    "StepResult",
    "SuitePlan",
    "SuiteResult",
    "plan_suite",
    "run_suite",
]
