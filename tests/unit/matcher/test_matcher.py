from __future__ import annotations

import dataclasses

from controller.matcher.service import LISTED_MISSES, Matcher
from controller.models.documents import ConfigDocument
from controller.models.events import Event
from controller.models.matching import Check
from controller.models.snapshot import ConfigSnapshot
from tests.support.config import example_snapshot, snapshot_of

SHA = "3b1f0e2c9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c"
PUSH = Event(
    source="gitea",
    type="push",
    trigger=True,
    repository="shop/user-service",
    ref="refs/heads/main",
    branch="main",
    revision=SHA,
)
PULL = Event(
    source="gitea",
    type="pull_request",
    trigger=True,
    action="opened",
    repository="shop/order-service",
    branch="main",
    head_branch="feature/x",
    revision=SHA,
    pr_number=42,
)
SYNC = Event(
    source="argocd",
    type="sync",
    trigger=True,
    repository="user-service-pr-123",
    revision=SHA,
    pr_number=123,
    app_health="Healthy",
    app_sync_status="Synced",
)


def integration(snapshot: ConfigSnapshot, name: str) -> ConfigDocument:
    return snapshot.require("shop", "Integration", name)


def test_matcher_push_to_main_queues_the_push_rule_and_explains_the_other() -> None:
    snapshot = example_snapshot()
    match = Matcher().match(PUSH, snapshot=snapshot, integration=integration(snapshot, "gitea"))

    (run,) = match.runs
    assert (run.rule, run.suite, run.trigger_type) == (
        "user-service-push",
        "user-service-contract",
        "webhook",
    )
    assert (run.trigger_ref, run.repository, run.branch) == (SHA, "shop/user-service", "main")
    assert run.status_context == "meshgate/user-service-push"
    assert run.template == "staging"  # the workspace's default template
    assert run.context is None
    assert run.lane == "ref:shop/user-service:refs/heads/main"
    assert run.config_revision == "example"
    report = match.report
    assert report.summary == "1 of 2 rules matched"
    assert [(d.rule, d.outcome) for d in report.decisions] == [
        ("service-pull-requests", "not_matched"),
        ("user-service-push", "matched"),
    ]
    missed = report.decisions[0]
    assert missed.failed == ("event_type",)
    assert missed.reason == "event type 'push' is not one of: pull_request"
    assert missed.checks[2] == Check("repository", True, "shop/*-service", "shop/user-service")


def test_matcher_reports_the_values_of_every_failed_predicate() -> None:
    snapshot = example_snapshot()
    event = dataclasses.replace(PUSH, repository="shop/frontend", branch="dev")
    match = Matcher().match(event, snapshot=snapshot, integration=integration(snapshot, "gitea"))

    assert match.runs == ()
    push_rule = next(d for d in match.report.decisions if d.rule == "user-service-push")
    assert push_rule.failed == ("repository", "branch_filter")
    assert push_rule.reason == (
        "repository 'shop/user-service' does not match 'shop/frontend'; "
        "branch_filter 'main' does not match 'dev'"
    )


def test_matcher_pull_request_runs_in_the_named_template_in_the_pr_lane() -> None:
    snapshot = example_snapshot()
    match = Matcher().match(PULL, snapshot=snapshot, integration=integration(snapshot, "gitea"))

    (run,) = match.runs
    assert (run.rule, run.template, run.pr_number) == ("service-pull-requests", "staging", 42)
    assert run.lane == "pr:shop/order-service#42"


def test_matcher_argocd_sync_renders_the_context_of_the_pr_preview_rule() -> None:
    snapshot = example_snapshot()
    match = Matcher().match(
        SYNC, snapshot=snapshot, integration=integration(snapshot, "argocd-staging")
    )

    (run,) = match.runs
    assert (run.rule, run.trigger_type, run.context) == (
        "user-service-pr-preview",
        "argocd",
        "pr-123",
    )
    assert (run.template, run.lane) == ("pr-preview", "context:pr-123")
    assert run.status_context == "meshgate/checkout-smoke"
    staging = next(d for d in match.report.decisions if d.rule == "staging-sync")
    assert staging.failed == ("repository",)


def test_matcher_context_that_cannot_render_is_an_error_decision_without_a_run() -> None:
    snapshot = example_snapshot()
    event = dataclasses.replace(SYNC, pr_number=None)
    match = Matcher().match(
        event, snapshot=snapshot, integration=integration(snapshot, "argocd-staging")
    )

    assert match.runs == ()
    preview = next(d for d in match.report.decisions if d.rule == "user-service-pr-preview")
    assert preview.outcome == "error"
    assert "pr_number" in preview.reason
    assert "pr-null" not in preview.reason
    assert match.report.summary == "0 of 2 rules matched; 1 could not be planned"


def test_matcher_app_outside_the_app_filter_is_ignored_with_the_check() -> None:
    snapshot = example_snapshot()
    event = dataclasses.replace(SYNC, repository="frontend")
    match = Matcher().match(
        event, snapshot=snapshot, integration=integration(snapshot, "argocd-staging")
    )

    assert match.runs == ()
    report = match.report
    assert report.decisions == ()
    assert report.ignored_reason == "app 'frontend' is outside the integration's app_filter"
    assert report.filter_check == Check("app_filter", False, "*-service*", "frontend")


