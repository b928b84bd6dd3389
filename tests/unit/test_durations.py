from __future__ import annotations

from datetime import timedelta

import pytest

from controller.models.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("250ms", timedelta(milliseconds=250)),
        ("30s", timedelta(seconds=30)),
        ("2m", timedelta(minutes=2)),
        ("1h", timedelta(hours=1)),
        ("1m30s", timedelta(seconds=90)),
        ("1.5s", timedelta(milliseconds=1500)),
        ("1d", timedelta(days=1)),
    ],
)
def test_parse_duration_accepts_units(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["30", "", "s", "10 s", "-5s", "5x", "1.s"])
def test_parse_duration_rejects_bare_numbers_and_junk(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    for text in ("250ms", "30s", "1m30s", "1h", "0s"):
        assert format_duration(parse_duration(text)) == text
