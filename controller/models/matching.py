"""Matching decisions: for one delivery, which rules were considered and why each did or did
not start a run (DESIGN.md §3, "Matcher"; shown by ``explain`` and the deliveries API).

A ``MatchReport`` is stored with its delivery, so "why did my trigger not fire?" is answered
from what was decided at the time, against the config revision used then, not re-evaluated
against whatever config is live when someone asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

Outcome = Literal["matched", "not_matched", "error"]


class Check(NamedTuple):
    """One predicate of a rule against one event value.

    ``expected`` is what the rule asks for (a glob, a list of event types, ``true``), and
    ``actual`` the value of the event it was compared with, both as shown to people. A
    named tuple rather than a dataclass: every delivery creates a few of them per rule.
    """

    predicate: str
    passed: bool
    expected: str
    actual: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "predicate": self.predicate,
            "passed": self.passed,
            "expected": self.expected,
            "actual": self.actual,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Check:
        return cls(data["predicate"], data["passed"], data["expected"], data["actual"])


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleDecision:
    """The verdict on one rule.

    - ``outcome``: ``matched`` (a run was queued), ``not_matched`` (``checks`` say which
      predicates failed), or ``error`` (every predicate passed but the run could not be
      planned, e.g. its context template needs a value the event lacks; ``reason`` says so).
    - ``checks``: every predicate, evaluated in the order ``enabled``, ``event_type``,
      ``repository``, ``branch_filter``, all of them even after one failed.
    - ``context``: the rendered environment context of a matched rule (``None`` if it has none).
    """

    rule: str
    suite: str
    outcome: Outcome
    reason: str
    checks: tuple[Check, ...]
    context: str | None = None

    @property
    def failed(self) -> tuple[str, ...]:
        """Names of the predicates that failed."""
        return tuple(check.predicate for check in self.checks if not check.passed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "suite": self.suite,
            "outcome": self.outcome,
            "reason": self.reason,
            "failed": list(self.failed),
            "checks": [check.to_dict() for check in self.checks],
            "context": self.context,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuleDecision:
        return cls(
            rule=data["rule"],
            suite=data["suite"],
            outcome=data["outcome"],
            reason=data["reason"],
            checks=tuple(Check.from_dict(c) for c in data["checks"]),
            context=data.get("context"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchReport:
    """Every decision taken for one event against one integration's rules.

    - ``summary``: one line for people ("2 of 4 rules matched", "ignored: tag push").
    - ``ignored_reason``: set when the event could not start runs at all (the normalizer's
      reason, or the integration's ``app_filter``); no rule is evaluated then.
    - ``filter_check``: the Argo CD integration's ``app_filter`` against the app name.
    - ``rules_total``: the integration's rules in the config revision.
    - ``decisions``: every rule whose ``repository`` matched, then, for an integration of
      at most a hundred rules, every other rule; ``unlisted`` counts the rules left out
      (their ``repository`` did not match). With thousands of rules, evaluating and storing
      thousands of "repository does not match" lines per delivery would cost more than it
      tells; ``explain --rule NAME`` evaluates any one rule in full.
    - ``closes_pull_request`` / ``closes_contexts``: a closed pull request tears down the
      environments serving it and those of the contexts its rules render for it.
    """

    config_revision: str
    workspace: str
    integration: str
    summary: str
    ignored_reason: str = ""
    filter_check: Check | None = None
    rules_total: int = 0
    decisions: tuple[RuleDecision, ...] = ()
    unlisted: int = 0
    closes_pull_request: str = ""
    closes_contexts: tuple[str, ...] = ()

    @property
    def matched(self) -> tuple[RuleDecision, ...]:
        return tuple(d for d in self.decisions if d.outcome == "matched")

    def to_dict(self) -> dict[str, Any]:
        return {
            "config_revision": self.config_revision,
            "workspace": self.workspace,
            "integration": self.integration,
            "summary": self.summary,
            "ignored_reason": self.ignored_reason,
            "filter_check": None if self.filter_check is None else self.filter_check.to_dict(),
            "rules_total": self.rules_total,
            "decisions": [decision.to_dict() for decision in self.decisions],
            "unlisted": self.unlisted,
            "closes_pull_request": self.closes_pull_request,
            "closes_contexts": list(self.closes_contexts),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MatchReport:
        check = data.get("filter_check")
        return cls(
            config_revision=data["config_revision"],
            workspace=data["workspace"],
            integration=data["integration"],
            summary=data["summary"],
            ignored_reason=data.get("ignored_reason", ""),
            filter_check=None if check is None else Check.from_dict(check),
            rules_total=data.get("rules_total", 0),
            decisions=tuple(RuleDecision.from_dict(d) for d in data.get("decisions", ())),
            unlisted=data.get("unlisted", 0),
            closes_pull_request=data.get("closes_pull_request", ""),
            closes_contexts=tuple(data.get("closes_contexts", ())),
        )
