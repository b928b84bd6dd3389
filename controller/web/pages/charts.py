"""The suite page's chart: one bar per run, oldest on the left, its height the run's
duration and its colour the outcome; drawn as SVG on the server, no chart library. Only
numbers, fixed class names and links leave here; the template escapes them anyway."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from controller.models.runs import Run

WIDTH = 720
HEIGHT = 120
GAP = 2
MIN_BAR = 3
MAX_SLOT = 16


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    state: str
    href: str
    title: str


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    longest_ms: float
    passed: int
    failed: int


def duration_ms(run: Run) -> float | None:
    if run.started_at is None or run.finished_at is None:
        return None
    return max((run.finished_at - run.started_at).total_seconds() * 1000, 0.0)


def suite_chart(runs: Sequence[Run]) -> Chart:
    """``runs`` newest first (as listed); the chart shows them oldest first."""
    ordered = list(reversed(runs))
    durations = [duration_ms(run) for run in ordered]
    longest = max((d for d in durations if d is not None), default=0.0)
    slot = min(WIDTH / max(len(ordered), 1), MAX_SLOT)
    bars = []
    for index, (run, took) in enumerate(zip(ordered, durations, strict=True)):
        share = (took or 0.0) / longest if longest else 0.0
        height = max(HEIGHT * share, MIN_BAR)
        shown = "not finished" if took is None else f"{took / 1000:.1f} s"
        bars.append(
            Bar(
                x=round(index * slot, 2),
                y=round(HEIGHT - height, 2),
                width=round(max(slot - GAP, 1.0), 2),
                height=round(height, 2),
                state=run.state,
                href=f"/runs/{run.id}",
                title=f"run #{run.id}: {run.state}, {shown}",
            )
        )
    return Chart(
        width=max(round(slot * len(ordered)), MAX_SLOT),
        height=HEIGHT,
        bars=tuple(bars),
        longest_ms=longest,
        passed=sum(1 for run in runs if run.state == "passed"),
        failed=sum(1 for run in runs if run.state in ("failed", "error")),
    )
