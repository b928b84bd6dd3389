"""The matcher: evaluate an event against its integration's rules and plan the runs.

Pure and synchronous (no I/O, no awaits), so intake can match on the request path and write
the delivery, its decisions and its runs in one transaction: a delivery is never stored
without its decisions, nor its runs without it.

Indexes are built lazily, once per config snapshot and integration, and dropped when the
live snapshot changes; a snapshot is immutable, so an index can never go stale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controller.matcher.patterns import PatternIndex
from controller.matcher.rules import CompiledRule, ContextError, context_scope, value_matcher
from controller.models.documents import ConfigDocument
from controller.models.environments import pull_request_key
from controller.models.events import Event
from controller.models.matching import Check, MatchReport, RuleDecision
from controller.models.runs import RunRequest
from controller.models.snapshot import ConfigSnapshot
from controller.models.statuses import StatusTarget, integration_host, status_target_for

# An integration with more rules than this lists only the rules whose repository matched.
LISTED_MISSES = 100


@dataclass(frozen=True, slots=True)
class Match:
    report: MatchReport
    runs: tuple[RunRequest, ...]


@dataclass(frozen=True, slots=True)
class _IntegrationRules:
    rules: tuple[CompiledRule, ...]
    by_name: dict[str, CompiledRule]
    by_repository: PatternIndex[CompiledRule]
    app_filter: str
    gitea_by_host: dict[str, str]
    """Host → name of the workspace's Gitea integrations: where Argo CD verdicts go."""


class Matcher:
    def __init__(self) -> None:
        self._snapshot: ConfigSnapshot | None = None
        self._indexes: dict[tuple[str, str], _IntegrationRules] = {}

    def match(
        self,
        event: Event,
        *,
        snapshot: ConfigSnapshot,
        integration: ConfigDocument,
        only_rule: str | None = None,
        listed_misses: int | None = LISTED_MISSES,
    ) -> Match:
        """Decide every rule of ``integration`` for ``event`` and plan one run per match.

        ``only_rule`` evaluates that rule alone (``explain --rule``). Rules whose repository
        differs are listed too when the integration has at most ``listed_misses`` rules
        (``None``: always); otherwise the report only counts them.
        """
        indexed = self._rules(snapshot, integration)
        base: dict[str, Any] = {
            "config_revision": snapshot.revision,
            "workspace": integration.workspace,
            "integration": integration.name,
            "rules_total": len(indexed.rules),
        }
        if not event.trigger:
            reason = event.ignored_reason
            if _closes_pull_request(event):
                return Match(_closing_report(indexed, event, reason, base), ())
            return Match(
                MatchReport(summary=f"ignored: {reason}", ignored_reason=reason, **base), ()
            )
        filter_check = _app_filter_check(indexed.app_filter, event)
        if filter_check is not None and not filter_check.passed:
            reason = f"app {event.repository!r} is outside the integration's app_filter"
            report = MatchReport(
                summary=f"ignored: {reason}",
                ignored_reason=reason,
                filter_check=filter_check,
                **base,
            )
            return Match(report, ())

        candidates = indexed.by_repository.find(event.repository)
        if only_rule is not None:
            candidates = [rule for rule in candidates if rule.name == only_rule]
        listed = self._misses(indexed, candidates, only_rule, listed_misses)
        needs_scope = any(rule.context_template is not None for rule in candidates)
        scope = context_scope(event) if needs_scope else {}
        decided = [(rule, _decide(rule, event, scope, matches=True)) for rule in candidates]
        decided.extend((rule, _decide(rule, event, scope, matches=False)) for rule in listed)
        decisions = [decision for _, decision in decided]
        unlisted = 0 if only_rule is not None else len(indexed.rules) - len(decided)
        matched = [(rule, d) for rule, d in decided if d.outcome == "matched"]
        target = (
            status_target_for(
                event,
                workspace=integration.workspace,
                integration=integration.name,
                gitea_by_host=indexed.gitea_by_host,
            )
            if matched
            else None
        )
        runs = tuple(
            _plan(rule, decision, event, snapshot, integration, target)
            for rule, decision in matched
        )
        report = MatchReport(
            summary=_summary(decisions, len(indexed.rules)),
            filter_check=filter_check,
            decisions=tuple(decisions),
            unlisted=unlisted,
            **base,
        )
        return Match(report, runs)

    @staticmethod
    def _misses(
        indexed: _IntegrationRules,
        candidates: list[CompiledRule],
        only_rule: str | None,
        listed_misses: int | None,
    ) -> list[CompiledRule]:
        """The rules to list although their repository differs: all of them for a small
        integration (or when asked), none for a large one, where walking them would make
        every delivery pay for the size of the config."""
        if only_rule is not None:
            found = indexed.by_name.get(only_rule)
            return [found] if found is not None and found not in candidates else []
        if listed_misses is not None and len(indexed.rules) > listed_misses:
            return []
        chosen = {rule.name for rule in candidates}
        return [rule for rule in indexed.rules if rule.name not in chosen]

    def prepare(self, snapshot: ConfigSnapshot) -> None:
        """Build the index of every integration now, so that the first delivery after a
        config change does not pay for it (about half a second for 10,000 rules)."""
        for workspace in snapshot.workspaces():
            for integration in snapshot.of_kind(workspace, "Integration"):
                self._rules(snapshot, integration)

    def _rules(self, snapshot: ConfigSnapshot, integration: ConfigDocument) -> _IntegrationRules:
        if snapshot is not self._snapshot:
            self._snapshot = snapshot
            self._indexes = {}
        key = (integration.workspace, integration.name)
        found = self._indexes.get(key)
        if found is None:
            found = self._indexes[key] = _build(snapshot, integration)
        return found


