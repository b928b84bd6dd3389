"""The pull-request comment of a config review, in Gitea Markdown.

One comment per pull request, found again by ``MARKER`` and edited in place on each push.
Values from the config repo (names, paths, messages) are shown as code, with backticks and
line breaks taken out, so a crafted name cannot turn into links or markup.
"""

from __future__ import annotations

from collections.abc import Sequence

from controller.configsync.diff import ConfigDiff
from controller.models.problems import Problem

MARKER = "<!-- meshgate:config-review -->"
MAX_PROBLEMS = 50
MAX_CHANGES = 100


def render_review(
    *,
    revision: str,
    problems: Sequence[Problem],
    document_count: int,
    diff: ConfigDiff,
    live_revision: str | None,
) -> str:
    short = revision[:8]
    running = f"`{live_revision[:8]}`" if live_revision else "nothing (no valid config yet)"
    lines = [MARKER, f"### meshgate config check of `{short}`", ""]
    if problems:
        count = len(problems)
        lines.append(
            f"❌ **Invalid**: {count} problem{'s' if count != 1 else ''}. If merged, meshgate "
            f"would not apply it and would keep serving {running}."
        )
    else:
        lines.append(
            f"✅ **Valid**: {document_count} documents. Once merged, meshgate applies it "
            f"(it now serves {running})."
        )
    if problems:
        lines += ["", f"#### Problems ({len(problems)})", ""]
        lines += [f"- {_code(str(problem))}" for problem in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            lines.append(f"- … and {len(problems) - MAX_PROBLEMS} more")
    lines += ["", f"#### What the change does, against {running}", ""]
    if diff.empty:
        lines.append("No document is added, removed or changed.")
    else:
        lines += ["| change | document | file | fields |", "| --- | --- | --- | --- |"]
        for change in diff.documents[:MAX_CHANGES]:
            key = change.key
            fields = ", ".join(change.fields) or "—"
            lines.append(
                f"| {change.change} | {_code(f'{key.kind} {key.workspace}/{key.name}')} | "
                f"{_code(change.path)} | {fields} |"
            )
        if len(diff.documents) > MAX_CHANGES:
            lines.append(f"| … | {len(diff.documents) - MAX_CHANGES} more | | |")
    if diff.rules:
        lines += ["", "#### Trigger rules that would match differently", ""]
        for rule in diff.rules:
            details = "; ".join(rule.details)
            lines.append(
                f"- {_code(f'{rule.workspace}/{rule.name}')} ({rule.change}): {_code(details)}"
            )
    lines += [
        "",
        "_Nothing from a pull request is applied; meshgate applies the branch once merged._",
    ]
    return "\n".join(lines) + "\n"


def _code(text: str) -> str:
    clean = " ".join(text.replace("`", "'").split())
    return f"`{clean}`"
