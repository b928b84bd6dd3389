"""The text form of an explanation, for ``meshgate explain`` (its JSON form is the API's).

Works on the JSON-ready dict (``Explanation.to_dict()``), so the CLI prints a local
explanation and one fetched from a running server the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MARKS = {"matched": "+", "not_matched": "-", "error": "!"}


def format_explanation(data: Mapping[str, Any]) -> str:
    event = data["event"]
    lines = [f"{_describe(event)} (config revision {data['config_revision']})"]
    for verdict in data["integrations"]:
        lines.append(f"{verdict['integration']}: {verdict['summary']}")
        check = verdict.get("filter_check")
        if check is not None and not check["passed"]:
            lines.append(f"  app_filter {check['expected']!r} does not match {check['actual']!r}")
        for decision in verdict["decisions"]:
            mark = MARKS.get(decision["outcome"], "?")
            lines.append(f"  {mark} {decision['rule']} ({decision['suite']}): {decision['reason']}")
        if verdict.get("unlisted"):
            lines.append(f"  ... and {verdict['unlisted']} more rules whose repository differs")
    return "\n".join(lines) + "\n"


def _describe(event: Mapping[str, Any]) -> str:
    parts = [event["source"], event["type"]]
    if event.get("action"):
        parts.append(f"({event['action']})")
    where = event.get("repository") or "?"
    if event.get("branch"):
        where += f"@{event['branch']}"
    if event.get("pr_number"):
        where += f" #{event['pr_number']}"
    parts.append(where)
    if event.get("revision"):
        parts.append(event["revision"][:12])
    text = " ".join(parts)
    if not event.get("trigger", True):
        text += f" — ignored: {event.get('ignored_reason')}"
    return text
