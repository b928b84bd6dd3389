"""One line about a finished run, for the run's message and (later) its commit status:
``12/12 flows passed in 43 s``, ``2 of 12 flows failed: place-order, user-validation[empty-name]``.

Gitea caps a status description at 255 characters; the line stays well below it.
"""

from __future__ import annotations

from controller.flows import SuiteResult

MAX_CHARS = 140
MAX_NAMED = 3


def summarize(result: SuiteResult) -> str:
    counts = result.counts()
    ran = len(result.flows) - counts["skipped"]
    took = f"in {result.duration_ms / 1000:.0f} s"
    if result.message:
        return _cut(result.message)
    if result.status == "passed":
        skipped = f" ({counts['skipped']} skipped)" if counts["skipped"] else ""
        return _cut(f"{counts['passed']}/{ran} flows passed {took}{skipped}")
    bad = [f.label for f in result.flows if f.status == result.status]
    named = ", ".join(bad[:MAX_NAMED]) + (
        f" and {len(bad) - MAX_NAMED} more" if len(bad) > MAX_NAMED else ""
    )
    verb = "failed" if result.status == "failed" else "could not finish"
    return _cut(f"{len(bad)} of {ran} flows {verb}: {named}")


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"
