from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.matcher.patterns import PatternIndex, literal_prefix, literal_suffix

ALPHABET = "ab/-*?[]!"


@pytest.mark.parametrize(
    ("pattern", "prefix", "suffix"),
    [
        ("shop/app", "shop/app", "shop/app"),
        ("shop/*-service", "shop/", "-service"),
        ("*-service", "", "-service"),
        ("user-service-pr-*", "user-service-pr-", ""),
        ("*/svc-[ab]", "", ""),
        ("org-?1/*", "org-", ""),
        ("*[!x]yz", "", "yz"),
    ],
)
def test_literal_prefix_and_suffix(pattern: str, prefix: str, suffix: str) -> None:
    assert (literal_prefix(pattern), literal_suffix(pattern)) == (prefix, suffix)


def test_pattern_index_finds_exact_prefix_suffix_and_open_globs_in_order() -> None:
    index = PatternIndex(
        [
            ("shop/*-service", "a"),
            ("shop/user-service", "b"),
            ("*", "c"),
            ("*/user-service", "d"),
            ("other/*", "e"),
            ("shop/user-service", "f"),
            ("*[!x]", "g"),
        ]
    )
    assert index.find("shop/user-service") == ["a", "b", "c", "d", "f", "g"]
    assert index.find("other/x") == ["c", "e"]
    assert index.find("") == ["c"]


def test_pattern_index_is_case_sensitive() -> None:
    index = PatternIndex([("Shop/*", 1), ("shop/app", 2)])
    assert index.find("shop/App") == []
    assert index.find("Shop/app") == [1]


@settings(max_examples=300, deadline=None)
@given(
    patterns=st.lists(st.text(alphabet=ALPHABET, max_size=6), max_size=12),
    values=st.lists(st.text(alphabet="ab/-[]!", max_size=6), min_size=1, max_size=8),
)
def test_pattern_index_agrees_with_trying_every_pattern(
    patterns: list[str], values: list[str]
) -> None:
    index = PatternIndex((pattern, order) for order, pattern in enumerate(patterns))
    for value in values:
        expected = [i for i, p in enumerate(patterns) if fnmatch.fnmatchcase(value, p)]
        assert index.find(value) == expected
