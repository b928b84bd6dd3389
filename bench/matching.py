"""Trigger matching alone: ``Matcher.match`` against 10,000 rules, beside a naive loop.

Issue 3's target: at most 200 µs median per event with 10,000 rules (half globs). The rules
are ``bench/intake.py``'s (half exact repositories, half prefix, suffix and ``?`` globs, push
and pull_request, branch ``main`` or ``*``), loaded and validated like the server does. The
events are a fixed mix: a quarter on repositories that several rules match, a quarter on
exact-only repositories, a quarter matching a suffix glob only, a quarter matching nothing.

- ``indexed``: ``Matcher.match`` as intake calls it (index built beforehand, as after a
  config apply), decisions and planned runs included.
- ``naive``: the cheapest loop without an index: every rule tried in turn, short-circuiting
  on the first failed predicate (``fnmatch.fnmatchcase``), no decisions recorded.

Run: ``.venv/bin/python bench/matching.py [--rules 10000] [--events 2000]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from intake import rule_set, write_config  # bench/intake.py, beside this file

from controller.configsync.validation import ConfigValidator
from controller.loader import ConfigLoader
from controller.matcher.rules import CompiledRule
from controller.matcher.service import Matcher
from controller.models.events import Event
from controller.models.snapshot import ConfigSnapshot

TARGET_MEDIAN_US = 200.0


def events(count: int) -> list[Event]:
    repositories = [
        "org-42/svc-17-api",  # exact + prefix + suffix + ? globs
        "org-7/svc-2",  # exact and prefix globs
        "team-x/svc-3-api",  # suffix glob only
        "other/unknown",  # nothing
    ]
    base = Event(source="gitea", type="push", trigger=True, ref="refs/heads/main", branch="main")
    found = []
    for n in range(count):
        kind = "push" if n % 3 else "pull_request"
        found.append(
            dataclasses.replace(
                base,
                type=kind,
                repository=repositories[n % len(repositories)],
                branch="main" if n % 5 else "dev",
                revision=f"{n:040x}",
                pr_number=n + 1 if kind == "pull_request" else None,
            )
        )
    return found


def naive(rules: Sequence[CompiledRule], event: Event) -> list[CompiledRule]:
    """The cheapest loop without an index: short-circuits on the first failed predicate and
    keeps no decision for the rules that fail."""
    return [
        rule
        for rule in rules
        if rule.enabled
        and event.type in rule.event_types
        and fnmatch.fnmatchcase(event.repository, rule.repository)
        and fnmatch.fnmatchcase(event.branch, rule.branch_filter)
    ]


def timed(call: Callable[[Event], object], items: Sequence[Event]) -> list[float]:
    samples = []
    for event in items:
        started = time.perf_counter_ns()
        call(event)
        samples.append((time.perf_counter_ns() - started) / 1000)
    return samples


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=2_000)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "config"
        write_config(root, rule_set(args.rules))
        tree = ConfigLoader().load_tree(root)
    problems = [*tree.problems, *ConfigValidator().validate(tree.documents)]
    if problems:
        print(f"generated config is invalid: {problems[0]}", file=sys.stderr)
        return 2
    snapshot = ConfigSnapshot.build(
        revision="bench", loaded_at=datetime.now(UTC), documents=tree.documents
    )
    (integration,) = (
        doc for ws in snapshot.workspaces() for doc in snapshot.of_kind(ws, "Integration")
    )
    matcher = Matcher()
    started = time.perf_counter()
    matcher.prepare(snapshot)
    build_ms = (time.perf_counter() - started) * 1000
    rules = [
        CompiledRule.from_document(doc, default_template=None)
        for doc in snapshot.of_kind(integration.workspace, "TriggerRule")
    ]
    sample = events(args.events)

    def indexed(event: Event) -> object:
        return matcher.match(event, snapshot=snapshot, integration=integration)

    for event in sample[:50]:  # agree on what matches before timing anything
        by_index = {
            run.rule
            for run in matcher.match(event, snapshot=snapshot, integration=integration).runs
        }
        assert by_index == {rule.name for rule in naive(rules, event)}, event.repository
    fast = timed(indexed, sample)
    slow = timed(lambda event: naive(rules, event), sample[: max(50, args.events // 10)])
    fast_median, slow_median = statistics.median(fast), statistics.median(slow)
    fast_p99 = statistics.quantiles(fast, n=100)[98]
    ok = fast_median <= TARGET_MEDIAN_US
    print(
        f"### Matching ({datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, "
        f"Python {platform.python_version()})\n\n"
        f"{len(rules)} rules ({sum('*' in r.repository or '?' in r.repository for r in rules)} "
        f"globs), {len(sample)} events; index built in {build_ms:.0f} ms\n\n"
        "| matcher | median µs | p99 µs |\n| --- | --- | --- |\n"
        f"| indexed (`Matcher.match`) | {fast_median:.1f} | {fast_p99:.1f} |\n"
        f"| naive loop over every rule | {slow_median:.1f} | "
        f"{statistics.quantiles(slow, n=100)[98]:.1f} |\n\n"
        f"- {'PASS' if ok else 'FAIL'}: median {fast_median:.1f} µs "
        f"(target <= {TARGET_MEDIAN_US:.0f} µs), {slow_median / fast_median:.0f}x faster than "
        "the naive loop"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
