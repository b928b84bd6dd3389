from __future__ import annotations

from typing import Any

import pytest

from controller.checks.values import (
    ABSENT,
    has_type,
    is_deep_subset,
    preview,
    show,
    strict_equal,
)


@pytest.mark.parametrize(
    ("actual", "expected", "equal"),
    [
        (1, 1.0, True),
        (True, 1, False),
        (1, True, False),
        (False, 0, False),
        ("1", 1, False),
        (None, None, True),
        (None, False, False),
        ({"a": [1, {"b": True}]}, {"a": [1.0, {"b": True}]}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ([1, 2], [2, 1], False),
        ([1, 2], (1, 2), True),
        ("PAID", "PAID", True),
    ],
)
def test_strict_equal_is_typed_and_deep(actual: Any, expected: Any, equal: bool) -> None:
    assert strict_equal(actual, expected) is equal


def test_deep_subset_matches_objects_and_lists_by_content() -> None:
    actual = {"id": 7, "lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}], "x": None}
    assert is_deep_subset({"lines": [{"sku": "B"}]}, actual)
    assert is_deep_subset({}, actual)
    assert not is_deep_subset({"lines": [{"sku": "C"}]}, actual)
    assert not is_deep_subset({"id": True}, {"id": 1})


def test_has_type_keeps_booleans_apart_from_numbers() -> None:
    assert has_type(3, "integer")
    assert has_type(3.0, "integer")
    assert not has_type(3.5, "integer")
    assert not has_type(True, "number")
    assert not has_type(True, "integer")
    assert has_type(None, "null")
    assert has_type([], "array")
    assert has_type({}, "object")


def test_show_and_preview_cut_large_values() -> None:
    assert show(ABSENT) == "nothing"
    assert show({"a": "é"}) == '{"a":"é"}'
    big = {"items": list(range(1000))}
    assert len(show(big)) == 200
    assert show(big).endswith("…")
    assert preview(big).endswith("…")
    assert len(preview(big)) == 200
    assert preview({"a": 1}) == {"a": 1}
    assert preview(ABSENT) is None
