from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.models.runs import Run, RunRequest
from controller.web.pages.charts import HEIGHT, MAX_SLOT, MIN_BAR, suite_chart

T0 = datetime(2026, 12, 1, tzinfo=UTC)
REQUEST = RunRequest(workspace="shop", suite="smoke", config_revision="r", trigger_type="manual")


def run(run_id: int, state: str, seconds: float | None) -> Run:
    finished = None if seconds is None else T0 + timedelta(seconds=seconds)
    return Run(
        id=run_id,
        request=REQUEST,
        delivery=None,
        state=state,  # type: ignore[arg-type]
        created_at=T0,
        updated_at=T0,
        started_at=T0,
        finished_at=finished,
    )


def test_suite_chart_draws_oldest_first_with_heights_by_duration() -> None:
    newest_first = [run(3, "running", None), run(2, "failed", 1.0), run(1, "passed", 4.0)]
    chart = suite_chart(newest_first)
    assert [bar.href for bar in chart.bars] == ["/runs/1", "/runs/2", "/runs/3"]
    assert [bar.state for bar in chart.bars] == ["passed", "failed", "running"]
    heights = [bar.height for bar in chart.bars]
    assert heights == [HEIGHT, HEIGHT / 4, MIN_BAR]
    assert all(bar.y + bar.height == HEIGHT for bar in chart.bars)
    assert (chart.passed, chart.failed, chart.longest_ms) == (1, 1, 4000.0)
    assert chart.width == 3 * MAX_SLOT
    assert chart.bars[2].title == "run #3: running, not finished"


def test_suite_chart_of_no_runs_is_empty() -> None:
    chart = suite_chart([])
    assert (chart.bars, chart.passed, chart.failed) == ((), 0, 0)
