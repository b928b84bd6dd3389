from __future__ import annotations

import pytest

from controller.configsync.globs import globs_overlap


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("user-service-pr-*", "*-service*"),
        ("user-service-pr-*", "*-service"),
        ("shop/*", "shop/user-service"),
        ("*", "anything"),
        ("", "main"),
        ("a?c", "abc"),
        ("a*b*c", "*bc"),
        ("release/[0-9]*", "release/1.2"),
        ("main", "main"),
    ],
)
def test_globs_overlap_when_a_common_match_exists(first: str, second: str) -> None:
    assert globs_overlap(first, second)
    assert globs_overlap(second, first)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("main", "develop"),
        ("shop/user-service", "shop/order-service"),
        ("user-*", "order-*"),
        ("*-pr-?", "*-staging"),
        ("a?", "abc"),
        ("release/*", "hotfix/*"),
    ],
)
def test_globs_overlap_false_when_disjoint(first: str, second: str) -> None:
    assert not globs_overlap(first, second)
    assert not globs_overlap(second, first)