def _build(snapshot: ConfigSnapshot, integration: ConfigDocument) -> _IntegrationRules:
    workspace = integration.workspace
    default_template = snapshot.default_template(workspace)
    rules = tuple(
        CompiledRule.from_document(doc, default_template=default_template)
        for doc in snapshot.of_kind(workspace, "TriggerRule")
        if doc.spec["integration"] == integration.name
    )
    app_filter = ""
    if integration.spec["provider"] == "argocd":
        app_filter = integration.spec.get("config", {}).get("app_filter", "")
    gitea_by_host: dict[str, str] = {}
    for gitea in snapshot.integrations("gitea", workspace=workspace):
        host = integration_host(gitea.spec)
        if host:
            gitea_by_host.setdefault(host, gitea.name)
    return _IntegrationRules(
        rules=rules,
        by_name={rule.name: rule for rule in rules},
        by_repository=PatternIndex((rule.repository, rule) for rule in rules),
        app_filter=app_filter,
        gitea_by_host=gitea_by_host,
    )


def _closes_pull_request(event: Event) -> bool:
    return (
        event.source == "gitea"
        and event.type == "pull_request"
        and event.action == "closed"
        and event.pr_number is not None
    )


def _closing_report(
    indexed: _IntegrationRules, event: Event, reason: str, base: dict[str, Any]
) -> MatchReport:
    """A closed pull request starts no run; it closes the environments serving it and
    those of the contexts that the integration's pull request rules render for it (a rule
    since disabled included: its environment is still there)."""
    assert event.pr_number is not None
    scope = context_scope(event)
    contexts: list[str] = []
    for rule in indexed.by_repository.find(event.repository):
        if "pull_request" not in rule.event_types or not rule.branch_matches(event.branch):
            continue
        try:
            context = rule.render_context(scope)
        except ContextError:
            continue
        if context is not None and context not in contexts:
            contexts.append(context)
    closes = pull_request_key(event.repository, event.pr_number)
    summary = f"ignored: {reason}; closes the environments of {closes}"
    if contexts:
        summary += " and of context " + ", ".join(repr(c) for c in contexts)
    return MatchReport(
        summary=summary,
        ignored_reason=reason,
        closes_pull_request=closes,
        closes_contexts=tuple(contexts),
        **base,
    )


def _app_filter_check(app_filter: str, event: Event) -> Check | None:
    if event.source != "argocd" or not app_filter:
        return None
    return Check(
        "app_filter", value_matcher(app_filter)(event.repository), app_filter, event.repository
    )


def _decide(
    rule: CompiledRule, event: Event, scope: Mapping[str, Any], *, matches: bool
) -> RuleDecision:
    """``matches``: whether the rule's repository pattern matched (the index knows)."""
    checks = rule.checks(event, repository_matches=matches)
    failed = [check for check in checks if not check.passed]
    if failed:
        reason = "; ".join(_failure(check) for check in failed)
        return RuleDecision(
            rule=rule.name, suite=rule.suite, outcome="not_matched", reason=reason, checks=checks
        )
    try:
        context = rule.render_context(scope)
    except ContextError as exc:
        return RuleDecision(
            rule=rule.name, suite=rule.suite, outcome="error", reason=str(exc), checks=checks
        )
    reason = f"runs {rule.suite}" + (f" in context {context!r}" if context else "")
    return RuleDecision(
        rule=rule.name,
        suite=rule.suite,
        outcome="matched",
        reason=reason,
        checks=checks,
        context=context,
    )


def _failure(check: Check) -> str:
    if check.predicate == "enabled":
        return "rule is disabled"
    if check.predicate == "event_type":
        return f"event type {check.actual!r} is not one of: {check.expected}"
    return f"{check.predicate} {check.expected!r} does not match {check.actual!r}"


def _plan(
    rule: CompiledRule,
    decision: RuleDecision,
    event: Event,
    snapshot: ConfigSnapshot,
    integration: ConfigDocument,
    target: StatusTarget | str | None,
) -> RunRequest:
    return RunRequest(
        workspace=integration.workspace,
        suite=rule.suite,
        config_revision=snapshot.revision,
        trigger_type="argocd" if event.source == "argocd" else "webhook",
        rule=rule.name,
        integration=integration.name,
        trigger_ref=event.revision,
        repository=event.repository,
        branch=event.branch,
        pr_number=event.pr_number,
        context=decision.context,
        template=rule.template,
        status_context=rule.status_context,
        lane=_lane(event, decision.context),
        status_target=target if isinstance(target, StatusTarget) else None,
        status_problem=target if isinstance(target, str) else "",
    )


def _lane(event: Event, context: str | None) -> str:
    """What successive runs of one rule replace each other along (see ``RunRequest.lane``)."""
    if context is not None:
        return f"context:{context}"
    if event.source == "argocd":
        return f"app:{event.repository}"
    if event.type == "pull_request":
        return f"pr:{event.repository}#{event.pr_number}"
    return f"ref:{event.repository}:{event.ref or event.branch}"


def _summary(decisions: Sequence[RuleDecision], total: int) -> str:
    matched = sum(1 for d in decisions if d.outcome == "matched")
    errors = sum(1 for d in decisions if d.outcome == "error")
    text = f"{matched} of {total} rule{'s' if total != 1 else ''} matched"
    if errors:
        text += f"; {errors} could not be planned"
    return text