def test_matcher_ignored_event_evaluates_no_rule() -> None:
    snapshot = example_snapshot()
    event = Event(source="gitea", type="push", trigger=False, ignored_reason="tag push")
    match = Matcher().match(event, snapshot=snapshot, integration=integration(snapshot, "gitea"))

    assert (match.runs, match.report.decisions) == ((), ())
    assert match.report.summary == "ignored: tag push"
    assert match.report.rules_total == 2


RULES_HEADER = """\
apiVersion: meshgate.dev/v1alpha1
kind: Integration
metadata: {name: gitea, workspace: shop}
spec:
  provider: gitea
  config: {url: https://gitea.example}
  secrets: {token: {env: T}, webhook_secret: {env: S}}
"""


def rule(name: str, repository: str, *, enabled: bool = True, branch: str = "*") -> str:
    return f"""\
apiVersion: meshgate.dev/v1alpha1
kind: TriggerRule
metadata: {{name: {name}, workspace: shop}}
spec:
  integration: gitea
  repository: "{repository}"
  branch_filter: "{branch}"
  event_types: [push]
  suite: smoke
  status_context: ctx/{name}
  enabled: {str(enabled).lower()}
"""


def test_matcher_large_integration_lists_only_the_candidates() -> None:
    rules = [rule(f"r{n:03d}", f"org/svc-{n}") for n in range(120)]
    rules += [rule("glob", "org/*"), rule("disabled", "org/svc-7", enabled=False)]
    snapshot = snapshot_of("---\n".join([RULES_HEADER, *rules]))
    event = dataclasses.replace(PUSH, repository="org/svc-7")
    matcher = Matcher()
    match = matcher.match(event, snapshot=snapshot, integration=integration(snapshot, "gitea"))

    report = match.report
    assert report.rules_total == 122
    assert [d.rule for d in report.decisions[:3]] == ["disabled", "glob", "r007"]
    assert [d.outcome for d in report.decisions[:3]] == ["not_matched", "matched", "matched"]
    assert report.decisions[0].failed == ("enabled",)
    assert len(report.decisions) == 3
    assert report.unlisted == 122 - 3
    assert {run.rule for run in match.runs} == {"glob", "r007"}

    every = matcher.match(
        event,
        snapshot=snapshot,
        integration=integration(snapshot, "gitea"),
        listed_misses=None,
    )
    assert (len(every.report.decisions), every.report.unlisted) == (122, 0)
    only = matcher.match(
        event, snapshot=snapshot, integration=integration(snapshot, "gitea"), only_rule="r100"
    )
    assert [d.rule for d in only.report.decisions] == ["r100"]
    assert (only.runs, only.report.unlisted) == ((), 0)


def test_matcher_small_integration_lists_every_rule() -> None:
    rules = [rule(f"r{n:03d}", f"org/svc-{n}") for n in range(LISTED_MISSES)]
    snapshot = snapshot_of("---\n".join([RULES_HEADER, *rules]))
    event = dataclasses.replace(PUSH, repository="org/svc-7")
    match = Matcher().match(event, snapshot=snapshot, integration=integration(snapshot, "gitea"))

    assert match.report.decisions[0].rule == "r007"
    assert len(match.report.decisions) == LISTED_MISSES
    assert match.report.unlisted == 0
    assert match.report.decisions[1].failed == ("repository",)


def test_matcher_uses_the_rules_of_the_snapshot_it_is_given() -> None:
    matcher = Matcher()
    first = snapshot_of("---\n".join([RULES_HEADER, rule("a", "org/x")]), revision="1")
    second = snapshot_of("---\n".join([RULES_HEADER, rule("b", "org/x")]), revision="2")
    event = dataclasses.replace(PUSH, repository="org/x")
    for snapshot, expected in ((first, "a"), (second, "b"), (first, "a")):
        match = matcher.match(event, snapshot=snapshot, integration=integration(snapshot, "gitea"))
        assert [run.rule for run in match.runs] == [expected]
        assert match.report.config_revision == snapshot.revision


def pull_request_rule(name: str, context: str, *, events: str = "pull_request") -> str:
    return f"""\
apiVersion: meshgate.dev/v1alpha1
kind: TriggerRule
metadata: {{name: {name}, workspace: shop}}
spec:
  integration: gitea
  repository: "shop/*"
  event_types: [{events}]
  suite: smoke
  environment: {{context: "{context}"}}
  enabled: false
"""


def test_matcher_a_closed_pull_request_closes_its_environments_and_runs_nothing() -> None:
    snapshot = snapshot_of(
        "---\n".join(
            [
                RULES_HEADER,
                pull_request_rule("previews", "pr-${event.pr_number}"),
                pull_request_rule("pushes", "push-${event.pr_number}", events="push"),
                pull_request_rule("broken", "${event.no_such_field}"),
            ]
        )
    )
    closed = dataclasses.replace(
        PULL, trigger=False, action="closed", ignored_reason="pull request closed (merged)"
    )
    match = Matcher().match(closed, snapshot=snapshot, integration=integration(snapshot, "gitea"))
    assert match.runs == ()
    report = match.report
    assert report.closes_pull_request == "shop/order-service#42"
    assert report.closes_contexts == ("pr-42",), "pull request rules whose context renders"
    assert report.summary == (
        "ignored: pull request closed (merged); closes the environments of "
        "shop/order-service#42 and of context 'pr-42'"
    )
    assert type(report).from_dict(report.to_dict()) == report
    opened = Matcher().match(PULL, snapshot=snapshot, integration=integration(snapshot, "gitea"))
    assert (opened.report.closes_pull_request, opened.report.closes_contexts) == ("", ())
