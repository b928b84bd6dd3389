"""No two enabled rules may post the same commit-status context on the same commit.

Gitea keeps the latest status per (commit, context): two rules sharing a context on one
commit would overwrite each other's verdict, and a green one could hide a red one. Whether
two rules *can* see the same commit is decided conservatively: rules of different providers
always can (an Argo CD sync revision is a commit that Gitea push/pull_request events also
carry); rules of one provider can when their repository and branch globs overlap. Rules whose
integration does not resolve are skipped here: that is reported as a dangling reference.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from controller.configsync.globs import globs_overlap
from controller.configsync.reference_checks import Index
from controller.models.documents import ConfigDocument
from controller.models.problems import Problem
from controller.models.statuses import CONFIG_CONTEXT
from controller.models.trigger_rules import branch_filter_of, enabled_of, status_context_of


def effective_status_context(rule: ConfigDocument) -> str:
    return status_context_of(rule.spec)


def check_status_contexts(index: Index) -> Iterator[Problem]:
    by_context: dict[str, list[tuple[ConfigDocument, str]]] = defaultdict(list)
    for (workspace, kind), by_name in index.items():
        if kind != "TriggerRule":
            continue
        for rule in by_name.values():
            if effective_status_context(rule) == CONFIG_CONTEXT:
                yield _reserved(rule)
            if not enabled_of(rule.spec):
                continue
            integration = index.get((workspace, "Integration"), {}).get(rule.spec["integration"])
            if integration is None:
                continue
            by_context[effective_status_context(rule)].append((rule, integration.spec["provider"]))
    for context, rules in by_context.items():
        for later_index, (later, later_provider) in enumerate(rules):
            for earlier, earlier_provider in rules[:later_index]:
                if _may_share_a_commit(earlier.spec, earlier_provider, later.spec, later_provider):
                    yield _collision(context, earlier, later)
                    break


def _may_share_a_commit(first: Any, first_provider: str, second: Any, second_provider: str) -> bool:
    if first_provider != second_provider:
        return True
    return globs_overlap(first["repository"], second["repository"]) and globs_overlap(
        branch_filter_of(first), branch_filter_of(second)
    )


def _reserved(rule: ConfigDocument) -> Problem:
    parts: tuple[str, ...] = ("status_context",) if "status_context" in rule.spec else ("suite",)
    return rule.problem(
        parts,
        f"status context {CONFIG_CONTEXT!r} is meshgate's own (the config repo's verdict); "
        "choose another",
        "rule.status-context-reserved",
    )


def _collision(context: str, earlier: ConfigDocument, later: ConfigDocument) -> Problem:
    parts: tuple[str, ...] = ("status_context",) if "status_context" in later.spec else ("suite",)
    line, column = earlier.origin.locator.locate(("metadata", "name"))
    return later.problem(
        parts,
        f"status context {context!r} is also posted by TriggerRule {earlier.name!r} "
        f"({earlier.origin.path}:{line}:{column}) on commits both rules can match; give one "
        "of them a distinct status_context",
        "rule.status-context-collision",
    )
